// Recovery from what a node goes through, by timing and real processes (no hooks):
// - cradled killed while a CNI plugin is half-way through ADD (an IP allocated, no
//   reply yet): the restart releases it, and the kubelet's retry of the same
//   RunPodSandbox gets a working pod;
// - a host reboot as cradled sees it at its next start: every process and mount
//   gone, the volatile state (run_root, tmpfs under /run) empty, the persistent
//   state (root) kept. Pods are then NOTREADY, containers EXITED, images still
//   there; the kubelet's clean-up works and leaves nothing, and new pods run.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import { PodFixture } from '../../helpers/pod-fixture';
import { killLeftovers, mountPointsUnder } from '../../helpers/daemon';
import { countResources, removeCgroupParent } from './resources';

const f = new PodFixture('cradle-trb0', '10.221.0.0/24');

/** What a reboot does to cradle's state, done to a killed cradled's dirs. */
function simulateReboot(): void {
  killLeftovers(f.dirs);
  // Processes take a moment to die; their mounts (netns pins, shm, overlays) go after them.
  for (let i = 0; i < 50 && fs.readdirSync('/proc').some((p) => /^\d+$/.test(p) && cmdlineHas(p, f.dirs.dir)); i++) execFileSync('sleep', ['0.1']);
  for (const m of mountPointsUnder(f.dirs.dir).sort((a, b) => b.length - a.length)) {
    try { execFileSync('umount', ['-l', m], { stdio: 'ignore' }); } catch { /* gone already */ }
  }
  fs.rmSync(f.dirs.runRoot, { recursive: true, force: true });
  removeCgroupParent(f.cgroupParent);
}

function killProcessesNaming(needle: string): void {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && cmdlineHas(p, needle))) {
    try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
  }
}

function cmdlineHas(pid: string, needle: string): boolean {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle); } catch { return false; }
}

