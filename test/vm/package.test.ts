// The VM lane's package profile (scripts/vm-test.sh x86_64 package): runs inside the
// guest, where systemd is PID 1. The host built the package and a newer version of it
// into the run directory. The package is installed with dpkg (its postinst enables
// and starts cradle.service), a pod runs, the newer package is installed over the
// running cradled: the pod survives and cradled restarts cleanly; purge removes
// cradle's state, the default CNI network file and its bridge. Skipped elsewhere.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CriClient } from '../helpers/cri-client';
import { startFixtureRegistry, type FixtureRegistry } from '../helpers/registry';
import { busyboxImage, pauseImage, pushImage, type PushedImage } from '../helpers/image-builder';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';

const DEBS = '/mnt/cradle-run/debs';
const IN_GUEST = process.env.CRADLE_VM_GUEST === '1' && fs.existsSync(DEBS);
const SOCKET = 'unix:///run/cradle/cradle.sock';
const CONFIG_DROP_IN = '/etc/cradle/cradle.conf.d/50-vm-package.toml';
const REGISTRIES_DROP_IN = '/etc/containers/registries.conf.d/50-vm-package.conf';
const UNIT_DIR = '/etc/systemd/system';
/** Under software emulation a first pod (pause pull, CNI, conmon) can take minutes. */
const SLOW = { timeoutMs: 600_000 };

function run(command: string, ...args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${command} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return `${r.stdout}${r.stderr}`;
}

function systemctl(...args: string[]): string {
  return execFileSync('systemctl', args, { encoding: 'utf8' }).trim();
}

/** The two packages the host built, older first. */
function packages(): [string, string] {
  const debs = fs.readdirSync(DEBS).filter((f) => f.endsWith('.deb')).map((f) => path.join(DEBS, f));
  assert.equal(debs.length, 2, debs.join(' '));
  const [a, b] = debs as [string, string];
  const version = (deb: string) => run('dpkg-deb', '-f', deb, 'Version').trim();
  return spawnSync('dpkg', ['--compare-versions', version(a), 'lt', version(b)]).status === 0 ? [a, b] : [b, a];
}

