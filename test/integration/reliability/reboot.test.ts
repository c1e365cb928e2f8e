// A host reboot as cradled sees it at its next start: every process is gone, every
// mount is gone and the volatile state (run_root, on tmpfs under /run) is empty,
// while the persistent state (root) is kept. Pods are then NOTREADY, containers
// EXITED, images still there; the kubelet's clean-up (StopPodSandbox,
// RemovePodSandbox) works and leaves nothing, and new pods run.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
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

function cmdlineHas(pid: string, needle: string): boolean {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle); } catch { return false; }
}

describe('host reboot', () => {
  before(() => f.start());
  after(() => f.stop());

  it('pods come back NOTREADY and containers EXITED; images are kept; clean-up leaves nothing; new pods run', async () => {
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
    for (const records of ['pods', 'containers']) {
      assert.deepEqual(fs.readdirSync(path.join(f.dirs.root, records)).filter((n) => !n.startsWith('.')), [], `no ${records} records left`);
    }

    const after = await f.runPod('after-reboot');
    const fresh = await f.runContainer(after, f.containerConfig('fresh', ['sleep', '1000']));
    await f.waitForState(fresh, 'CONTAINER_RUNNING');
    const r = await f.cri.runtime.ExecSync({ containerId: fresh, cmd: ['echo', 'up'], timeout: 10 });
    assert.equal(r.stdout.toString(), 'up\n');
  });
});
