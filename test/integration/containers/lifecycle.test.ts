// Containers through a real cradled: create/start/stop/remove, exit codes and
// reasons, logs, ExecSync, resources, events, and survival across restarts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { PodFixture } from '../../helpers/pod-fixture';
import { removeCgroupParent } from '../../helpers/cgroup-cleanup';
import { grpcError } from '../../helpers/cri-client';
import { mountsContaining } from '../../helpers/pod-network';
import { parseCriLog } from '../../../src/runtime/conmon/conmon';
import { isProcessAlive } from '../../../src/runtime/conmon/proc';
import { busyboxImage } from '../../helpers/image-builder';
import { loadCriProto } from '../../../src/cri-server/proto';
import { EXEC_SYNC_OUTPUT_LIMIT } from '../../../src/containers/manager';
import { inspectGet } from '../../../src/daemon/inspect';
import { baseArgs, runCradled } from '../../helpers/daemon';
import { metricValue, scrapeMetrics } from '../../helpers/metrics';

const f = new PodFixture('cradle-tct0', '10.216.0.0/24');
/** [runtime] log_size_max of this suite's daemon. */
const LOG_SIZE_MAX = 256 * 1024;

const scrape = () => scrapeMetrics(f.daemon);
const metric = metricValue;

describe('containers', () => {
  before(() => f.start(['--metrics-enable', '--metrics-port', '0', '--runtime-log-size-max', String(LOG_SIZE_MAX)]));
  after(() => f.stop());

  it('metrics follow a pod lifecycle: CNI operations, conmon processes, operations per RPC', async () => {
    const before = await scrape();
    const adds = metric(before, 'container_runtime_cradle_cni_operations_total{operation="ADD"}') ?? 0;
    const runs = metric(before, 'container_runtime_cradle_operations_total{operation="RunPodSandbox"}') ?? 0;
    const conmons = metric(before, 'container_runtime_cradle_conmon_processes') ?? 0;
    const pod = await f.runPod('metrics');
    await f.runContainer(pod, f.containerConfig('m', ['sleep', '1000']));
    let text = await scrape();
    assert.equal(metric(text, 'container_runtime_cradle_cni_operations_total{operation="ADD"}'), adds + 1);
    assert.equal(metric(text, 'container_runtime_cradle_operations_total{operation="RunPodSandbox"}'), runs + 1);
    assert.equal(metric(text, 'container_runtime_cradle_conmon_processes'), conmons + 2, 'pause + container monitors');
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
    text = await scrape();
    assert.equal(metric(text, 'container_runtime_cradle_cni_operations_total{operation="DEL"}'), (metric(before, 'container_runtime_cradle_cni_operations_total{operation="DEL"}') ?? 0) + 1);
    assert.equal(metric(text, 'container_runtime_cradle_conmon_processes'), conmons);
    assert.ok((metric(text, 'container_runtime_cradle_cni_operations_duration_seconds_count{operation="ADD"}') ?? 0) >= 1);
  });

  it('the inspection API and `cradled status` show pods, containers, images and monitors', async () => {
    const pod = await f.runPod('inspect');
    const id = await f.runContainer(pod, f.containerConfig('seen', ['sleep', '1000']));
    const socket = f.dirs.layout.inspectSocket;
    const containers = JSON.parse((await inspectGet(socket, '/containers')).body) as { id: string; state: string }[];
    assert.ok(containers.some((c) => c.id === id && c.state === 'CONTAINER_RUNNING'));
    const one = JSON.parse((await inspectGet(socket, `/containers/${id.slice(0, 12)}`)).body) as { id: string; pid: number };
    assert.equal(one.id, id);
    assert.ok(isProcessAlive(one.pid));
    assert.equal((await inspectGet(socket, '/containers/nope')).status, 404);
    const pods = JSON.parse((await inspectGet(socket, '/pods')).body) as { id: string }[];
    assert.ok(pods.some((p) => p.id === pod.id));
    const status = await runCradled(['status', ...baseArgs(f.dirs)]);
    assert.match(status.stdout, /^containers +\d+$/m);
    assert.match(status.stdout, /^images +[1-9]\d*$/m);
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
  });

  it('runs to completion: exit code, reason, timestamps and CRI logs', async () => {
    const pod = await f.runPod('exit');
    const id = await f.runContainer(pod, f.containerConfig('exiter', ['sh', '-c', 'echo hello; echo oops >&2; exit 3']));
    await f.waitForState(id, 'CONTAINER_EXITED');
    const s = (await f.cri.runtime.ContainerStatus({ containerId: id })).status!;
    assert.equal(s.exitCode, 3);
    assert.equal(s.reason, 'Error');
    assert.ok(BigInt(s.createdAt) <= BigInt(s.startedAt) && BigInt(s.startedAt) <= BigInt(s.finishedAt), 'created <= started <= finished');
    assert.equal(s.logPath, path.join(pod.config.logDirectory!, 'exiter.log'));
    const lines = parseCriLog(fs.readFileSync(s.logPath)).map((r) => `${r.stream} ${r.content.toString()}`);
    assert.deepEqual(lines.sort(), ['stderr oops', 'stdout hello']);
    const ok = await f.runContainer(pod, f.containerConfig('ok', ['true']));
    await f.waitForState(ok, 'CONTAINER_EXITED');
    assert.equal((await f.cri.runtime.ContainerStatus({ containerId: ok })).status!.reason, 'Completed');
  });

  it('image user, env, args and working dir combine as the kubelet expects', async () => {
    const img = await f.pushAndPull('test/userimg:1', busyboxImage({
      users: [{ name: 'app', uid: 1000, gid: 1000, home: '/home/app' }], groups: [{ name: 'app', gid: 1000 }],
      config: { User: 'app', Env: ['FROM_IMAGE=1', 'SHARED=image'], WorkingDir: '/tmp', Entrypoint: ['sh', '-c'], Cmd: ['echo default'] },
    }));
    const pod = await f.runPod('env');
    const id = await f.runContainer(pod, {
      ...f.containerConfig('env', [], { image: { image: img.reference } }),
      command: [], args: ['echo "$(id -u):$(id -g) $(pwd) $FROM_IMAGE $SHARED $FROM_CRI"'],
      envs: [{ key: 'SHARED', value: Buffer.from('cri') }, { key: 'FROM_CRI', value: Buffer.from('yes') }],
    });
    await f.waitForState(id, 'CONTAINER_EXITED');
    const s = (await f.cri.runtime.ContainerStatus({ containerId: id })).status!;
    assert.equal(s.exitCode, 0, s.message);
    const out = parseCriLog(fs.readFileSync(s.logPath)).map((r) => r.content.toString()).join('\n');
    assert.equal(out, '1000:1000 /tmp 1 cri yes');
    assert.equal(s.user!.linux!.uid, '1000');
  });

  it('ExecSync: output, exit codes, timeout as -1; stop with a timeout kills a process ignoring SIGTERM', async () => {
    const pod = await f.runPod('exec');
    const id = await f.runContainer(pod, f.containerConfig('sleeper', ['sh', '-c', 'trap "" TERM; sleep 1000']));
    await f.waitForState(id, 'CONTAINER_RUNNING');
    const r = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['sh', '-c', 'echo out; echo err >&2; hostname; exit 5'], timeout: 10 });
    assert.equal(r.exitCode, 5);
    assert.equal(r.stdout.toString(), `out\n${pod.config.hostname}\n`);
    assert.equal(r.stderr.toString(), 'err\n');
    const slow = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['sleep', '30'], timeout: 1 });
    assert.equal(slow.exitCode, -1);
    assert.match(slow.stderr.toString(), /timed out/);
    await assert.rejects(f.cri.runtime.ExecSync({ containerId: id, cmd: [], timeout: 1 }), (err) => grpcError(err).code === grpc.status.INVALID_ARGUMENT);

    const started = Date.now();
    await f.cri.runtime.StopContainer({ containerId: id, timeout: 1 });
    assert.ok(Date.now() - started >= 900, 'waited for the grace period');
    const s = (await f.cri.runtime.ContainerStatus({ containerId: id })).status!;
    assert.equal(s.state, 'CONTAINER_EXITED');
    assert.equal(s.exitCode, 137);
    await f.cri.runtime.StopContainer({ containerId: id, timeout: 1 });
    await assert.rejects(f.cri.runtime.ExecSync({ containerId: id, cmd: ['true'], timeout: 1 }), (err) => grpcError(err).code === grpc.status.FAILED_PRECONDITION);
  });

  it('supplemental groups policy: Merge adds the image\'s /etc/group memberships, Strict only what the pod asks', async () => {
    const img = await f.pushAndPull('test/groupimg:1', busyboxImage({
      users: [{ name: 'alice', uid: 1000, gid: 1000, home: '/home/alice' }],
      groups: [{ name: 'alice', gid: 1000 }, { name: 'wheel2', gid: 3000, members: ['alice'] }],
    }));
    const pod = await f.runPod('groups');
    const groupsUnder = async (policy: 'Merge' | 'Strict'): Promise<{ ids: string; reported: string[] }> => {
      const id = await f.runContainer(pod, f.containerConfig(`g-${policy.toLowerCase()}`, ['id', '-G'], {
        image: { image: img.reference },
        linux: { securityContext: { runAsUser: { value: '1000' }, supplementalGroups: ['2000'], supplementalGroupsPolicy: policy } },
      }));
      await f.waitForState(id, 'CONTAINER_EXITED');
      const s = (await f.cri.runtime.ContainerStatus({ containerId: id })).status!;
      return { ids: parseCriLog(fs.readFileSync(s.logPath)).map((r) => r.content.toString()).join(' ').split(' ').sort().join(' '), reported: s.user!.linux!.supplementalGroups };
    };
    const merge = await groupsUnder('Merge');
    assert.equal(merge.ids, '1000 2000 3000');
    assert.deepEqual([...merge.reported].sort(), ['1000', '2000', '3000']);
    const strict = await groupsUnder('Strict');
    assert.equal(strict.ids, '1000 2000');
    assert.deepEqual([...strict.reported].sort(), ['1000', '2000']);
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
  });

  it('log_size_max: conmon truncates a log that outgrows it; the newest lines are kept', async () => {
    const pod = await f.runPod('logcap');
    // ~1 MiB of CRI log lines, four times the cap.
    const id = await f.runContainer(pod, f.containerConfig('chatty', ['sh', '-c', 'i=0; while [ $i -lt 12000 ]; do echo "line $i of a log that outgrows its cap"; i=$((i+1)); done; echo last']));
    await f.waitForState(id, 'CONTAINER_EXITED', 60_000);
    const s = (await f.cri.runtime.ContainerStatus({ containerId: id })).status!;
    assert.equal(s.exitCode, 0);
    const size = fs.statSync(s.logPath).size;
    assert.ok(size > 0 && size <= LOG_SIZE_MAX, `log of ${size} bytes, cap ${LOG_SIZE_MAX}`);
    const records = parseCriLog(fs.readFileSync(s.logPath));
    assert.equal(records[records.length - 1]!.content.toString(), 'last');
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
  });

  it('a small memory limit ends in OOMKilled', async () => {
    const pod = await f.runPod('oom');
    const id = await f.runContainer(pod, f.containerConfig('hog', ['sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived'], {
      linux: { resources: { memoryLimitInBytes: String(32 * 1024 * 1024) } },
    }));
    await f.waitForState(id, 'CONTAINER_EXITED', 60_000);
    const s = (await f.cri.runtime.ContainerStatus({ containerId: id })).status!;
    assert.equal(s.reason, 'OOMKilled');
    assert.equal(s.exitCode, 137);
    const text = await scrape();
    assert.equal(metric(text, 'container_runtime_cradle_containers_oom_count_total{name="hog"}'), 1);
    assert.ok((metric(text, 'container_runtime_cradle_containers_oom_total') ?? 0) >= 1);
  });

  it('a 4 MiB memory limit: the container starts (the native init has no floor) and is OOMKilled when it allocates more', async () => {
    const pod = await f.runPod('small');
    const id = await f.runContainer(pod, f.containerConfig('small', ['sh', '-c', 'echo started; exec dd if=/dev/zero of=/dev/null bs=16M count=1'], {
      linux: { resources: { memoryLimitInBytes: String(4 * 1024 * 1024) } },
    }));
    await f.waitForState(id, 'CONTAINER_EXITED', 60_000);
    const s = (await f.cri.runtime.ContainerStatus({ containerId: id })).status!;
    assert.deepEqual(parseCriLog(fs.readFileSync(s.logPath)).map((r) => r.content.toString()), ['started'], 'the shell ran under the limit');
    assert.equal(s.reason, 'OOMKilled');
    assert.equal(s.exitCode, 137);
    assert.equal(s.resources!.linux!.memoryLimitInBytes, String(4 * 1024 * 1024));
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
  });

  it('UpdateContainerResources reaches the cgroup and ContainerStatus', async () => {
    const pod = await f.runPod('update');
    const id = await f.runContainer(pod, f.containerConfig('upd', ['sleep', '1000'], { linux: { resources: { memoryLimitInBytes: String(64 * 1024 * 1024) } } }));
    await f.cri.runtime.UpdateContainerResources({ containerId: id, linux: { memoryLimitInBytes: String(96 * 1024 * 1024), cpuShares: '512' } });
    const info = JSON.parse((await f.cri.runtime.ContainerStatus({ containerId: id, verbose: true })).info.info!) as { cgroupsPath: string };
    assert.equal(fs.readFileSync(path.join('/sys/fs/cgroup/memory', info.cgroupsPath, 'memory.limit_in_bytes'), 'utf8').trim(), String(96 * 1024 * 1024));
    assert.equal(fs.readFileSync(path.join('/sys/fs/cgroup/cpu', info.cgroupsPath, 'cpu.shares'), 'utf8').trim(), '512');
    const s = await f.cri.runtime.ContainerStatus({ containerId: id });
    assert.equal(s.status!.resources!.linux!.memoryLimitInBytes, String(96 * 1024 * 1024));
    await assert.rejects(f.cri.runtime.UpdateContainerResources({ containerId: id, linux: { cpuQuota: '500' } }), (err) => grpcError(err).code === grpc.status.INVALID_ARGUMENT && /cpuQuota: 500 is below the kernel minimum/.test(grpcError(err).details));
  });

  it('UpdatePodSandboxResources writes the pod cgroup; PodSandboxStatus lists the pod\'s containers', async () => {
    const pod = await f.runPod('podres', { linux: { cgroupParent: '/cradle-test-pods/podres' } });
    const id = await f.runContainer(pod, f.containerConfig('inpod', ['sleep', '1000']));
    await f.cri.runtime.UpdatePodSandboxResources({ podSandboxId: pod.id, resources: { memoryLimitInBytes: String(200 * 1024 * 1024), cpuShares: '300' }, overhead: { memoryLimitInBytes: String(8 * 1024 * 1024), cpuShares: '10' } });
    assert.equal(fs.readFileSync('/sys/fs/cgroup/memory/cradle-test-pods/podres/memory.limit_in_bytes', 'utf8').trim(), String(208 * 1024 * 1024));
    assert.equal(fs.readFileSync('/sys/fs/cgroup/cpu/cradle-test-pods/podres/cpu.shares', 'utf8').trim(), '310');
    const status = await f.cri.runtime.PodSandboxStatus({ podSandboxId: pod.id });
    assert.deepEqual(status.containersStatuses.map((c) => [c.id, c.state]), [[id, 'CONTAINER_RUNNING']]);
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
    removeCgroupParent('/cradle-test-pods/podres');
    removeCgroupParent('/cradle-test-pods');
  });

  it('stats and metrics: sane, non-zero numbers for running containers and their pod', async () => {
    const pod = await f.runPod('stats');
    const id = await f.runContainer(pod, f.containerConfig('busy', ['sh', '-c', 'head -c 30000000 /dev/zero > /tmp/fill; x=$(head -c 8000000 /dev/zero | tr "\\0" a); while true; do :; done']));
    await new Promise((r) => setTimeout(r, 1500));
    await f.cri.runtime.ContainerStats({ containerId: id });
    await new Promise((r) => setTimeout(r, 1100));
    const s = (await f.cri.runtime.ContainerStats({ containerId: id })).stats!;
    assert.equal(s.attributes!.id, id);
    assert.ok(Number(s.cpu!.usageCoreNanoSeconds!.value) > 1e8, `cpu ${s.cpu!.usageCoreNanoSeconds!.value}`);
    assert.ok(Number(s.cpu!.usageNanoCores!.value) > 1e8, `nanocores ${s.cpu!.usageNanoCores!.value}`);
    assert.ok(Number(s.memory!.workingSetBytes!.value) > 4e6, `working set ${s.memory!.workingSetBytes!.value}`);
    assert.ok(Number(s.writableLayer!.usedBytes!.value) >= 30_000_000, `writable layer ${s.writableLayer!.usedBytes!.value}`);
    const listed = await f.cri.runtime.ListContainerStats({ filter: { podSandboxId: pod.id } });
    assert.deepEqual(listed.stats.map((x) => x.attributes!.id), [id]);
    const podStats = (await f.cri.runtime.PodSandboxStats({ podSandboxId: pod.id })).stats!;
    assert.ok(Number(podStats.linux!.memory!.workingSetBytes!.value) >= Number(s.memory!.workingSetBytes!.value) * 0.9);
    assert.equal(podStats.linux!.network!.defaultInterface!.name, 'eth0');
    assert.deepEqual(podStats.linux!.containers.map((c) => c.attributes!.id), [id]);
    const descriptors = (await f.cri.runtime.ListMetricDescriptors({})).descriptors.map((d) => d.name);
    assert.ok(descriptors.includes('container_memory_working_set_bytes'));
    const metrics = (await f.cri.runtime.ListPodSandboxMetrics({})).podMetrics.find((m) => m.podSandboxId === pod.id)!;
    const ws = metrics.containerMetrics[0]!.metrics.find((m) => m.name === 'container_memory_working_set_bytes')!;
    assert.ok(Number(ws.value!.value) > 4e6);
    await f.cri.runtime.StopContainer({ containerId: id, timeout: 0 });
    await assert.rejects(f.cri.runtime.ContainerStats({ containerId: id }), (err) => grpcError(err).code === grpc.status.FAILED_PRECONDITION);
  });

  it('events arrive in order: created, started, stopped, deleted', async () => {
    const pod = await f.runPod('events');
    const seen: { type: string; id: string }[] = [];
    const proto = loadCriProto();
    const client = new proto.runtime.v1.RuntimeService(`unix://${f.daemon.socket}`, grpc.credentials.createInsecure());
    const events = client.GetContainerEvents({});
    events.on('data', (e: { containerId: string; containerEventType: string }) => seen.push({ type: e.containerEventType, id: e.containerId }));
    events.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 200));
    const id = await f.runContainer(pod, f.containerConfig('ev', ['true']));
    await f.waitForState(id, 'CONTAINER_EXITED');
    await f.cri.runtime.RemoveContainer({ containerId: id });
    for (let i = 0; i < 100 && seen.filter((e) => e.id === id).length < 4; i++) await new Promise((r) => setTimeout(r, 20));
    events.cancel();
    client.close();
    assert.deepEqual(seen.filter((e) => e.id === id).map((e) => e.type),
      ['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT']);
  });

  it('ReopenContainerLog: after the kubelet renames the log, new lines go to a new file', async () => {
    const pod = await f.runPod('logs');
    const id = await f.runContainer(pod, f.containerConfig('ticker', ['sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done']));
    const logPath = (await f.cri.runtime.ContainerStatus({ containerId: id })).status!.logPath;
    await new Promise((r) => setTimeout(r, 400));
    fs.renameSync(logPath, `${logPath}.1`);
    await f.cri.runtime.ReopenContainerLog({ containerId: id });
    await new Promise((r) => setTimeout(r, 400));
    const fresh = parseCriLog(fs.readFileSync(logPath));
    assert.ok(fresh.length > 0 && fresh.every((r) => r.content.toString().startsWith('tick')), 'new file gets new lines');
  });

  it('list filters; remove kills, unmounts and is idempotent; bad input gets the right codes', async () => {
    const pod = await f.runPod('list');
    const id = await f.runContainer(pod, f.containerConfig('listed', ['sleep', '1000']));
    const byLabel = await f.cri.runtime.ListContainers({ filter: { labelSelector: { container: 'listed' } } });
    assert.deepEqual(byLabel.containers.map((c) => c.id), [id]);
    assert.deepEqual((await f.cri.runtime.ListContainers({ filter: { podSandboxId: pod.id, state: { state: 'CONTAINER_RUNNING' } } })).containers.map((c) => c.id), [id]);
    const streamed = (await f.cri.runtimeStreams.StreamContainers({ filter: { podSandboxId: pod.id } })).flatMap((m) => m.containers);
    assert.deepEqual(streamed.map((c) => c.id), [id]);
    const info = JSON.parse((await f.cri.runtime.ContainerStatus({ containerId: id, verbose: true })).info.info!) as { pid: number };
    // A checkpoint needs the kubelet's location (checkpoint.test.ts has the rest).
    await assert.rejects(f.cri.runtime.CheckpointContainer({ containerId: id }), (err) => {
      assert.equal(grpcError(err).code, grpc.status.INVALID_ARGUMENT);
      assert.match(grpcError(err).details, /location is required/);
      return true;
    });
    await f.cri.runtime.RemoveContainer({ containerId: id });
    await f.cri.runtime.RemoveContainer({ containerId: id });
    assert.equal(isProcessAlive(info.pid), false);
    assert.deepEqual(mountsContaining(id), []);
    await assert.rejects(f.cri.runtime.ContainerStatus({ containerId: id }), (err) => grpcError(err).code === grpc.status.NOT_FOUND);

    await assert.rejects(f.cri.runtime.CreateContainer({ podSandboxId: 'nope', config: f.containerConfig('x', ['true']) }), (err) => grpcError(err).code === grpc.status.NOT_FOUND);
    await assert.rejects(f.cri.runtime.CreateContainer({ podSandboxId: pod.id, config: f.containerConfig('x', ['true'], { image: { image: `${f.registry.host}/never/pulled:1` } }) }), (err) => {
      assert.equal(grpcError(err).code, grpc.status.NOT_FOUND);
      assert.match(grpcError(err).details, /never\/pulled:1/);
      return true;
    });
    await assert.rejects(f.cri.runtime.StartContainer({ containerId: 'nope' }), (err) => grpcError(err).code === grpc.status.NOT_FOUND);
    // RunAsGroup without RunAsUser/RunAsUsername (critest): refused before anything exists.
    const dataDirs = (): string[] => fs.readdirSync(f.dirs.layout.containerDataDirs).sort();
    const dataBefore = dataDirs();
    const countBefore = (await f.cri.runtime.ListContainers({})).containers.length;
    await assert.rejects(f.cri.runtime.CreateContainer({
      podSandboxId: pod.id, config: f.containerConfig('groupless', ['sh', '-c', 'echo $(id -u):$(id -g)'], { linux: { securityContext: { runAsGroup: { value: '1002' } } } }),
    }), (err) => {
      assert.equal(grpcError(err).code, grpc.status.INVALID_ARGUMENT, grpcError(err).details);
      assert.match(grpcError(err).details, /^config\.linux\.securityContext\.runAsGroup: set without runAsUser or runAsUsername/);
      return true;
    });
    assert.equal((await f.cri.runtime.ListContainers({})).containers.length, countBefore);
    assert.deepEqual(dataDirs(), dataBefore, 'no container directory was made');
    const withUser = await f.runContainer(pod, f.containerConfig('grouped', ['sh', '-c', 'echo $(id -u):$(id -g)'], { linux: { securityContext: { runAsUser: { value: '1001' }, runAsGroup: { value: '1002' } } } }));
    await f.waitForState(withUser, 'CONTAINER_EXITED');
    assert.equal((await f.cri.runtime.ContainerStatus({ containerId: withUser })).status!.exitCode, 0);
    assert.match(fs.readFileSync(path.join(pod.config.logDirectory!, 'grouped.log'), 'utf8'), / stdout F 1001:1002$/m);
    await f.cri.runtime.StopPodSandbox({ podSandboxId: pod.id });
    await assert.rejects(f.cri.runtime.CreateContainer({ podSandboxId: pod.id, config: f.containerConfig('late', ['true']) }), (err) => grpcError(err).code === grpc.status.FAILED_PRECONDITION);
  });

  it('a conmon killed from outside: the container is reported exited with a clear reason, not hung', async () => {
    const pod = await f.runPod('monitor');
    const id = await f.runContainer(pod, f.containerConfig('orphaned', ['sleep', '1000']));
    const info = JSON.parse((await f.cri.runtime.ContainerStatus({ containerId: id, verbose: true })).info.info!) as { pid: number; conmonPid: number };
    process.kill(info.conmonPid, 'SIGKILL');
    await f.waitForState(id, 'CONTAINER_EXITED', 15_000);
    const s = (await f.cri.runtime.ContainerStatus({ containerId: id })).status!;
    assert.equal(s.reason, 'ContainerMonitorDied');
    assert.match(s.message, /conmon/);
    for (let i = 0; i < 50 && isProcessAlive(info.pid); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(isProcessAlive(info.pid), false, 'the orphaned process was killed');
  });

  it('ExecSync: a missing command, output capped to fit a 16 MiB reply, a timed-out process is killed, concurrent calls', async () => {
    const pod = await f.runPod('execsync');
    const id = await f.runContainer(pod, f.containerConfig('target', ['sleep', '1000']));
    await f.waitForState(id, 'CONTAINER_RUNNING');
    const missing = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['no-such-command'], timeout: 10 });
    assert.equal(missing.exitCode, 1);
    assert.match(missing.stderr.toString(), /no-such-command.*not found/);
    const big = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['head', '-c', '20000000', '/dev/zero'], timeout: 30 });
    assert.equal(big.exitCode, 0);
    assert.equal(big.stdout.length, EXEC_SYNC_OUTPUT_LIMIT);
    assert.ok(EXEC_SYNC_OUTPUT_LIMIT < 16 * 1024 * 1024);
    const slow = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['sleep', '31'], timeout: 1 });
    assert.equal(slow.exitCode, -1);
    const ps = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['ps', '-o', 'args'], timeout: 10 });
    assert.doesNotMatch(ps.stdout.toString(), /sleep 31/, 'the timed-out process is gone');
    const many = await Promise.all(Array.from({ length: 4 }, (_, i) => f.cri.runtime.ExecSync({ containerId: id, cmd: ['echo', `n${i}`], timeout: 10 })));
    assert.deepEqual(many.map((r) => r.stdout.toString()), ['n0\n', 'n1\n', 'n2\n', 'n3\n']);
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
  });

  it('containers survive kill -9 of cradled; an exit while it was down is recorded', async () => {
    const pod = await f.runPod('restart');
    const long = await f.runContainer(pod, f.containerConfig('long', ['sleep', '1000']));
    const short = await f.runContainer(pod, f.containerConfig('short', ['sh', '-c', 'sleep 1; exit 4']));
    await f.cri.runtime.ExecSync({ containerId: long, cmd: ['true'], timeout: 5 });
    f.daemon.proc.kill('SIGKILL');
    await f.daemon.waitExit();
    await new Promise((r) => setTimeout(r, 1500));
    await f.restart();
    assert.equal((await f.cri.runtime.PodSandboxStatus({ podSandboxId: pod.id })).status!.state, 'SANDBOX_READY');
    assert.equal((await f.cri.runtime.ContainerStatus({ containerId: long })).status!.state, 'CONTAINER_RUNNING');
    await f.waitForState(short, 'CONTAINER_EXITED', 5000);
    assert.equal((await f.cri.runtime.ContainerStatus({ containerId: short })).status!.exitCode, 4);
    const r = await f.cri.runtime.ExecSync({ containerId: long, cmd: ['echo', 'still here'], timeout: 5 });
    assert.equal(r.stdout.toString(), 'still here\n');
  });
});
