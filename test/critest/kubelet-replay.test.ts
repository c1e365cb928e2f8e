// Kubelet replay: drives the runtime the way the kubelet does, concurrently, and
// checks the invariants the kubelet depends on. PLEG relist every second plus
// evented PLEG (GetContainerEvents), pod workers (image check, pull when absent,
// RunPodSandbox retried after a client timeout, an init container then an app
// container), exec probes, stats collection, log rotation, graceful termination,
// container and image GC. Short by default (CRADLE_REPLAY_SECONDS=8 of steady
// state); set CRADLE_REPLAY_SECONDS=300 and CRADLE_REPLAY_PODS=20 for a long run.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startTarget, type CriTarget } from './target';
import { busyboxImage, pushImage, type PushedImage } from '../helpers/image-builder';
import { grpcError } from '../helpers/cri-client';
import { loadCriProto } from '../../src/cri-server/proto';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import type { ContainerConfig } from '../../src/generated/runtime/v1/ContainerConfig';

const STEADY_SECONDS = Number(process.env.CRADLE_REPLAY_SECONDS ?? 8);
const PODS = Number(process.env.CRADLE_REPLAY_PODS ?? 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Event { id: string; type: string }

describe('kubelet replay', () => {
  let target: CriTarget;
  let app: PushedImage;
  let extra: PushedImage;
  let logRoot: string;
  const unexpected: string[] = [];
  const events: Event[] = [];
  let stopEvents: (() => void) | undefined;

  before(async () => {
    target = await startTarget({ bridge: 'crit-kubelet0', subnet: '10.214.200.0/24' });
    app = await pushImage(target.registry, 'replay/app:1', busyboxImage());
    extra = await pushImage(target.registry, 'replay/unused:1', busyboxImage({ config: { Env: ['UNUSED=1'] } }));
    logRoot = fs.mkdtempSync('/tmp/cradle-test-replay-logs-');
    // Evented PLEG: one long-lived GetContainerEvents stream.
    const proto = loadCriProto();
    const client = new proto.runtime.v1.RuntimeService(target.endpoint, grpc.credentials.createInsecure());
    const stream = client.GetContainerEvents({});
    stream.on('data', (e: { containerId: string; containerEventType: string }) => events.push({ id: e.containerId, type: e.containerEventType }));
    stream.on('error', () => undefined);
    stopEvents = () => { stream.cancel(); client.close(); };
  });
  after(async () => {
    stopEvents?.();
    await target?.stop();
    if (logRoot) fs.rmSync(logRoot, { recursive: true, force: true });
    for (const c of fs.readdirSync('/sys/fs/cgroup')) {
      try { fs.rmdirSync(path.join('/sys/fs/cgroup', c, 'cradle-test-replay')); } catch { /* absent or not empty */ }
    }
  });

  /** A CRI call as the kubelet makes it: a deadline, and any error not expected is recorded. */
  async function call<T>(what: string, run: () => Promise<T>, expected: grpc.status[] = []): Promise<T | undefined> {
    try {
      return await run();
    } catch (err) {
      if (!expected.includes(grpcError(err).code)) unexpected.push(`${what}: ${grpcError(err).code} ${grpcError(err).details}`);
      return undefined;
    }
  }

  async function waitState(id: string, state: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const s = await call('ContainerStatus', () => target.cri.runtime.ContainerStatus({ containerId: id }));
      if (s?.status?.state === state) return;
      await sleep(100);
    }
    throw new Error(`${id} did not reach ${state}`);
  }

  async function podWorker(n: number): Promise<{ pod: string; app: string; init: string; logPath: string }> {
    const config: PodSandboxConfig = {
      metadata: { name: `replay-${n}`, namespace: 'replay', uid: `uid-replay-${n}`, attempt: 0 },
      hostname: `replay-${n}`, logDirectory: path.join(logRoot, `pod-${n}`),
      labels: { 'io.kubernetes.pod.name': `replay-${n}` },
      // As the kubelet sends it for an ordinary pod: one PID namespace per container.
      linux: { cgroupParent: '/cradle-test-replay', securityContext: { namespaceOptions: { pid: 'CONTAINER' } } },
    };
    fs.mkdirSync(config.logDirectory!, { recursive: true });
    // The kubelet checks the image first and pulls only when it is absent.
    const present = await call('ImageStatus', () => target.cri.image.ImageStatus({ image: { image: app.reference } }));
    if (!present?.image) await call('PullImage', () => target.cri.image.PullImage({ image: { image: app.reference } }));
    // RunPodSandbox with a short deadline, retried with the same config after a timeout.
    let podId: string | undefined;
    for (let attempt = 0; attempt < 5 && !podId; attempt++) {
      podId = (await call('RunPodSandbox', () => target.cri.runtime.RunPodSandbox({ config }, { timeoutMs: 4000 }), [grpc.status.DEADLINE_EXCEEDED]))?.podSandboxId;
    }
    assert.ok(podId, 'pod created');
    const create = async (c: ContainerConfig) => {
      const withNs = { ...c, linux: { securityContext: { namespaceOptions: { pid: 'CONTAINER' as const } } } };
      const r = await call('CreateContainer', () => target.cri.runtime.CreateContainer({ podSandboxId: podId, config: withNs, sandboxConfig: config }));
      assert.ok(r, 'container created');
      await call('StartContainer', () => target.cri.runtime.StartContainer({ containerId: r.containerId }));
      return r.containerId;
    };
    const init = await create({ metadata: { name: 'init', attempt: 0 }, image: { image: app.reference }, command: ['sh', '-c', 'echo initialised'], logPath: 'init/0.log' });
    await waitState(init, 'CONTAINER_EXITED');
    const initStatus = await call('ContainerStatus', () => target.cri.runtime.ContainerStatus({ containerId: init }));
    assert.equal(initStatus?.status?.exitCode, 0);
    const appId = await create({
      metadata: { name: 'app', attempt: 0 }, image: { image: app.reference }, logPath: 'app/0.log',
      command: ['sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done'],
    });
    await waitState(appId, 'CONTAINER_RUNNING');
    return { pod: podId, app: appId, init, logPath: path.join(config.logDirectory!, 'app/0.log') };
  }

  it('pods run, are probed, measured, rotated and terminated without unexpected errors', async (t) => {
    let relisting = true;
    // A failing step must end the relist loop too: its timer would keep this file's process alive.
    t.after(() => { relisting = false; });
    let relists = 0;
    const relist = (async () => {
      while (relisting) {
        const pods = await call('ListPodSandbox', () => target.cri.runtime.ListPodSandbox({}));
        const ctrs = await call('ListContainers', () => target.cri.runtime.ListContainers({}));
        if (pods && ctrs) {
          const podIds = new Set(pods.items.map((p) => p.id));
          for (const c of ctrs.containers) if (!podIds.has(c.podSandboxId)) unexpected.push(`relist: container ${c.id} of unlisted pod ${c.podSandboxId}`);
          relists++;
        }
        await sleep(1000);
      }
    })();

    const workers = await Promise.all(Array.from({ length: PODS }, (_, i) => podWorker(i)));

    // Steady state: exec probes and stats collection, as the kubelet's prober and stats provider.
    const until = Date.now() + STEADY_SECONDS * 1000;
    let probes = 0;
    while (Date.now() < until) {
      for (const w of workers) {
        const r = await call('ExecSync', () => target.cri.runtime.ExecSync({ containerId: w.app, cmd: ['true'], timeout: 5 }));
        assert.equal(r?.exitCode, 0);
        probes++;
      }
      const stats = await call('ListContainerStats', () => target.cri.runtime.ListContainerStats({}));
      for (const w of workers) assert.ok(stats?.stats.some((s) => s.attributes?.id === w.app), 'running container has stats');
      await call('ListPodSandboxStats', () => target.cri.runtime.ListPodSandboxStats({}), [grpc.status.UNIMPLEMENTED]);
      await call('ImageFsInfo', () => target.cri.image.ImageFsInfo({}));
      await sleep(1000);
    }

    // Log rotation: rename, ReopenContainerLog, new lines in a new file.
    const w0 = workers[0]!;
    fs.renameSync(w0.logPath, `${w0.logPath}.20261123-000000`);
    await call('ReopenContainerLog', () => target.cri.runtime.ReopenContainerLog({ containerId: w0.app }));
    await sleep(800);
    assert.match(fs.readFileSync(w0.logPath, 'utf8'), /stdout F tick \d+/);

    // Graceful termination with a grace period, then container and pod GC.
    for (const w of workers) {
      await call('StopContainer', () => target.cri.runtime.StopContainer({ containerId: w.app, timeout: 2 }));
      const s = await call('ContainerStatus', () => target.cri.runtime.ContainerStatus({ containerId: w.app }));
      assert.equal(s?.status?.state, 'CONTAINER_EXITED');
      assert.equal(s?.status?.exitCode, 137, 'sh as PID 1 ignores TERM: killed after the grace period');
      await call('StopPodSandbox', () => target.cri.runtime.StopPodSandbox({ podSandboxId: w.pod }));
      for (const id of [w.init, w.app]) await call('RemoveContainer', () => target.cri.runtime.RemoveContainer({ containerId: id }));
      await call('RemovePodSandbox', () => target.cri.runtime.RemovePodSandbox({ podSandboxId: w.pod }));
    }
    // Image GC: an unused image goes.
    await call('PullImage', () => target.cri.image.PullImage({ image: { image: extra.reference } }));
    await call('RemoveImage', () => target.cri.image.RemoveImage({ image: { image: extra.reference } }));
    assert.equal((await target.cri.image.ImageStatus({ image: { image: extra.reference } })).image, null);

    relisting = false;
    await relist;
    assert.ok(relists >= STEADY_SECONDS / 2, `relisted ${relists} times`);
    assert.ok(probes >= PODS, 'probed');
    assert.deepEqual(unexpected, [], 'no CRI call failed unexpectedly');
    const left = await target.cri.runtime.ListPodSandbox({ filter: { labelSelector: {} } });
    assert.equal(left.items.filter((p) => p.metadata?.namespace === 'replay').length, 0, 'no pods left');

    // Evented PLEG: every container's events in order, ending in DELETED.
    await sleep(300);
    if (events.length > 0) {
      for (const w of workers) {
        for (const id of [w.init, w.app]) {
          const seq = events.filter((e) => e.id === id).map((e) => e.type);
          assert.deepEqual(seq, ['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT'], `events of ${id}`);
        }
      }
    } else {
      assert.equal(target.name, 'containerd', 'cradle always streams events');
    }
  });
});
