// A throwaway Debian 12 system for package tests: an overlay on the cached clean root
// that scripts/debian-root.sh builds (debootstrap minbase with the package's Depends),
// commands run in it by chroot. Each command gets /proc, /sys and the host's cgroup
// hierarchy in a mount namespace of its own, so they go away with it, whatever
// happens. dispose() unmounts the overlay and removes it; a run killed before that
// leaves a directory named after its pid, which the next run removes.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mountsUnder } from '../../src/sys/mountinfo';
import { REPO_ROOT } from './deb';
import { pidAlive } from './registry';

const PREFIX = 'cradle-debian-root-';
/** A cold build is a debootstrap from the archive; a cached one returns at once. */
const BUILD_TIMEOUT_MS = 30 * 60_000;

function mountInfo(): string {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8');
}

/** Unmounts everything below dir, deepest first, then removes it; refuses to remove through a mount. */
function unmountAndRemove(dir: string): void {
  for (const point of mountsUnder(mountInfo(), dir)) {
    if (spawnSync('umount', [point]).status !== 0) spawnSync('umount', ['-l', point]);
  }
  const left = mountsUnder(mountInfo(), dir);
  if (left.length > 0) throw new Error(`still mounted, not removing ${dir}: ${left.join(' ')}`);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Directories of earlier runs whose process is gone (killed before dispose). */
function removeLeftovers(): void {
  for (const name of fs.readdirSync(os.tmpdir())) {
    const pid = Number(/^cradle-debian-root-(\d+)-/.exec(name)?.[1]);
    if (pid && !pidAlive(pid)) unmountAndRemove(path.join(os.tmpdir(), name));
  }
}

export class DebianRoot {
  private constructor(
    /** Holds upper, work and the merged root. */
    readonly dir: string,
    /** The root the commands see. */
    readonly root: string,
    /** How long building the cached root took, when this run built it. */
    readonly buildSeconds: number | undefined,
  ) {}

  /** Builds (or waits for) the cached root and mounts a fresh overlay of it. */
  static create(): DebianRoot {
    removeLeftovers();
    const started = Date.now();
    const lower = execFileSync('sh', [path.join(REPO_ROOT, 'scripts/debian-root.sh')],
      { encoding: 'utf8', timeout: BUILD_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    const built = fs.readFileSync(path.join(path.dirname(lower), 'build-seconds'), 'utf8').trim();
    // Counted as this run's build only when it took about as long as the build did.
    const buildSeconds = (Date.now() - started) / 1000 >= Number(built) ? Number(built) : undefined;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}${process.pid}-`));
    const root = path.join(dir, 'merged');
    const self = new DebianRoot(dir, root, buildSeconds);
    try {
      for (const d of ['upper', 'work', 'merged']) fs.mkdirSync(path.join(dir, d));
      execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${dir}/upper,workdir=${dir}/work`, root]);
    } catch (err) {
      self.dispose();
      throw err;
    }
    return self;
  }

  /** Runs a command in the root as root, with a plain environment. */
  run(command: string, args: string[] = []): SpawnSyncReturns<string> {
    // Private propagation: the mounts made here never reach the host's namespace.
    const script = 'mount -t proc proc "$0/proc" && mount -t sysfs sysfs "$0/sys" && mount --rbind /sys/fs/cgroup "$0/sys/fs/cgroup" && exec chroot "$0" "$@"';
    return spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, this.root,
      '/usr/bin/env', '-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOME=/root', 'LANG=C.UTF-8', 'DEBIAN_FRONTEND=noninteractive', command, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  }

  /** Runs a command and returns its output; throws with its stderr when it fails. */
  ok(command: string, args: string[] = []): string {
    const r = this.run(command, args);
    if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** A path inside the root, as seen from the host. */
  path(p: string): string {
    return path.join(this.root, p);
  }

  dispose(): void {
    unmountAndRemove(this.dir);
  }
}