/** A CNI plugin chained after bridge that holds its ADD while `marker` exists, logging each call. */
function writeHoldPlugin(dir: string): { marker: string; log: string } {
  const marker = path.join(dir, 'hold');
  const log = path.join(dir, 'calls.log');
  fs.writeFileSync(path.join(dir, 'cradle-test-hold'), `#!${process.execPath}
const fs = require('fs');
const cmd = process.env.CNI_COMMAND;
const note = (what) => fs.appendFileSync(${JSON.stringify(log)}, cmd + ' ' + what + '\\n');
if (cmd === 'VERSION') { process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', supportedVersions: ['0.4.0', '1.0.0'] })); process.exit(0); }
const conf = JSON.parse(fs.readFileSync(0, 'utf8'));
if (cmd === 'ADD') {
  note('start');
  if (fs.existsSync(${JSON.stringify(marker)})) { note('holding'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20000); }
  process.stdout.write(JSON.stringify({ ...conf.prevResult, cniVersion: conf.cniVersion }));
} else note('ok');
`, { mode: 0o755 });
  return { marker, log };
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('crash recovery', () => {
  let pluginDir: string;
  before(async () => {
    pluginDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-cni-hold-'));
    await f.start();
  });
  after(async () => {
    await f.stop();
    fs.rmSync(pluginDir, { recursive: true, force: true });
  });

  it('cradled killed during CNI ADD: the restart releases the address; the retried RunPodSandbox works', async () => {
    const { marker, log } = writeHoldPlugin(pluginDir);
    fs.writeFileSync(path.join(f.dirs.configDir, '50-hold-plugin.toml'), `[network]\ncni_plugin_dirs = ["/usr/lib/cni", ${JSON.stringify(pluginDir)}]\n`);
    fs.writeFileSync(path.join(f.dirs.cniDir, '05-hold.conflist'), JSON.stringify({
      cniVersion: '1.0.0', name: 'hold-net',
      plugins: [
        { type: 'bridge', bridge: f.net.bridge, isGateway: false, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: f.net.subnet }]], dataDir: f.net.ipamDir } },
        { type: 'cradle-test-hold' },
      ],
    }));
    await f.restart();
    // The hold network is the default now (05- sorts first): a first pod goes through it.
    const probe = await f.runPod('probe');
    assert.match(fs.readFileSync(log, 'utf8'), /^ADD start$/m);
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: probe.id });
    const baseline = countResources(f, f.cgroupParent);
    assert.equal(baseline.ipsAllocated, 0);

    fs.writeFileSync(marker, '');
    const config = f.podConfig('interrupted');
    const pending = f.cri.runtime.RunPodSandbox({ config }).then(() => 'answered', () => 'failed');
    await until('the plugin to hold its ADD', () => /^ADD holding$/m.test(fs.readFileSync(log, 'utf8')));
    assert.equal(countResources(f, f.cgroupParent).ipsAllocated, 1, 'bridge allocated the address before the hold');
    f.daemon.proc.kill('SIGKILL');
    await f.daemon.waitExit();
    assert.equal(await pending, 'failed');
    fs.rmSync(marker);
    killProcessesNaming(pluginDir); // the held plugin, orphaned
    await f.restart();

    await until('the interrupted attachment to be released', () => countResources(f, f.cgroupParent).ipsAllocated === 0);
    const afterRestart = countResources(f, f.cgroupParent);
    for (const key of ['mounts', 'pinnedNamespaces', 'cgroups', 'conmons', 'podProcesses'] as const) {
      assert.equal(afterRestart[key], baseline[key], `${key}: ${baseline[key]} before the crash, ${afterRestart[key]} after the restart`);
    }
    const { podSandboxId } = await f.cri.runtime.RunPodSandbox({ config });
    const status = (await f.cri.runtime.PodSandboxStatus({ podSandboxId })).status!;
    assert.equal(status.state, 'SANDBOX_READY');
    assert.match(status.network?.ip ?? '', /^10\.221\.0\./);
    await f.cri.runtime.RemovePodSandbox({ podSandboxId });
    assert.equal(countResources(f, f.cgroupParent).ipsAllocated, 0);
    fs.rmSync(path.join(f.dirs.cniDir, '05-hold.conflist'));
  });

  it('host reboot: pods come back NOTREADY and containers EXITED; images are kept; clean-up leaves nothing; new pods run', async () => {
    const pod = await f.runPod('before-reboot');
    const ctr = await f.runContainer(pod, f.containerConfig('long', ['sleep', '1000']));
    await f.waitForState(ctr, 'CONTAINER_RUNNING');

    f.daemon.proc.kill('SIGKILL');
    await f.daemon.waitExit();
    simulateReboot();
    await f.restart();

    assert.equal((await f.cri.runtime.PodSandboxStatus({ podSandboxId: pod.id })).status!.state, 'SANDBOX_NOTREADY');
    const s = (await f.cri.runtime.ContainerStatus({ containerId: ctr })).status!;
    assert.equal(s.state, 'CONTAINER_EXITED');
    assert.notEqual(s.exitCode, 0);
    assert.ok((await f.cri.image.ImageStatus({ image: { image: f.busybox.reference } })).image, 'pulled images survive a reboot');

    await f.cri.runtime.StopPodSandbox({ podSandboxId: pod.id });
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
    assert.deepEqual((await f.cri.runtime.ListPodSandbox({})).items, []);
    assert.deepEqual((await f.cri.runtime.ListContainers({})).containers, []);
    // host-local keeps its allocations under /var/lib, across reboots: CNI DEL from
    // the cached result (the netns is gone) must give the address back.
    assert.equal(countResources(f, f.cgroupParent).ipsAllocated, 0, 'the old pod\'s address was released');
    for (const records of [f.dirs.layout.podRecords, f.dirs.layout.containerRecords]) {
      assert.deepEqual(fs.readdirSync(records).filter((n) => !n.startsWith('.')), [], `no records left in ${records}`);
    }

    const after = await f.runPod('after-reboot');
    const fresh = await f.runContainer(after, f.containerConfig('fresh', ['sleep', '1000']));
    await f.waitForState(fresh, 'CONTAINER_RUNNING');
    const r = await f.cri.runtime.ExecSync({ containerId: fresh, cmd: ['echo', 'up'], timeout: 10 });
    assert.equal(r.stdout.toString(), 'up\n');
  });
});
