// Releases outside the state dirs that fail, through the real daemon, ending clean
// without a restart: a CNI DEL that a plugin of the chain fails N times (at
// StopPodSandbox, and in the undo of a RunPodSandbox whose pause failed), and a
// container's cgroup still populated (a process the runtime does not know of, in a
// cgroup below the container's: rmdir is EBUSY) at RemoveContainer. A pending DEL
// also survives a restart: the record still says the network is up.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { PodFixture } from '../../helpers/pod-fixture';
import { grpcError } from '../../helpers/cri-client';
import { eventually } from '../../helpers/eventually';
import { baseArgs, mountPointsUnder, runCradled } from '../../helpers/daemon';
import { countResources } from './resources';
import { metricValue, scrapeMetrics } from '../../helpers/metrics';

const f = new PodFixture('cradle-tcf0', '10.160.0.0/24');
let pluginDir: string;
/** The daemon's flags at every (re)start: metrics on, the test's plugin found. */
const DAEMON_ARGS = () => ['--metrics-enable', '--metrics-port', '0', '--network-cni-plugin-dirs', `/usr/lib/cni,${pluginDir}`];

const scrape = () => scrapeMetrics(f.daemon);
/** A counter or gauge; an absent series is 0. */
const metric = (text: string, series: string): number => metricValue(text, series) ?? 0;

const retries = (kind: string, outcome: 'failed' | 'succeeded') => `container_runtime_cradle_cleanup_retries_total{kind="${kind}",outcome="${outcome}"}`;
const PENDING = 'container_runtime_cradle_cleanups_pending';

/**
 * A CNI plugin chained after bridge: ADD passes the result on; DEL fails while the
 * number in `failDel` is above zero, counting it down, as a plugin whose backend is
 * briefly unreachable does.
 */
function writeFailDelPlugin(dir: string): { failDel: string } {
  const failDel = path.join(dir, 'fail-del');
  fs.writeFileSync(path.join(dir, 'cradle-test-faildel'), `#!${process.execPath}
const fs = require('fs');
const cmd = process.env.CNI_COMMAND;
if (cmd === 'VERSION') { process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', supportedVersions: ['0.4.0', '1.0.0'] })); process.exit(0); }
const conf = JSON.parse(fs.readFileSync(0, 'utf8'));
if (cmd === 'ADD') { process.stdout.write(JSON.stringify({ ...conf.prevResult, cniVersion: conf.cniVersion })); process.exit(0); }
if (cmd === 'DEL') {
  let left = 0;
  try { left = Number(fs.readFileSync(${JSON.stringify(failDel)}, 'utf8')); } catch {}
  if (left > 0) {
    fs.writeFileSync(${JSON.stringify(failDel)}, String(left - 1));
    process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, code: 11, msg: 'injected DEL failure, ' + (left - 1) + ' left' }));
    process.exit(1);
  }
}
`, { mode: 0o755 });
  return { failDel };
}

/** The container's cgroup directory in the pids hierarchy (v1) or the unified one. */
function cgroupDirOf(pid: number): string {
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').map((l) => l.split(':'));
  const pids = lines.find((l) => l[1]!.split(',').includes('pids'));
  return pids ? path.join('/sys/fs/cgroup/pids', pids[2]!) : path.join('/sys/fs/cgroup', lines.find((l) => l[0] === '0')![2]!);
}

