// RunPodSandbox sets up the network and starts the pause concurrently: when CNI ADD
// fails while the pause is being created, or the pause fails while CNI ADD runs, the
// call fails with that half's error and both halves are undone (no pause, conmon,
// cgroup, mount, pinned namespace or IP left), and the next RunPodSandbox works once
// the fault is fixed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PodFixture } from '../../helpers/pod-fixture';
import { countResources, type ResourceCounts } from '../reliability/resources';

const f = new PodFixture('cradle-tfr0', '10.237.0.0/24');
const EXACT: (keyof ResourceCounts)[] = ['mounts', 'pinnedNamespaces', 'ipsAllocated', 'cgroups', 'conmons', 'podProcesses', 'socketLinks'];

/** Waits until every EXACT count is back at the baseline (the undo of a failed run is awaited, the kernel's view may lag), then asserts it. */
async function assertBackTo(fixture: PodFixture, baseline: ResourceCounts): Promise<void> {
  let now = countResources(fixture, fixture.cgroupParent);
  for (let i = 0; i < 40 && EXACT.some((k) => now[k] !== baseline[k]); i++) {
    await new Promise((r) => setTimeout(r, 250));
    now = countResources(fixture, fixture.cgroupParent);
  }
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(fixture.dirs.dir + '/'));
  for (const key of EXACT) assert.equal(now[key], baseline[key], `${key}: ${baseline[key]} before, ${now[key]} after the failed run (mounts: ${mounts.join(', ')})`);
}

/** One pod run, stopped and removed, so what the daemon makes once (the namespace pin dir) is in the baseline. */
async function warmBaseline(fixture: PodFixture): Promise<ResourceCounts> {
  const warm = await fixture.runPod('warmup');
  await fixture.cri.runtime.StopPodSandbox({ podSandboxId: warm.id });
  await fixture.cri.runtime.RemovePodSandbox({ podSandboxId: warm.id });
  return countResources(fixture, fixture.cgroupParent);
}

describe('a RunPodSandbox whose CNI ADD fails', () => {
  before(() => f.start());
  after(() => f.stop());

  it('fails with the plugin\'s error and leaves nothing of the network or the pause; the next run works', async () => {
    const baseline = await warmBaseline(f);
    // Sorted first, so it is the pod network: bridge and IPAM work, then tuning fails.
    const broken = path.join(f.dirs.cniDir, '01-broken.conflist');
    fs.writeFileSync(broken, JSON.stringify({
      cniVersion: '1.0.0', name: 'broken', plugins: [
        { type: 'bridge', bridge: f.net.bridge, isGateway: false, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: f.net.subnet }]], dataDir: f.net.ipamDir } },
        { type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.cradle_no_such_sysctl': '1' } },
      ],
    }));
    try {
      let failure: Error | undefined;
      for (let i = 0; i < 40 && !failure; i++) {
        // The config watcher may not have seen the new file yet: then the pod runs on the good network.
        try {
          const { podSandboxId } = await f.cri.runtime.RunPodSandbox({ config: f.podConfig(`broken${i}`) });
          await f.cri.runtime.StopPodSandbox({ podSandboxId });
          await f.cri.runtime.RemovePodSandbox({ podSandboxId });
          await new Promise((r) => setTimeout(r, 100));
        } catch (err) {
          failure = err as Error;
        }
      }
      assert.ok(failure, 'RunPodSandbox failed on the broken network');
      assert.match(failure.message, /tuning.*cradle_no_such_sysctl/);
      assert.deepEqual((await f.cri.runtime.ListPodSandbox({})).items, []);
      await assertBackTo(f, baseline);
    } finally {
      fs.rmSync(broken, { force: true });
    }
    let podSandboxId = '';
    for (let i = 0; i < 40 && !podSandboxId; i++) {
      podSandboxId = await f.cri.runtime.RunPodSandbox({ config: f.podConfig('fixed') }).then((r) => r.podSandboxId, async () => {
        await new Promise((r) => setTimeout(r, 100));
        return '';
      });
    }
    assert.equal((await f.cri.runtime.PodSandboxStatus({ podSandboxId })).status!.state, 'SANDBOX_READY');
    await f.cri.runtime.StopPodSandbox({ podSandboxId });
    await f.cri.runtime.RemovePodSandbox({ podSandboxId });
  });
});

const g = new PodFixture('cradle-pf0', '10.150.0.0/24');

describe('a RunPodSandbox whose pause fails while CNI ADD runs', () => {
  before(() => g.start());
  after(() => g.stop());

  it('fails with the pause\'s error, deletes the network it added (no IP left) and leaves nothing of the pause; the next run works', async () => {
    const baseline = await warmBaseline(g);
    const dropIn = path.join(g.dirs.configDir, '60-broken-pause.toml');
    const reload = async (toml: string): Promise<void> => {
      const reloads = (): number => g.daemon.logRecords().filter((r) => r.msg === 'configuration reloaded').length;
      const before = reloads();
      fs.writeFileSync(dropIn, toml);
      g.daemon.proc.kill('SIGHUP');
      for (let i = 0; i < 400 && reloads() === before; i++) await new Promise((r) => setTimeout(r, 25));
      assert.ok(reloads() > before, 'configuration reloaded');
    };
    await reload('[image]\npause_command = "/cradle-no-such-pause"\n');
    const failure = await g.cri.runtime.RunPodSandbox({ config: g.podConfig('no-pause') }).then(() => undefined, (err: unknown) => err as Error);
    assert.ok(failure, 'RunPodSandbox failed without a pause command');
    assert.match(failure.message, /cradle-no-such-pause/);
    assert.deepEqual((await g.cri.runtime.ListPodSandbox({})).items, []);
    await assertBackTo(g, baseline);

    await reload('');
    const fixed = await g.runPod('fixed');
    assert.equal((await g.cri.runtime.PodSandboxStatus({ podSandboxId: fixed.id })).status!.state, 'SANDBOX_READY');
    await g.cri.runtime.StopPodSandbox({ podSandboxId: fixed.id });
    await g.cri.runtime.RemovePodSandbox({ podSandboxId: fixed.id });
  });
});
