// kill -9 of cradled between every pair of steps of the RPCs that make and remove
// things (crash points armed through $CRADLE_TEST_HOOKS, src/common/crash-points.ts).
// For each point: the call dies with the daemon; after a restart the kubelet's
// retry of the same call succeeds, and once the pods are removed nothing is left:
// mounts, pinned namespaces, IPs, cgroups, conmon and pod processes, state files
// are what they were before.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PodFixture } from '../../helpers/pod-fixture';
import type { ContainerConfig } from '../../../src/generated/runtime/v1/ContainerConfig';
import { countResources, stateFileList, type ResourceCounts } from './resources';

const f = new PodFixture('cradle-tcp0', '10.222.0.0/24');

/** Counts that must return exactly to the baseline (cradled's own fds and threads vary with restarts). */
const EXACT: (keyof ResourceCounts)[] = ['mounts', 'pinnedNamespaces', 'ipsAllocated', 'cgroups', 'conmons', 'podProcesses', 'stateFiles', 'socketLinks'];

type Pod = { id: string; config: ReturnType<PodFixture['podConfig']> };

/** Restarts cradled with one crash point armed, runs `call`, which must die with the daemon. */
async function crashDuring(point: string, setup: () => Promise<void>, call: () => Promise<unknown>): Promise<void> {
  await f.restart(false, { CRADLE_TEST_HOOKS: JSON.stringify({ crashAt: [point] }) });
  await setup();
  const outcome = await call().then(() => 'answered', () => 'failed');
  const exit = await f.daemon.waitExit();
  assert.equal(exit.signal, 'SIGKILL', `cradled died at ${point}`);
  assert.equal(outcome, 'failed', `the call did not answer (${point})`);
  await f.restart();
}

function sleeper(name: string): ContainerConfig {
  return f.containerConfig(name, ['sleep', '1000']);
}

async function createIn(pod: Pod, config: ContainerConfig): Promise<string> {
  return (await f.cri.runtime.CreateContainer({ podSandboxId: pod.id, config, sandboxConfig: pod.config })).containerId;
}

async function removeAllPods(): Promise<void> {
  for (const p of (await f.cri.runtime.ListPodSandbox({})).items) await f.cri.runtime.RemovePodSandbox({ podSandboxId: p.id });
}

describe('crash points', () => {
  let baseline: ResourceCounts;
  let baselineFiles: string[];

  before(async () => {
    await f.start();
    // One full lifecycle first, so lazily made dirs are in the baseline.
    const pod = await f.runPod('warmup');
    await f.runContainer(pod, sleeper('warm'));
    await removeAllPods();
    baseline = countResources(f, f.cgroupParent);
    baselineFiles = stateFileList(f);
  });
  after(() => f.stop());

  async function assertNothingLeft(point: string): Promise<void> {
    await removeAllPods();
    let now = countResources(f, f.cgroupParent);
    for (let i = 0; i < 40 && EXACT.some((k) => now[k] !== baseline[k]); i++) {
      await new Promise((r) => setTimeout(r, 250));
      now = countResources(f, f.cgroupParent);
    }
    for (const key of EXACT) {
      const extra = key === 'stateFiles' ? ` (new: ${stateFileList(f).filter((x) => !baselineFiles.includes(x)).join(', ')}; gone: ${baselineFiles.filter((x) => !stateFileList(f).includes(x)).join(', ')})` : '';
      assert.equal(now[key], baseline[key], `after a crash at ${point}: ${key} ${baseline[key]} before, ${now[key]} after${extra}`);
    }
  }

  for (const step of ['run-dir', 'namespaces-pinned', 'network-added', 'pod-files', 'pause-created', 'pause-started', 'recorded']) {
    it(`RunPodSandbox, crash at ${step}: the retry gives a working pod`, async () => {
      const config = f.podConfig('crashrun');
      await crashDuring(`RunPodSandbox:${step}`, async () => undefined, () => f.cri.runtime.RunPodSandbox({ config }));
      const { podSandboxId } = await f.cri.runtime.RunPodSandbox({ config });
      assert.equal((await f.cri.runtime.PodSandboxStatus({ podSandboxId })).status!.state, 'SANDBOX_READY');
      const ctr = await f.runContainer({ id: podSandboxId, config }, sleeper('inside'));
      const r = await f.cri.runtime.ExecSync({ containerId: ctr, cmd: ['hostname'], timeout: 10 });
      assert.equal(r.stdout.toString(), `${config.hostname}\n`);
      await assertNothingLeft(`RunPodSandbox:${step}`);
    });
  }

  for (const step of ['overlay-mounted', 'spec-written', 'runtime-created', 'recorded']) {
    it(`CreateContainer, crash at ${step}: the retry gives a container that runs`, async () => {
      let pod!: Pod;
      const config = sleeper('crashcreate');
      await crashDuring(`CreateContainer:${step}`, async () => { pod = await f.runPod('crashcreate'); }, () => createIn(pod, config));
      const id = await createIn(pod, config);
      await f.cri.runtime.StartContainer({ containerId: id });
      await f.waitForState(id, 'CONTAINER_RUNNING');
      await assertNothingLeft(`CreateContainer:${step}`);
    });
  }

  it('StartContainer, crash after the runtime started it: the container is reported running', async () => {
    let pod!: Pod;
    let id = '';
    await crashDuring('StartContainer:started', async () => {
      pod = await f.runPod('crashstart');
      id = await createIn(pod, sleeper('crashstart'));
    }, () => f.cri.runtime.StartContainer({ containerId: id }));
    // The process runs; the kubelet sees RUNNING and has nothing to retry.
    await f.waitForState(id, 'CONTAINER_RUNNING');
    const r = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['echo', 'alive'], timeout: 10 });
    assert.equal(r.stdout.toString(), 'alive\n');
    await assertNothingLeft('StartContainer:started');
  });

  for (const [rpc, step] of [['StopPodSandbox', 'pause-deleted'], ['RemovePodSandbox', 'stopped'], ['RemovePodSandbox', 'containers-removed'], ['RemovePodSandbox', 'unpinned']] as const) {
    it(`${rpc}, crash at ${step}: the retry finishes it`, async () => {
      let pod!: Pod;
      await crashDuring(`${rpc}:${step}`, async () => {
        pod = await f.runPod('crashremove');
        await f.runContainer(pod, sleeper('victim'));
      }, () => f.cri.runtime[rpc]({ podSandboxId: pod.id }));
      await f.cri.runtime[rpc]({ podSandboxId: pod.id });
      if (rpc === 'StopPodSandbox') assert.equal((await f.cri.runtime.PodSandboxStatus({ podSandboxId: pod.id })).status!.state, 'SANDBOX_NOTREADY');
      else assert.deepEqual((await f.cri.runtime.ListPodSandbox({})).items, []);
      await assertNothingLeft(`${rpc}:${step}`);
    });
  }
});
