// Concurrency through a real cradled with kubelet-like clients: per-call
// deadlines, RunPodSandbox/CreateContainer retried with the same config after a
// client-side DEADLINE_EXCEEDED, and RemovePodSandbox racing CreateContainer.
// Short: 20 pods; CRADLE_SOAK=1: 50 pods.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { PodFixture } from '../../helpers/pod-fixture';
import { grpcError } from '../../helpers/cri-client';
import { mountsContaining } from '../../helpers/pod-network';
import { SOAK, countResources, createCgroupParent, mapLimit, removeCgroupParent, removeEverything } from './resources';
import type { PodSandboxConfig } from '../../../src/generated/runtime/v1/PodSandboxConfig';

const CGROUP_PARENT = '/cradle-test-reliab-conc';
const FRESH_PARENT = '/cradle-test-reliab-fresh';
const PODS = SOAK ? 50 : 20;
let racingCreateCodes: string[] | undefined;
const f = new PodFixture('cradle-trl1', '10.231.0.0/24');

/** Fails if `p` does not settle in `ms`: a deadlock shows as this error, not as a hung suite. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (deadlock?)`)), ms); }),
  ]);
}

interface Attempts { errors: { code: grpc.status; details: string }[] }

/**
 * The kubelet's pattern: a call with a deadline; on DEADLINE_EXCEEDED the same
 * request again. The first attempt of a chosen call gets a deadline too short to finish.
 */
async function withRetries<T>(call: (timeoutMs: number) => Promise<T>, firstTimeoutMs: number, log: Attempts): Promise<T> {
  let timeoutMs = firstTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call(timeoutMs);
    } catch (err) {
      const e = grpcError(err);
      log.errors.push(e);
      if (e.code !== grpc.status.DEADLINE_EXCEEDED || attempt >= 5) throw err;
      timeoutMs = 60_000;
    }
  }
}