describe('VM package: install, upgrade over a running cradled with a pod, purge', { skip: IN_GUEST ? false : 'runs inside the VM lane (scripts/vm-test.sh x86_64 package)' }, () => {
  let registry: FixtureRegistry;
  let pause: PushedImage;
  let busybox: PushedImage;
  let cri: CriClient | undefined;

  before(async () => {
    registry = await startFixtureRegistry();
    pause = await pushImage(registry, 'vm/pause:3.10', pauseImage());
    busybox = await pushImage(registry, 'vm/busybox:1', busyboxImage());
    // The unit from the package, not the checkout's (scripts/vm/guest.sh installs that
    // one for the other profiles); only the start timeout is raised for emulation.
    fs.rmSync(path.join(UNIT_DIR, 'cradle.service'), { force: true });
    fs.rmSync(path.join(UNIT_DIR, 'cradle.service.d'), { recursive: true, force: true });
    fs.mkdirSync(path.join(UNIT_DIR, 'cradle.service.d'));
    fs.writeFileSync(path.join(UNIT_DIR, 'cradle.service.d/10-vm-timeout.conf'), '[Service]\nTimeoutStartSec=600\n');
    systemctl('daemon-reload');
    fs.mkdirSync(path.dirname(CONFIG_DROP_IN), { recursive: true });
    fs.writeFileSync(CONFIG_DROP_IN, `[image]\npause_image = "${pause.reference}"\n`);
    fs.mkdirSync(path.dirname(REGISTRIES_DROP_IN), { recursive: true });
    fs.writeFileSync(REGISTRIES_DROP_IN, `[[registry]]\nlocation = "${registry.host}"\ninsecure = true\n`);
  });
  after(async () => {
    cri?.close();
    spawnSync('dpkg', ['--purge', 'cradle']);
    await registry?.stop();
  });

  it('dpkg -i starts cradle.service; after dpkg -i of a newer package the pod still runs and cradled was restarted cleanly; purge removes state, CNI file and bridge', async () => {
    const [older, newer] = packages();
    const newVersion = run('dpkg-deb', '-f', newer, 'Version').trim();
    run('dpkg', '-i', older);
    assert.equal(systemctl('is-enabled', 'cradle.service'), 'enabled');
    assert.equal(systemctl('is-active', 'cradle.service'), 'active');
    const firstPid = systemctl('show', '-P', 'MainPID', 'cradle.service');

    cri = new CriClient(SOCKET);
    await cri.image.PullImage({ image: { image: busybox.reference } }, SLOW);
    await cri.image.PullImage({ image: { image: pause.reference } }, SLOW);
    const logDirectory = fs.mkdtempSync('/tmp/cradle-vm-package-');
    const podConfig: PodSandboxConfig = {
      metadata: { name: 'upgrade', namespace: 'vm', uid: 'uid-upgrade', attempt: 0 }, hostname: 'upgrade', logDirectory,
    };
    const { podSandboxId } = await cri.runtime.RunPodSandbox({ config: podConfig }, SLOW);
    const { containerId } = await cri.runtime.CreateContainer({
      podSandboxId, sandboxConfig: podConfig,
      config: { metadata: { name: 'sleeper', attempt: 0 }, image: { image: busybox.reference }, command: ['sleep', '100000'], logPath: 'sleeper.log' },
    }, SLOW);
    await cri.runtime.StartContainer({ containerId }, SLOW);
    // The container's process by its start time (field 22 of /proc/1/stat in its pid namespace).
    const startTime = async (client: CriClient): Promise<string> =>
      Buffer.from((await client.runtime.ExecSync({ containerId, cmd: ['cut', '-d', ' ', '-f', '22', '/proc/1/stat'], timeout: '300' }, SLOW)).stdout!).toString().trim();
    const startedBefore = await startTime(cri);
    assert.match(startedBefore, /^\d+$/);
    assert.ok(fs.existsSync('/sys/class/net/cradle0'), 'the default network made its bridge');
    cri.close();
    cri = undefined;

    // Upgrade over the running daemon: its postinst restarts cradled.
    const upgrade = run('dpkg', '-i', newer);
    assert.doesNotMatch(upgrade, /ETXTBSY|Text file busy/);
    assert.equal(systemctl('is-active', 'cradle.service'), 'active');
    assert.notEqual(systemctl('show', '-P', 'MainPID', 'cradle.service'), firstPid, 'cradled was restarted');
    assert.equal(systemctl('show', '-P', 'NRestarts', 'cradle.service'), '0', 'no restart after a failure');
    const journal = run('journalctl', '-u', 'cradle.service', '-b', '--no-pager');
    assert.doesNotMatch(journal, /ETXTBSY|Text file busy/);
    assert.equal((JSON.parse(run('cradled', 'version', '--json')) as { version: string }).version, newVersion);

    cri = new CriClient(SOCKET);
    assert.equal((await cri.runtime.Version({ version: 'v1' }, SLOW)).runtimeVersion, newVersion, 'the new cradled serves');
    assert.equal((await cri.runtime.PodSandboxStatus({ podSandboxId }, SLOW)).status?.state, 'SANDBOX_READY');
    assert.equal((await cri.runtime.ContainerStatus({ containerId }, SLOW)).status?.state, 'CONTAINER_RUNNING');
    assert.equal(await startTime(cri), startedBefore, 'the same container process, not a new one');
    await cri.runtime.StopPodSandbox({ podSandboxId }, SLOW);
    await cri.runtime.RemovePodSandbox({ podSandboxId }, SLOW);
    cri.close();
    cri = undefined;

    // An operator's own drop-in is not the package's: dpkg leaves it (and so /etc/cradle).
    fs.rmSync(CONFIG_DROP_IN);
    run('dpkg', '--purge', 'cradle');
    assert.notEqual(spawnSync('systemctl', ['is-active', 'cradle.service'], { encoding: 'utf8' }).stdout.trim(), 'active');
    for (const gone of ['/var/lib/cradle', '/run/cradle', '/etc/cradle', '/etc/cni/net.d/11-cradle-bridge.conflist', '/usr/lib/cradle', '/sys/class/net/cradle0']) {
      assert.ok(!fs.existsSync(gone), `${gone} removed by purge`);
    }
    fs.rmSync(logDirectory, { recursive: true, force: true });
  });
});