describe('releases outside the state dirs retried until clean', () => {
  let failDel: string;
  let stray: { proc: ChildProcess; cgroup: string } | undefined;
  before(async () => {
    pluginDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-cni-faildel-'));
    ({ failDel } = writeFailDelPlugin(pluginDir));
    await f.start(DAEMON_ARGS());
    fs.writeFileSync(path.join(f.dirs.cniDir, '05-faildel.conflist'), JSON.stringify({
      cniVersion: '1.0.0', name: 'faildel-net',
      plugins: [
        { type: 'bridge', bridge: f.net.bridge, isGateway: false, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: f.net.subnet }]], dataDir: f.net.ipamDir } },
        { type: 'cradle-test-faildel' },
      ],
    }));
    await f.restart(false, {}, DAEMON_ARGS());
  });
  after(async () => {
    fs.rmSync(failDel, { force: true });
    if (stray) {
      stray.proc.kill('SIGKILL');
      await eventually(() => fs.readFileSync(path.join(stray!.cgroup, 'cgroup.procs'), 'utf8').trim() === '', 'the stray process to die').catch(() => undefined);
      try { fs.rmdirSync(stray.cgroup); } catch { /* gone */ }
    }
    await f.stop();
    fs.rmSync(pluginDir, { recursive: true, force: true });
  });

  it('a CNI DEL failing 3 times at StopPodSandbox: the pod stays NOTREADY with the pending DEL named, its address held, RemovePodSandbox UNAVAILABLE, and it ends clean', async () => {
    const pod = await f.runPod('faildel');
    assert.equal(countResources(f, f.cgroupParent).ipsAllocated, 1);
    fs.writeFileSync(failDel, '3');
    await f.cri.runtime.StopPodSandbox({ podSandboxId: pod.id });

    const status = await f.cri.runtime.PodSandboxStatus({ podSandboxId: pod.id, verbose: true });
    assert.equal(status.status!.state, 'SANDBOX_NOTREADY');
    const info = JSON.parse(status.info.info!) as { networkUp: boolean; pendingCleanups: { kind: string; lastError: string }[] };
    assert.equal(info.networkUp, true, 'the record says the network is still up');
    assert.deepEqual(info.pendingCleanups.map((p) => p.kind), ['pod network']);
    assert.match(info.pendingCleanups[0]!.lastError, /injected DEL failure/);
    await assert.rejects(f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id }), (err) => {
      assert.equal(grpcError(err).code, 14 /* UNAVAILABLE */);
      assert.match(grpcError(err).details, /pod network .*injected DEL failure/);
      return true;
    });
    assert.equal(countResources(f, f.cgroupParent).pinnedNamespaces > 0, true, 'the netns stays pinned for the DEL');

    await eventually(async () => metric(await scrape(), PENDING) === 0, 'the DEL to succeed on a retry');
    const text = await scrape();
    assert.equal(metric(text, retries('pod network', 'failed')), 2, 'the first try and 2 retries failed');
    assert.equal(metric(text, retries('pod network', 'succeeded')), 1);
    assert.equal(fs.readFileSync(failDel, 'utf8'), '0');
    assert.equal(countResources(f, f.cgroupParent).ipsAllocated, 0, 'the address is released');

    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
    assert.equal((await f.cri.runtime.ListPodSandbox({})).items.some((p) => p.id === pod.id), false);
    assert.deepEqual(mountPointsUnder(f.dirs.dir).filter((m) => m.includes(pod.id)), []);
  });

  it('a DEL still pending when cradled restarts: the record keeps the network up, and the kubelet\'s RemovePodSandbox after the restart releases it', async () => {
    const pod = await f.runPod('faildel-restart');
    fs.writeFileSync(failDel, '1000');
    await f.cri.runtime.StopPodSandbox({ podSandboxId: pod.id });
    await f.restart(false, {}, DAEMON_ARGS());
    assert.equal(countResources(f, f.cgroupParent).ipsAllocated, 1, 'the address is still held after the restart');
    const info = JSON.parse((await f.cri.runtime.PodSandboxStatus({ podSandboxId: pod.id, verbose: true })).info.info!) as { networkUp: boolean };
    assert.equal(info.networkUp, true);

    fs.writeFileSync(failDel, '0');
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
    assert.equal(countResources(f, f.cgroupParent).ipsAllocated, 0);
    assert.equal((await f.cri.runtime.ListPodSandbox({})).items.some((p) => p.id === pod.id), false);
  });

  it('a RunPodSandbox whose pause fails: the undo\'s DEL fails 4 times, is retried in the background and releases the address without a restart', async () => {
    const before = countResources(f, f.cgroupParent);
    await f.restart(false, {}, [...DAEMON_ARGS(), '--image-pause-command', '/no/such/pause']);
    try {
      fs.writeFileSync(failDel, '4');
      await assert.rejects(f.cri.runtime.RunPodSandbox({ config: f.podConfig('bad-pause') }), (err) => {
        assert.match(grpcError(err).details, /no\/such\/pause/);
        return true;
      });
      const status = await runCradled(['status', ...baseArgs(f.dirs)]);
      assert.match(status.stdout, /create undo \(tearing down the network of [0-9a-f]{64}\) of [0-9a-f]{64}: \d+ failed tries/);

      await eventually(async () => metric(await scrape(), PENDING) === 0, 'the undo\'s DEL to succeed on a retry');
      const text = await scrape();
      assert.equal(metric(text, retries('create undo', 'failed')), 3, 'the undo\'s own try and 3 retries failed');
      assert.equal(metric(text, retries('create undo', 'succeeded')), 1);
      const now = countResources(f, f.cgroupParent);
      for (const key of ['ipsAllocated', 'mounts', 'pinnedNamespaces', 'cgroups', 'conmons', 'podProcesses'] as const) {
        assert.equal(now[key], before[key], `${key}: ${before[key]} before, ${now[key]} after`);
      }
    } finally {
      await f.restart(false, {}, DAEMON_ARGS());
    }
  });

  it('a container cgroup still populated at RemoveContainer: UNAVAILABLE, the container stays listed, and it ends clean once the process is gone', async () => {
    const pod = await f.runPod('populated');
    const id = await f.runContainer(pod, f.containerConfig('c', ['sleep', '1000']));
    const { pid } = JSON.parse((await f.cri.runtime.ContainerStatus({ containerId: id, verbose: true })).info.info!) as { pid: number };
    const cgroup = cgroupDirOf(pid);
    await f.cri.runtime.StopContainer({ containerId: id, timeout: 0 });
    assert.ok(fs.existsSync(cgroup), `${cgroup} exists until the container is removed`);
    // A process the runtime does not know of, in a cgroup below the container's.
    const child = path.join(cgroup, 'stray');
    fs.mkdirSync(child);
    const proc = spawn('sleep', ['1000'], { stdio: 'ignore', detached: true });
    stray = { proc, cgroup: child };
    fs.writeFileSync(path.join(child, 'cgroup.procs'), String(proc.pid));

    await assert.rejects(f.cri.runtime.RemoveContainer({ containerId: id }), (err) => {
      assert.equal(grpcError(err).code, 14 /* UNAVAILABLE */);
      assert.match(grpcError(err).details, /container runtime state/);
      return true;
    });
    assert.equal((await f.cri.runtime.ListContainers({})).containers.find((c) => c.id === id)?.state, 'CONTAINER_EXITED');
    assert.ok(fs.existsSync(f.dirs.layout.containerDataDir(id)), 'the rootfs stays while the runtime state is pending');
    await eventually(async () => metric(await scrape(), retries('container runtime state', 'failed')) >= 1, 'a failed retry');

    proc.kill('SIGKILL');
    await eventually(() => fs.readFileSync(path.join(child, 'cgroup.procs'), 'utf8').trim() === '', 'the stray process to die');
    fs.rmdirSync(child);
    stray = undefined;
    await eventually(async () => metric(await scrape(), PENDING) === 0, 'the runtime delete to succeed on a retry');
    assert.equal(fs.existsSync(cgroup), false, 'the container cgroup is gone');

    await f.cri.runtime.RemoveContainer({ containerId: id });
    assert.equal(fs.existsSync(f.dirs.layout.containerDataDir(id)), false);
    assert.equal((await f.cri.runtime.ListContainers({})).containers.some((c) => c.id === id), false);
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
  });
});
