// critest area: pod sandbox (cri-tools pkg/validate/pod.go, pod_linux.go):
// run/stop/remove lifecycle and status, attributes preserved, list filters,
// idempotent stop and remove, sysctls, hostname, DNS config, host network.
//
// The pod itself is checked from the host, entering the pause process's
// namespaces (pod-inspect.ts). What cri-tools checks from a container lives in
// the container areas: sysctls seen by a container (security-context.test.ts),
// DNS config (networking.test.ts), hostname and pod IP, StopPodSandbox/
// RemovePodSandbox acting on containers, the log directory (container.test.ts),
// pid=POD/CONTAINER (security-context.test.ts).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { status as grpcStatus } from '@grpc/grpc-js';
import { startTarget, type CriTarget } from './target';
import { grpcError } from '../helpers/cri-client';
import { inPod, nsIdentity, podInside } from './pod-inspect';
import { killPodLeftovers } from './containers';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import type { PodSandboxFilter } from '../../src/generated/runtime/v1/PodSandboxFilter';

function nowNanos(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

describe('pod sandbox', () => {
  let target: CriTarget;
  const live = new Set<string>();
  before(async () => { target = await startTarget({ bridge: 'crit-pod0', subnet: '10.214.1.0/24' }); });
  after(async () => {
    for (const id of live) {
      await target.cri.runtime.StopPodSandbox({ podSandboxId: id }).catch(() => undefined);
      await target.cri.runtime.RemovePodSandbox({ podSandboxId: id }).catch(() => undefined);
    }
    await target?.stop();
  });

  function podConfig(prefix: string, extra: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
    const suffix = randomBytes(4).toString('hex');
    return {
      metadata: { name: `${prefix}-${suffix}`, uid: `uid-${suffix}`, namespace: `ns-${suffix}`, attempt: 1 },
      linux: {},
      ...extra,
    };
  }

  async function runPod(config: PodSandboxConfig): Promise<string> {
    const { podSandboxId } = await target.cri.runtime.RunPodSandbox({ config });
    assert.notEqual(podSandboxId, '');
    live.add(podSandboxId);
    return podSandboxId;
  }

  async function removePod(id: string): Promise<void> {
    await target.cri.runtime.StopPodSandbox({ podSandboxId: id });
    await target.cri.runtime.RemovePodSandbox({ podSandboxId: id });
    live.delete(id);
  }

  async function status(id: string) {
    return (await target.cri.runtime.PodSandboxStatus({ podSandboxId: id })).status!;
  }

  async function list(filter: PodSandboxFilter | null = null): Promise<string[]> {
    return (await target.cri.runtime.ListPodSandbox({ filter })).items.map((p) => p.id);
  }

  it('runs a default pod sandbox: READY and listed by its id', async () => {
    const id = await runPod(podConfig('default'));
    assert.equal((await status(id)).state, 'SANDBOX_READY');
    assert.deepEqual(await list({ id }), [id]);
    await removePod(id);
  });

  it('stops a pod sandbox: NOTREADY, still listed, its pause process gone', async () => {
    const id = await runPod(podConfig('stop'));
    const { pid } = await podInside(target, id);
    await target.cri.runtime.StopPodSandbox({ podSandboxId: id });
    const s = await status(id);
    assert.equal(s.state, 'SANDBOX_NOTREADY');
    assert.deepEqual(await list({ id }), [id]);
    assert.equal(fs.existsSync(`/proc/${pid}/ns/net`), false, 'pause process is gone');
    await removePod(id);
  });

  it('removes a stopped pod sandbox: not listed, PodSandboxStatus NOT_FOUND', async () => {
    const id = await runPod(podConfig('remove'));
    await target.cri.runtime.StopPodSandbox({ podSandboxId: id });
    await target.cri.runtime.RemovePodSandbox({ podSandboxId: id });
    live.delete(id);
    assert.deepEqual(await list({ id }), []);
    assert.equal((await list()).includes(id), false);
    await assert.rejects(target.cri.runtime.PodSandboxStatus({ podSandboxId: id }),
      (err: unknown) => grpcError(err).code === grpcStatus.NOT_FOUND);
  });

  it('removes a READY pod sandbox without a stop first (forcibly stopping it)', async () => {
    const id = await runPod(podConfig('remove-ready'));
    const { pid } = await podInside(target, id);
    await target.cri.runtime.RemovePodSandbox({ podSandboxId: id });
    live.delete(id);
    assert.deepEqual(await list({ id }), []);
    assert.equal(fs.existsSync(`/proc/${pid}/ns/net`), false, 'pause process is gone');
    await assert.rejects(target.cri.runtime.PodSandboxStatus({ podSandboxId: id }),
      (err: unknown) => grpcError(err).code === grpcStatus.NOT_FOUND);
  });

  it('stop and remove are idempotent', async (t) => {
    const id = await runPod(podConfig('idempotent'));
    await target.cri.runtime.StopPodSandbox({ podSandboxId: id });
    await target.cri.runtime.StopPodSandbox({ podSandboxId: id });
    assert.equal((await status(id)).state, 'SANDBOX_NOTREADY');
    await target.cri.runtime.RemovePodSandbox({ podSandboxId: id });
    await target.cri.runtime.RemovePodSandbox({ podSandboxId: id });
    live.delete(id);
    // Stop of a removed pod: the CRI asks for idempotence; containerd 1.6 answers
    // NOT_FOUND (the kubelet treats NOT_FOUND as done). Either is accepted.
    const stopAfterRemove = await target.cri.runtime.StopPodSandbox({ podSandboxId: id }).then(() => 'OK', (err: unknown) => {
      assert.equal(grpcError(err).code, grpcStatus.NOT_FOUND, `stop after remove: ${grpcError(err).details}`);
      return 'NOT_FOUND';
    });
    t.diagnostic(`StopPodSandbox after RemovePodSandbox: ${stopAfterRemove}`);
    // Remove of an unknown pod is not an error (CRI: "must not return an error").
    await target.cri.runtime.RemovePodSandbox({ podSandboxId: randomBytes(32).toString('hex') });
  });

  it('status of an unknown pod sandbox is NOT_FOUND', async () => {
    await assert.rejects(target.cri.runtime.PodSandboxStatus({ podSandboxId: randomBytes(32).toString('hex') }),
      (err: unknown) => grpcError(err).code === grpcStatus.NOT_FOUND);
  });

  it('preserves metadata, labels and annotations in status and list; created_at is sane', async () => {
    const config = podConfig('attributes');
    const m = config.metadata!;
    const labels = {
      foo: 'bar', 'io.kubernetes.pod.name': m.name!, 'io.kubernetes.pod.namespace': m.namespace!, 'io.kubernetes.pod.uid': m.uid!,
    };
    const annotations = { abc: 'def', 'example.com/multi': 'a=b,c' };
    const before = nowNanos();
    const id = await runPod({ ...config, labels, annotations });
    const afterRun = nowNanos();
    const s = await status(id);
    assert.equal(s.id, id);
    assert.deepEqual({ ...s.metadata }, { name: m.name, uid: m.uid, namespace: m.namespace, attempt: m.attempt });
    for (const [k, v] of Object.entries(labels)) assert.equal(s.labels[k], v, `label ${k}`);
    for (const [k, v] of Object.entries(annotations)) assert.equal(s.annotations[k], v, `annotation ${k}`);
    const created = BigInt(s.createdAt);
    assert.ok(created >= before - 1_000_000_000n && created <= afterRun + 1_000_000_000n, `created_at ${created} within [${before}, ${afterRun}]`);

    const items = (await target.cri.runtime.ListPodSandbox({ filter: { id } })).items;
    assert.equal(items.length, 1);
    const pod = items[0]!;
    assert.deepEqual({ ...pod.metadata }, { name: m.name, uid: m.uid, namespace: m.namespace, attempt: m.attempt });
    assert.equal(pod.state, 'SANDBOX_READY');
    assert.equal(pod.createdAt, s.createdAt);
    for (const [k, v] of Object.entries(labels)) assert.equal(pod.labels[k], v, `label ${k}`);
    for (const [k, v] of Object.entries(annotations)) assert.equal(pod.annotations[k], v, `annotation ${k}`);
    // Documented difference: runtime_handler for a request with "" (the default
    // handler) is echoed as "" by containerd 1.6 and named ("cradle") by cradle;
    // both are accepted by the kubelet, so it is not asserted.
    await removePod(id);
  });

  it('lists with filters: id, state, label selector, and their combination', async () => {
    const group = randomBytes(4).toString('hex');
    const a = await runPod(podConfig('filter-a', { labels: { group, role: 'a' } }));
    const b = await runPod(podConfig('filter-b', { labels: { group, role: 'b' } }));
    await target.cri.runtime.StopPodSandbox({ podSandboxId: b });
    const sorted = (ids: string[]) => [...ids].sort();

    assert.deepEqual(await list({ id: a }), [a]);
    assert.deepEqual(await list({ id: randomBytes(32).toString('hex') }), []);
    assert.deepEqual(sorted(await list({ labelSelector: { group } })), sorted([a, b]));
    assert.deepEqual(await list({ labelSelector: { group, role: 'b' } }), [b]);
    assert.deepEqual(await list({ labelSelector: { group, role: 'c' } }), []);
    const ready = await list({ state: { state: 'SANDBOX_READY' } });
    const notReady = await list({ state: { state: 'SANDBOX_NOTREADY' } });
    assert.ok(ready.includes(a) && !ready.includes(b), 'READY filter');
    assert.ok(notReady.includes(b) && !notReady.includes(a), 'NOTREADY filter');
    assert.deepEqual(await list({ state: { state: 'SANDBOX_READY' }, labelSelector: { group } }), [a]);
    assert.deepEqual(await list({ id: b, state: { state: 'SANDBOX_READY' } }), []);
    assert.deepEqual(await list({ id: b, state: { state: 'SANDBOX_NOTREADY' }, labelSelector: { role: 'b' } }), [b]);
    await removePod(a);
    await removePod(b);
  });

  it('a unique id prefix names the pod (crictl passes what the user typed)', async () => {
    const id = await runPod(podConfig('prefix'));
    const prefix = id.slice(0, 12);
    assert.equal((await target.cri.runtime.PodSandboxStatus({ podSandboxId: prefix })).status!.id, id);
    assert.deepEqual(await list({ id: prefix }), [id]);
    await target.cri.runtime.StopPodSandbox({ podSandboxId: prefix });
    assert.equal((await status(id)).state, 'SANDBOX_NOTREADY');
    await target.cri.runtime.RemovePodSandbox({ podSandboxId: prefix });
    live.delete(id);
    assert.deepEqual(await list({ id }), []);
  });

  it('PodSandboxStatus verbose info values are JSON', async () => {
    const id = await runPod(podConfig('verbose'));
    const res = await target.cri.runtime.PodSandboxStatus({ podSandboxId: id, verbose: true });
    assert.ok(Object.keys(res.info).length > 0);
    for (const [key, value] of Object.entries(res.info)) assert.doesNotThrow(() => JSON.parse(value), `info[${key}] is JSON`);
    assert.deepEqual(Object.keys((await target.cri.runtime.PodSandboxStatus({ podSandboxId: id, verbose: false })).info), []);
    await removePod(id);
  });

  it('StreamPodSandboxes streams what ListPodSandbox lists, with the same filter', async (t) => {
    const group = randomBytes(4).toString('hex');
    const a = await runPod(podConfig('stream-a', { labels: { group } }));
    const b = await runPod(podConfig('stream-b', { labels: { group } }));
    let streamed: string[];
    try {
      streamed = (await target.cri.runtimeStreams.StreamPodSandboxes({ filter: { labelSelector: { group } } }))
        .flatMap((r) => r.podSandboxes.map((p) => p.id));
    } catch (err) {
      // Documented difference: StreamPodSandboxes is newer than containerd 1.6's CRI.
      if (target.name !== 'cradle' && grpcError(err).code === grpcStatus.UNIMPLEMENTED) {
        t.skip(`${target.name} does not implement StreamPodSandboxes`);
        await removePod(a);
        await removePod(b);
        return;
      }
      throw err;
    }
    const listed = await list({ labelSelector: { group } });
    assert.deepEqual([...streamed].sort(), [...listed].sort());
    assert.deepEqual([...listed].sort(), [a, b].sort());
    await removePod(a);
    await removePod(b);
  });

  it('namespaced sysctls are set in the pod\'s namespaces (kernel.shm_rmid_forced, net.ipv4.ip_local_port_range)', async () => {
    const id = await runPod(podConfig('sysctls', {
      linux: { sysctls: { 'kernel.shm_rmid_forced': '1', 'net.ipv4.ip_local_port_range': '40000 41000' } },
    }));
    const { pid } = await podInside(target, id);
    // From the host (as a container would: /proc/sys shows the reader's namespaces); the container view is in security-context.test.ts.
    assert.equal(inPod(pid, ['ipc'], ['cat', '/proc/sys/kernel/shm_rmid_forced']).trim(), '1');
    assert.equal(inPod(pid, ['net'], ['cat', '/proc/sys/net/ipv4/ip_local_port_range']).trim().split(/\s+/).join(' '), '40000 41000');
    // ...and not on the host.
    assert.notEqual(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).join(' '), '40000 41000');
    await removePod(id);
  });

  it('an unsafe (but namespaced) sysctl is set too: fs.mqueue.msg_max in the pod IPC namespace', async () => {
    const id = await runPod(podConfig('sysctl-unsafe', { linux: { sysctls: { 'fs.mqueue.msg_max': '100' } } }));
    const { pid } = await podInside(target, id);
    assert.equal(inPod(pid, ['ipc'], ['cat', '/proc/sys/fs/mqueue/msg_max']).trim(), '100');
    await removePod(id);
  });

  it('a sysctl that is not namespaced fails RunPodSandbox and leaves no pod behind', async () => {
    const config = podConfig('sysctl-host', { linux: { sysctls: { 'vm.swappiness': '10' } } });
    const swappiness = fs.readFileSync('/proc/sys/vm/swappiness', 'utf8');
    await assert.rejects(target.cri.runtime.RunPodSandbox({ config }));
    assert.equal(fs.readFileSync('/proc/sys/vm/swappiness', 'utf8'), swappiness, 'host sysctl untouched');
    const left = (await target.cri.runtime.ListPodSandbox({ filter: null })).items.filter((p) => p.metadata?.name === config.metadata!.name);
    for (const p of left) live.add(p.id);
    assert.deepEqual(left, []);
  });

  it('an unknown runtime handler fails RunPodSandbox', async () => {
    const config = podConfig('handler');
    await assert.rejects(target.cri.runtime.RunPodSandbox({ config, runtimeHandler: 'no-such-handler' }));
    const left = (await target.cri.runtime.ListPodSandbox({ filter: null })).items.filter((p) => p.metadata?.name === config.metadata!.name);
    for (const p of left) live.add(p.id);
    assert.deepEqual(left, []);
  });

  it('sets the pod hostname in its UTS namespace and its hostname file', async () => {
    const id = await runPod(podConfig('hostname', { hostname: 'critest-host' }));
    const inside = await podInside(target, id);
    assert.equal(inPod(inside.pid, ['uts'], ['hostname']).trim(), 'critest-host');
    assert.ok(inside.files.hostname, 'the runtime names the pod hostname file');
    assert.equal(fs.readFileSync(inside.files.hostname, 'utf8').trim(), 'critest-host');
    // Documented difference: without config.hostname containerd 1.6 uses the
    // node's hostname, cradle the first 12 characters of the pod id (the kubelet always sets it).
    await removePod(id);
  });

  it('writes the pod DNS config into its resolv.conf', async () => {
    const id = await runPod(podConfig('dns', {
      dnsConfig: { servers: ['10.10.10.10'], searches: ['google.com'], options: ['ndots:8'] },
    }));
    const inside = await podInside(target, id);
    assert.ok(inside.files.resolvConf, 'the runtime names the pod resolv.conf');
    const text = fs.readFileSync(inside.files.resolvConf, 'utf8');
    for (const line of ['nameserver 10.10.10.10', 'search google.com', 'options ndots:8']) {
      assert.ok(text.split('\n').includes(line), `resolv.conf has "${line}": ${text}`);
    }
    await removePod(id);
  });

  it('without a DNS config the pod resolv.conf is the host\'s', async () => {
    const id = await runPod(podConfig('dns-host'));
    const inside = await podInside(target, id);
    assert.ok(inside.files.resolvConf, 'the runtime names the pod resolv.conf');
    assert.equal(fs.readFileSync(inside.files.resolvConf, 'utf8'), fs.readFileSync('/etc/resolv.conf', 'utf8'));
    await removePod(id);
  });

  it('runs a host network pod: pause in the host network namespace, no pod IP', async () => {
    const id = await runPod(podConfig('hostnet', {
      linux: { securityContext: { namespaceOptions: { network: 'NODE', pid: 'POD', ipc: 'POD' } } },
    }));
    const s = await status(id);
    assert.equal(s.state, 'SANDBOX_READY');
    assert.equal(s.linux?.namespaces?.options?.network, 'NODE');
    assert.equal(s.network?.ip ?? '', '');
    const { pid } = await podInside(target, id);
    assert.equal(nsIdentity(`/proc/${pid}/ns/net`), nsIdentity('/proc/self/ns/net'));
    assert.notEqual(nsIdentity(`/proc/${pid}/ns/ipc`), nsIdentity('/proc/self/ns/ipc'));
    await removePod(id);
  });

  it('reports the namespace options it was given', async () => {
    const id = await runPod(podConfig('nsopts', {
      linux: { securityContext: { namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'NODE' } } },
    }));
    const { pid } = await podInside(target, id);
    const options = (await status(id)).linux?.namespaces?.options;
    assert.equal(options?.network, 'POD');
    assert.equal(options?.pid, 'CONTAINER');
    assert.equal(options?.ipc, 'NODE');
    assert.equal(nsIdentity(`/proc/${pid}/ns/ipc`), nsIdentity('/proc/self/ns/ipc'), 'ipc=NODE shares the host IPC namespace');
    assert.notEqual(nsIdentity(`/proc/${pid}/ns/net`), nsIdentity('/proc/self/ns/net'));
    await removePod(id);
  });

  it('one pod name, one sandbox: a second run with the same metadata makes no second pod; remove frees the name', async (t) => {
    const config = podConfig('reserved');
    const id = await runPod(config);
    // containerd answers "failed to reserve sandbox name"; a runtime may also hand
    // back the same id (cri-o does for a kubelet retry). Never a second sandbox.
    const second = await target.cri.runtime.RunPodSandbox({ config }).then((r) => r.podSandboxId, (err: unknown) => {
      t.diagnostic(`second RunPodSandbox: ${grpcStatus[grpcError(err).code]} ${grpcError(err).details}`);
      return id;
    });
    if (second !== id) live.add(second);
    assert.equal(second, id, 'no second sandbox for the same name');
    const same = (await target.cri.runtime.ListPodSandbox({ filter: null })).items.filter((p) => p.metadata?.name === config.metadata!.name);
    assert.equal(same.length, 1);
    await removePod(id);
    const again = await runPod(config);
    assert.notEqual(again, id);
    assert.equal((await status(again)).state, 'SANDBOX_READY');
    await removePod(again);
  });

  it('a pod whose pause process dies turns NOTREADY (the kubelet then recreates it), and can be stopped and removed', async () => {
    const id = await runPod(podConfig('pause-dies'));
    const { pid } = await podInside(target, id);
    process.kill(pid, 'SIGKILL');
    let state = '';
    for (let i = 0; i < 100 && state !== 'SANDBOX_NOTREADY'; i++) {
      state = (await status(id)).state;
      if (state !== 'SANDBOX_NOTREADY') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(state, 'SANDBOX_NOTREADY');
    assert.deepEqual(await list({ id, state: { state: 'SANDBOX_NOTREADY' } }), [id]);
    await removePod(id);
    assert.deepEqual(await list({ id }), []);
  });

  it('pid=NODE shares the host PID namespace; otherwise the pause is PID 1 of its own', async (t) => {
    const host = await runPod(podConfig('pid-node', { linux: { securityContext: { namespaceOptions: { network: 'POD', pid: 'NODE', ipc: 'POD' } } } }));
    const own = await runPod(podConfig('pid-pod', { linux: { securityContext: { namespaceOptions: { network: 'POD', pid: 'POD', ipc: 'POD' } } } }));
    const hostPid = (await podInside(target, host)).pid;
    const ownPid = (await podInside(target, own)).pid;
    assert.equal(nsIdentity(`/proc/${hostPid}/ns/pid`), nsIdentity('/proc/self/ns/pid'));
    assert.notEqual(nsIdentity(`/proc/${ownPid}/ns/pid`), nsIdentity('/proc/self/ns/pid'));
    const nsPid = /^NSpid:\s+(.*)$/m.exec(fs.readFileSync(`/proc/${ownPid}/status`, 'utf8'))![1]!.trim().split(/\s+/);
    assert.equal(nsPid[nsPid.length - 1], '1');
    assert.equal((await status(host)).linux?.namespaces?.options?.pid, 'NODE');
    await removePod(host);
    // cradle leaves the fixture pause's child of a pid=NODE pod running (README, known bugs).
    const left = await killPodLeftovers(host);
    if (left > 0) t.diagnostic(`${left} process(es) of the pid=NODE pod left after RemovePodSandbox (killed by the test)`);
    await removePod(own);
  });

  it('runs the pause process below the cgroup parent given (cgroupfs), and removes the pod cgroup with the pod', async (t) => {
    const top = `critest-${randomBytes(4).toString('hex')}`;
    const parent = `/${top}/pod-uid`;
    t.after(() => {
      // Runtimes (like runc) create the parents but never remove them: the kubelet owns them.
      for (const hierarchy of fs.readdirSync('/sys/fs/cgroup')) {
        for (const dir of [`/sys/fs/cgroup/${hierarchy}${parent}`, `/sys/fs/cgroup/${hierarchy}/${top}`]) {
          try { fs.rmdirSync(dir); } catch { /* absent, or not a hierarchy */ }
        }
      }
    });
    const id = await runPod(podConfig('cgroup', { linux: { cgroupParent: parent } }));
    const { pid } = await podInside(target, id);
    const paths = new Map(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').map((line) => {
      const [, controllers, p] = line.split(':') as [string, string, string];
      return [controllers, p] as const;
    }));
    // Documented difference: on a hybrid host containerd's runc also moves the
    // pause into the unified (0::) hierarchy; cradle leaves it at "/". Only v1 is checked.
    for (const controller of ['memory', 'pids', 'cpu,cpuacct', 'cpu']) {
      const p = paths.get(controller);
      if (p === undefined) continue;
      assert.ok(p.startsWith(`${parent}/`), `${controller} cgroup ${p} below ${parent}`);
      assert.ok(p.endsWith(id), `${controller} cgroup ${p} named after the pod id`);
    }
    const memory = paths.get('memory');
    await removePod(id);
    if (memory) assert.equal(fs.existsSync(`/sys/fs/cgroup/memory${memory}`), false, 'pod cgroup removed');
  });

  it('pods survive a runtime restart: READY stays READY (same pause, IP, attributes), NOTREADY stays NOTREADY', async (t) => {
    if (!target.restart) return t.skip('an external endpoint cannot be restarted by the suite');
    const ready = await runPod(podConfig('restart-ready', { labels: { keep: 'me' }, annotations: { a: 'b' } }));
    const stopped = await runPod(podConfig('restart-stopped'));
    await target.cri.runtime.StopPodSandbox({ podSandboxId: stopped });
    const before = await status(ready);
    const { pid } = await podInside(target, ready);
    await target.restart();
    const after = await status(ready);
    assert.equal(after.state, 'SANDBOX_READY');
    assert.equal(after.network?.ip, before.network?.ip);
    assert.equal(after.createdAt, before.createdAt);
    assert.deepEqual({ ...after.metadata }, { ...before.metadata });
    assert.equal(after.labels.keep, 'me');
    assert.equal(after.annotations.a, 'b');
    assert.equal((await podInside(target, ready)).pid, pid, 'the same pause process');
    assert.equal((await status(stopped)).state, 'SANDBOX_NOTREADY');
    assert.deepEqual([...await list({ labelSelector: { keep: 'me' } })], [ready]);
    await removePod(ready);
    await removePod(stopped);
    assert.equal(fs.existsSync(`/proc/${pid}/ns/net`), false, 'pause gone after remove');
  });

  it('a pause process that dies while the runtime is down is NOTREADY after the restart', async (t) => {
    if (!target.restart) return t.skip('an external endpoint cannot be restarted by the suite');
    const id = await runPod(podConfig('dies-while-down'));
    const { pid } = await podInside(target, id);
    let alive = false;
    await target.restart(async () => {
      alive = fs.existsSync(`/proc/${pid}/ns/net`);
      process.kill(pid, 'SIGKILL');
      while (fs.existsSync(`/proc/${pid}/ns/net`)) await new Promise((r) => setTimeout(r, 20));
    });
    assert.ok(alive, 'the pause was alive across the stop');
    let state = '';
    for (let i = 0; i < 100 && state !== 'SANDBOX_NOTREADY'; i++) {
      state = (await status(id)).state;
      if (state !== 'SANDBOX_NOTREADY') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(state, 'SANDBOX_NOTREADY');
    await removePod(id);
  });

  it('without namespace options reports the CRI defaults (all POD)', async () => {
    const id = await runPod(podConfig('nsdefault'));
    const options = (await status(id)).linux?.namespaces?.options;
    await removePod(id);
    assert.deepEqual([options?.network, options?.pid, options?.ipc], ['POD', 'POD', 'POD']);
  });
});
