// cradle.service in the VM lane's guest as its tests drive it: settings through drop-ins
// under /etc, as an administrator would give them (the fixture registry as an insecure
// registry, its pause image, the cgroup manager), and systemctl.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FixtureRegistry } from '../helpers/registry';
import type { PushedImage } from '../helpers/image-builder';

export function systemctl(...args: string[]): string {
  return execFileSync('systemctl', args, { encoding: 'utf8' }).trim();
}

/** "auto": no cgroup_manager setting, cradled's default. */
export type CgroupManagerSetting = 'cgroupfs' | 'systemd' | 'auto';

/** One test file's drop-ins: `<name>.toml` for cradled, `<name>.conf` for registries.conf. */
export class ServiceDropIns {
  readonly configFile: string;
  readonly registriesFile: string;

  constructor(name: string) {
    this.configFile = `/etc/cradle/cradle.conf.d/${name}.toml`;
    this.registriesFile = `/etc/containers/registries.conf.d/${name}.conf`;
  }

  /** Writes the settings; returns whether they differ from the files' content before. */
  write(registry: FixtureRegistry, pause: PushedImage, cgroupManager: CgroupManagerSetting): boolean {
    const runtime = cgroupManager === 'auto' ? '' : `[runtime]\ncgroup_manager = "${cgroupManager}"\n\n`;
    const files: [string, string][] = [
      [this.configFile, `${runtime}[image]\npause_image = "${pause.reference}"\n`],
      [this.registriesFile, `[[registry]]\nlocation = "${registry.host}"\ninsecure = true\n`],
    ];
    let changed = false;
    for (const [file, text] of files) {
      if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) continue;
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
      changed = true;
    }
    return changed;
  }

  /** Writes the settings and restarts cradle.service (Type=notify: it returns once cradled is ready). */
  restartWith(registry: FixtureRegistry, pause: PushedImage, cgroupManager: CgroupManagerSetting): void {
    this.write(registry, pause, cgroupManager);
    systemctl('restart', 'cradle.service');
  }

  remove(): void {
    fs.rmSync(this.configFile, { force: true });
    fs.rmSync(this.registriesFile, { force: true });
  }
}