describe('concurrency', () => {
  before(async () => {
    removeCgroupParent(CGROUP_PARENT);
    removeCgroupParent(FRESH_PARENT);
    // The kubelet creates a pod's cgroup parent before RunPodSandbox.
    createCgroupParent(CGROUP_PARENT);
    await f.start();
  });
  after(async () => {
    await removeEverything(f);
    await f.stop();
    removeCgroupParent(CGROUP_PARENT);
    removeCgroupParent(FRESH_PARENT);
  });

  it(`${PODS} concurrent RunPodSandbox + CreateContainer + StartContainer with deadlines and retries all end Running`, async () => {
    const log: Attempts = { errors: [] };
    const configs = Array.from({ length: PODS }, (_, i) => f.podConfig(`conc${i}`, { linux: { cgroupParent: CGROUP_PARENT } }));
    const results = await within(Promise.all(configs.map(async (config, i) => {
      // Every third pod's first RunPodSandbox and every fourth's first CreateContainer time out on the client.
      const podSandboxId = (await withRetries((timeoutMs) => f.cri.runtime.RunPodSandbox({ config }, { timeoutMs }), i % 3 === 0 ? 30 : 60_000, log)).podSandboxId;
      const cconfig = f.containerConfig(`c${i}`, ['sleep', '1000']);
      const containerId = (await withRetries((timeoutMs) => f.cri.runtime.CreateContainer({ podSandboxId, config: cconfig, sandboxConfig: config }, { timeoutMs }),
        i % 4 === 0 ? 30 : 60_000, log)).containerId;
      await f.cri.runtime.StartContainer({ containerId }, { timeoutMs: 60_000 });
      return { podSandboxId, containerId, config };
    })), 240_000, 'concurrent pod start');

    const notDeadline = log.errors.filter((e) => e.code !== grpc.status.DEADLINE_EXCEEDED);
    assert.deepEqual(notDeadline, [], 'only client-side deadlines, never "name is reserved"/ALREADY_EXISTS');
    assert.ok(log.errors.length > 0, 'some first attempts did time out (the retry path was exercised)');

    const pods = (await f.cri.runtime.ListPodSandbox({ filter: { labelSelector: {} } })).items.filter((p) => p.metadata?.name.startsWith('conc'));
    assert.equal(pods.length, PODS, 'one sandbox per pod: a retry never made a second one');
    assert.deepEqual(new Set(pods.map((p) => p.id)), new Set(results.map((r) => r.podSandboxId)), 'retries got the id of the in-flight run');
    assert.ok(pods.every((p) => p.state === 'SANDBOX_READY'));
    const containers = (await f.cri.runtime.ListContainers({})).containers.filter((c) => results.some((r) => r.podSandboxId === c.podSandboxId));
    assert.equal(containers.length, PODS, 'one container per pod');
    for (const r of results) await f.waitForState(r.containerId, 'CONTAINER_RUNNING');

    await within(mapLimit(results, 10, (r) => f.cri.runtime.RemovePodSandbox({ podSandboxId: r.podSandboxId })), 120_000, 'concurrent RemovePodSandbox');
    assert.equal((await f.cri.runtime.ListContainers({})).containers.length, 0);
    const after = countResources(f, CGROUP_PARENT);
    assert.deepEqual({ conmons: after.conmons, podProcesses: after.podProcesses, pinnedNamespaces: after.pinnedNamespaces, ipsAllocated: after.ipsAllocated },
      { conmons: 0, podProcesses: 0, pinnedNamespaces: 0, ipsAllocated: 0 });
  });

  it('concurrent RunPodSandbox into a cgroup parent that does not exist yet', async () => {
    const configs = Array.from({ length: 8 }, (_, i) => f.podConfig(`fresh${i}`, { linux: { cgroupParent: FRESH_PARENT } }));
    const settled = await within(Promise.allSettled(configs.map((config) => f.cri.runtime.RunPodSandbox({ config }))), 120_000, 'RunPodSandbox into a new parent');
    for (const s of settled) if (s.status === 'fulfilled') await f.cri.runtime.RemovePodSandbox({ podSandboxId: s.value.podSandboxId });
    assert.deepEqual(settled.filter((s) => s.status === 'rejected').map((s) => grpcError((s as PromiseRejectedResult).reason).details), []);
  });

  it('RemovePodSandbox racing CreateContainer: each create fails cleanly or its container goes with the pod; nothing leaks', async (t) => {
    const leaks: string[] = [];
    const wrongCodes: string[] = [];
    for (const delayMs of [0, 20, 60, 150, 400]) {
      const pod = await f.runPod(`race${delayMs}`, { linux: { cgroupParent: CGROUP_PARENT } });
      const creates = Array.from({ length: 4 }, (_, i) => f.cri.runtime.CreateContainer({
        podSandboxId: pod.id, config: f.containerConfig(`r${i}`, ['sleep', '1000']), sandboxConfig: pod.config as PodSandboxConfig,
      }, { timeoutMs: 60_000 }).then(async (r) => {
        // The kubelet starts what it created; a start may race the removal too.
        await f.cri.runtime.StartContainer({ containerId: r.containerId }).catch(() => undefined);
        return r;
      }));
      // Settle now: a rejection must not count as unhandled while the removal runs.
      const settledLater = Promise.allSettled(creates);
      await new Promise((r) => setTimeout(r, delayMs));
      await within(f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id }), 60_000, 'RemovePodSandbox during creates');
      const settled = await within(settledLater, 60_000, 'creates during RemovePodSandbox');
      const created: string[] = [];
      const badCodes: string[] = [];
      for (const s of settled) {
        if (s.status === 'fulfilled') created.push(s.value.containerId);
        else {
          const e = grpcError(s.reason);
          if (e.code !== grpc.status.NOT_FOUND && e.code !== grpc.status.FAILED_PRECONDITION) badCodes.push(`${grpc.status[e.code]}: ${e.details}`);
        }
      }
      t.diagnostic(`delay ${delayMs} ms: ${created.length} of 4 creates succeeded; other failures: ${badCodes.length}`);
      for (const b of badCodes) wrongCodes.push(`delay ${delayMs}: ${b}`);
      // A removed pod is gone, and so is every container made in it.
      await assert.rejects(f.cri.runtime.PodSandboxStatus({ podSandboxId: pod.id }), (err) => grpcError(err).code === grpc.status.NOT_FOUND);
      const left = (await f.cri.runtime.ListContainers({ filter: { podSandboxId: pod.id } })).containers;
      if (left.length) leaks.push(`delay ${delayMs}: containers ${left.map((c) => `${c.metadata?.name}=${c.state}`).join(',')} listed after RemovePodSandbox`);
      for (const id of created) {
        const status = await f.cri.runtime.ContainerStatus({ containerId: id }).then(() => 'exists', (err) => grpc.status[grpcError(err).code]);
        if (status !== 'NOT_FOUND') leaks.push(`delay ${delayMs}: container ${id.slice(0, 12)} still ${status}`);
        if (mountsContaining(id).length) leaks.push(`delay ${delayMs}: mounts of ${id.slice(0, 12)}: ${mountsContaining(id).join(' ')}`);
        if (fs.existsSync(f.dirs.layout.containerDataDir(id))) leaks.push(`delay ${delayMs}: containers-data/${id.slice(0, 12)} left`);
      }
      // Clean up whatever leaked so the next round starts clean (and so the suite does).
      for (const c of left) await f.cri.runtime.RemoveContainer({ containerId: c.id }).catch(() => undefined);
    }
    const counts = countResources(f, CGROUP_PARENT);
    if (counts.conmons || counts.podProcesses) leaks.push(`after all rounds: ${counts.conmons} conmons, ${counts.podProcesses} pod processes`);
    assert.deepEqual(leaks, []);
    racingCreateCodes = wrongCodes;
  });

  it('a create that loses the race to RemovePodSandbox fails with NOT_FOUND or FAILED_PRECONDITION', () => {
    assert.ok(racingCreateCodes, 'the race test ran');
    assert.deepEqual(racingCreateCodes, []);
  });
});
