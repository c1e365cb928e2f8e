// Checkpoint and restore (KEP-2008) in the VM lane's guest, where CRIU works with
// the guest's Debian kernel: cradled (the shipped unit under systemd) checkpoints a
// running counter into a cri-o-layout archive while it keeps running, then a new
// pod restores the archive as a new container whose counter continues from its
// checkpointed value; logs, exec, stop and remove work on it. Skipped outside the guest.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as grpc from '@grpc/grpc-js';
import * as tar from 'tar-stream';
import { CriClient, grpcError } from '../helpers/cri-client';
import { startFixtureRegistry, type FixtureRegistry } from '../helpers/registry';
import { busyboxImage, pauseImage, pushImage, type PushedImage } from '../helpers/image-builder';
import { ServiceDropIns, systemctl } from './guest-service';
import { parseCriLog } from '../../src/runtime/conmon/conmon';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import type { ContainerConfig } from '../../src/generated/runtime/v1/ContainerConfig';

const IN_GUEST = process.env.CRADLE_VM_GUEST === '1';
const SOCKET = 'unix:///run/cradle/cradle.sock';
const DROP_INS = new ServiceDropIns('50-vm-checkpoint');
/** The run directory the host reads after the guest powers off. */
const RUN_DIR = '/mnt/cradle-run';
const SLOW_CALL = { timeoutMs: 300_000 };
/** The counter: its value lives only in the shell's memory; a file in the writable layer and one deleted from the image. */
const COUNTER = 'rm -f /etc/group; mkdir -p /data; echo kept > /data/file; i=0; while :; do echo "count $i"; i=$((i+1)); sleep 0.2; done';

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The counter values a CRI log holds, in order. */
function counts(logFile: string): number[] {
  if (!fs.existsSync(logFile)) return [];
  return parseCriLog(fs.readFileSync(logFile)).map((r) => /^count (\d+)$/.exec(r.content.toString())?.[1]).filter((v) => v !== undefined).map(Number);
}

/** Top-level member names of a tar, and the content of the small ones asked for. */
async function readTar(file: string, wanted: string[] = []): Promise<{ names: string[]; contents: Map<string, Buffer> }> {
  const names: string[] = [];
  const contents = new Map<string, Buffer>();
  const extract = tar.extract();
  const done = pipeline(fs.createReadStream(file), extract);
  for await (const entry of extract) {
    names.push(entry.header.name);
    const chunks: Buffer[] = [];
    for await (const chunk of entry) if (wanted.includes(entry.header.name)) chunks.push(chunk as Buffer);
    if (wanted.includes(entry.header.name)) contents.set(entry.header.name, Buffer.concat(chunks));
  }
  await done;
  return { names, contents };
}

/** CRIU's logs of a failed run, kept for reading on the host. */
function keepCriuLogs(): void {
  const root = '/var/lib/cradle/containers-data';
  if (!fs.existsSync(root) || !fs.existsSync(RUN_DIR)) return;
  for (const id of fs.readdirSync(root)) {
    for (const name of ['dump.log', 'restore.log']) {
      const file = path.join(root, id, name);
      if (fs.existsSync(file)) fs.copyFileSync(file, path.join(RUN_DIR, `${id.slice(0, 12)}-${name}`));
    }
  }
}

describe('VM checkpoint: CheckpointContainer and a restore from its archive', { skip: IN_GUEST ? false : 'runs inside the VM lane (scripts/vm-test.sh)' }, () => {
  let registry: FixtureRegistry;
  let pause: PushedImage;
  let busybox: PushedImage;
  let cri: CriClient;
  const work = '/var/tmp/cradle-vm-checkpoint';

  before(async () => {
    registry = await startFixtureRegistry();
    pause = await pushImage(registry, 'vm/pause:3.10', pauseImage());
    busybox = await pushImage(registry, 'vm/busybox:1', busyboxImage());
    DROP_INS.restartWith(registry, pause, 'cgroupfs');
    cri = new CriClient(SOCKET, {}, { timeoutMs: 300_000 });
    fs.rmSync(work, { recursive: true, force: true });
    fs.mkdirSync(work, { recursive: true });
    await cri.image.PullImage({ image: { image: busybox.reference } }, SLOW_CALL);
  });
  // Before the last test removes the pods (and their containers' directories).
  afterEach(() => keepCriuLogs());
  after(async () => {
    cri?.close();
    try { systemctl('stop', 'cradle.service'); } catch { /* not started */ }
    await registry?.stop();
    fs.rmSync(work, { recursive: true, force: true });
    // The smoke test runs next in the same guest, with its own settings.
    DROP_INS.remove();
  });

  const podConfig = (name: string): PodSandboxConfig => ({
    metadata: { name, namespace: 'vm', uid: `uid-${name}`, attempt: 0 }, hostname: name,
    logDirectory: path.join(work, `logs-${name}`), linux: { cgroupParent: `/cradle-vm-${name}` },
  });
  // The kubelet's default: a PID namespace per container.
  const containerConfig = (name: string, image: string, command?: string[]): ContainerConfig => ({
    metadata: { name, attempt: 0 }, image: { image }, ...(command ? { command } : {}), logPath: `${name}.log`,
    linux: { securityContext: { namespaceOptions: { pid: 'CONTAINER' } } },
  });

  const podA = podConfig('ckpt-a');
  const podB = podConfig('ckpt-b');
  const archive = path.join(work, 'counter.tar');
  let podAId = '';
  let podBId = '';
  let original = '';
  let atCheckpoint = -1;

  it('CheckpointContainer writes a cri-o-layout archive of a running counter, which keeps running', async () => {
    fs.mkdirSync(podA.logDirectory!, { recursive: true });
    podAId = (await cri.runtime.RunPodSandbox({ config: podA }, SLOW_CALL)).podSandboxId;
    original = (await cri.runtime.CreateContainer({
      podSandboxId: podAId, sandboxConfig: podA, config: containerConfig('counter', busybox.reference, ['sh', '-c', COUNTER]),
    }, SLOW_CALL)).containerId;
    await cri.runtime.StartContainer({ containerId: original });
    const originalLog = path.join(podA.logDirectory!, 'counter.log');
    await waitFor('the counter to reach 5', () => (counts(originalLog).some((n) => n >= 5) ? true : undefined));

    await cri.runtime.CheckpointContainer({ containerId: original, location: archive, timeout: '600' }, SLOW_CALL);
    atCheckpoint = Math.max(...counts(originalLog));
    // The forensic checkpoint leaves the container running: it counts on.
    assert.equal((await cri.runtime.ContainerStatus({ containerId: original })).status?.state, 'CONTAINER_RUNNING');
    await waitFor('the original to count on after its checkpoint', () => (Math.max(...counts(originalLog)) > atCheckpoint + 2 ? true : undefined), 60_000);

    // cri-o's archive layout, which the kubelet and checkpointctl read.
    assert.equal(fs.statSync(archive).mode & 0o777, 0o600, 'the archive holds memory pages: owner-only');
    const { names, contents } = await readTar(archive, ['config.dump', 'spec.dump', 'deleted.files']);
    for (const name of ['checkpoint/inventory.img', 'config.dump', 'spec.dump', 'rootfs-diff.tar', 'deleted.files', 'stats-dump', 'dump.log']) {
      assert.ok(names.includes(name), `${name} in the archive: ${names.filter((n) => !n.startsWith('checkpoint/')).join(' ')}`);
    }
    assert.ok(names.some((n) => /^checkpoint\/pages-\d+\.img$/.test(n)), 'memory pages in checkpoint/');
    const configDump = JSON.parse(contents.get('config.dump')!.toString()) as Record<string, unknown>;
    assert.equal(configDump.id, original);
    assert.equal(configDump.name, 'counter');
    assert.equal(configDump.rootfsImageName, busybox.reference);
    assert.equal(configDump.restored, false);
    assert.ok(Date.parse(String(configDump.checkpointedTime)) > 0, 'checkpointedTime');
    const specDump = JSON.parse(contents.get('spec.dump')!.toString()) as { process: { args: string[] } };
    assert.deepEqual(specDump.process.args, ['sh', '-c', COUNTER]);
    assert.deepEqual(JSON.parse(contents.get('deleted.files')!.toString()), ['/etc/group']);
    fs.writeFileSync(path.join(work, 'diff.tar'), (await readTar(archive, ['rootfs-diff.tar'])).contents.get('rootfs-diff.tar')!);
    const diff = await readTar(path.join(work, 'diff.tar'), ['data/file']);
    assert.equal(diff.contents.get('data/file')?.toString(), 'kept\n', 'the writable layer\'s file in rootfs-diff.tar');
    assert.ok(!diff.names.some((n) => n.startsWith('etc/hosts') || n.startsWith('etc/resolv.conf')), `no bind mount point in the diff: ${diff.names.join(' ')}`);
  });

  it('a container created from the archive in another pod is restored by StartContainer and counts on', async () => {
    assert.ok(atCheckpoint >= 5, 'the checkpoint was made');
    fs.mkdirSync(podB.logDirectory!, { recursive: true });
    podBId = (await cri.runtime.RunPodSandbox({ config: podB }, SLOW_CALL)).podSandboxId;
    const { containerId: restored } = await cri.runtime.CreateContainer({
      podSandboxId: podBId, sandboxConfig: podB, config: containerConfig('restored', archive),
    }, SLOW_CALL);
    const created = (await cri.runtime.ContainerStatus({ containerId: restored })).status!;
    assert.equal(created.state, 'CONTAINER_CREATED');
    assert.equal(created.image?.image, busybox.reference, 'the checkpoint\'s image');
    await cri.runtime.StartContainer({ containerId: restored }, SLOW_CALL);
    assert.equal((await cri.runtime.ContainerStatus({ containerId: restored })).status?.state, 'CONTAINER_RUNNING');

    // The log carries the checkpointed history on, then the counter continues from its value: never from 0 again.
    const restoredLog = path.join(podB.logDirectory!, 'restored.log');
    const after = await waitFor('the restored counter to count', () => {
      const all = counts(restoredLog);
      const zeroes = all.filter((n) => n === 0).length;
      return all.length > 0 && all[all.length - 1]! > atCheckpoint + 3 ? { all, zeroes } : undefined;
    }, 120_000);
    assert.equal(after.zeroes, 1, `one "count 0" only, the carried-over history's: ${after.all.join(',')}`);
    const firstRestored = after.all.find((n, i) => i > 0 && n <= after.all[i - 1]!);
    assert.ok(firstRestored === undefined || firstRestored >= 5, `the restored counter resumed at ${firstRestored}, not 0`);

    // The restored container is an ordinary one: exec sees its files, stop and remove work.
    const exec = await cri.runtime.ExecSync({ containerId: restored, cmd: ['sh', '-c', 'cat /data/file; ls /etc/group 2>&1'], timeout: '30' });
    assert.deepEqual(Buffer.from(exec.stdout!).toString().trim().split('\n'), ['kept', 'ls: /etc/group: No such file or directory']);
    const hostname = Buffer.from((await cri.runtime.ExecSync({ containerId: restored, cmd: ['hostname'], timeout: '30' })).stdout!).toString().trim();
    const stats = await cri.runtime.ContainerStats({ containerId: restored });
    assert.ok(BigInt(stats.stats?.memory?.workingSetBytes?.value ?? '0') > 0n, 'stats from the restored container\'s cgroup');
    await cri.runtime.StopContainer({ containerId: restored, timeout: '5' });
    const stopped = (await cri.runtime.ContainerStatus({ containerId: restored })).status!;
    assert.equal(stopped.state, 'CONTAINER_EXITED');
    await cri.runtime.RemoveContainer({ containerId: restored });
    assert.equal(hostname, 'ckpt-b', 'in the new pod\'s UTS namespace (joined, not the checkpointed one\'s)');
  });

  it('what cannot be checkpointed or restored says why', async () => {
    await assert.rejects(cri.runtime.CheckpointContainer({ containerId: 'nope', location: path.join(work, 'x.tar') }),
      (err) => grpcError(err).code === grpc.status.NOT_FOUND);
    const { containerId: idle } = await cri.runtime.CreateContainer({
      podSandboxId: podAId, sandboxConfig: podA, config: containerConfig('idle', busybox.reference, ['sleep', '1000']),
    }, SLOW_CALL);
    await assert.rejects(cri.runtime.CheckpointContainer({ containerId: idle, location: path.join(work, 'x.tar') }), (err) => {
      assert.equal(grpcError(err).code, grpc.status.FAILED_PRECONDITION);
      assert.match(grpcError(err).details, /only a running container can be checkpointed/);
      return true;
    });
    assert.equal(fs.existsSync(path.join(work, 'x.tar')), false);
    await assert.rejects(cri.runtime.CheckpointContainer({ containerId: original, location: '' }), (err) => grpcError(err).code === grpc.status.INVALID_ARGUMENT);
    // Not a tar: refused at CreateContainer, nothing made.
    const bogus = path.join(work, 'bogus.tar');
    fs.writeFileSync(bogus, 'not a checkpoint');
    const before = (await cri.runtime.ListContainers({})).containers.length;
    await assert.rejects(cri.runtime.CreateContainer({ podSandboxId: podAId, sandboxConfig: podA, config: containerConfig('bogus', bogus) }), (err) => {
      assert.equal(grpcError(err).code, grpc.status.INVALID_ARGUMENT, grpcError(err).details);
      return true;
    });
    assert.equal((await cri.runtime.ListContainers({})).containers.length, before);
  });

  it('a container in the pod\'s shared PID namespace is checkpointed and restored too', async () => {
    const podC = podConfig('ckpt-c');
    fs.mkdirSync(podC.logDirectory!, { recursive: true });
    const podCId = (await cri.runtime.RunPodSandbox({ config: podC }, SLOW_CALL)).podSandboxId;
    const shared = (name: string, image: string, command?: string[]): ContainerConfig => ({ ...containerConfig(name, image, command), linux: { securityContext: { namespaceOptions: { pid: 'POD' } } } });
    const { containerId } = await cri.runtime.CreateContainer({ podSandboxId: podAId, sandboxConfig: podA, config: shared('shared', busybox.reference, ['sh', '-c', COUNTER]) }, SLOW_CALL);
    await cri.runtime.StartContainer({ containerId });
    await waitFor('the shared counter to reach 3', () => (counts(path.join(podA.logDirectory!, 'shared.log')).some((n) => n >= 3) ? true : undefined));
    const sharedArchive = path.join(work, 'shared.tar');
    await cri.runtime.CheckpointContainer({ containerId, location: sharedArchive }, SLOW_CALL);
    const { containerId: restored } = await cri.runtime.CreateContainer({ podSandboxId: podCId, sandboxConfig: podC, config: shared('shared', sharedArchive) }, SLOW_CALL);
    await cri.runtime.StartContainer({ containerId: restored }, SLOW_CALL);
    await waitFor('the restored shared counter to count on', () => {
      const all = counts(path.join(podC.logDirectory!, 'shared.log'));
      return all.filter((n) => n === 0).length === 1 && all.length > 10 ? true : undefined;
    }, 120_000);
    await cri.runtime.StopPodSandbox({ podSandboxId: podCId });
    await cri.runtime.RemovePodSandbox({ podSandboxId: podCId });
  });

  it('pods with checkpointed and restored containers are stopped and removed', async () => {
    for (const id of [podAId, podBId].filter(Boolean)) {
      await cri.runtime.StopPodSandbox({ podSandboxId: id });
      await cri.runtime.RemovePodSandbox({ podSandboxId: id });
    }
    assert.deepEqual((await cri.runtime.ListContainers({})).containers, []);
  });

  it('under the systemd cgroup driver (the default here) the restored processes land in the new container\'s scope', async () => {
    // No cgroup_manager: "auto" picks systemd on this guest.
    DROP_INS.restartWith(registry, pause, 'auto');
    cri.close();
    cri = new CriClient(SOCKET, {}, { timeoutMs: 300_000 });
    assert.equal((await cri.runtime.RuntimeConfig({})).linux?.cgroupDriver, 'SYSTEMD');
    const sliced = (name: string): PodSandboxConfig => ({ ...podConfig(name), linux: { cgroupParent: `kubepods-burstable-pod${name.replace(/-/g, '_')}.slice` } });
    const podD = sliced('ckpt-d');
    const podE = sliced('ckpt-e');
    const ids: string[] = [];
    try {
      for (const pod of [podD, podE]) {
        fs.mkdirSync(pod.logDirectory!, { recursive: true });
        ids.push((await cri.runtime.RunPodSandbox({ config: pod }, SLOW_CALL)).podSandboxId);
      }
      const { containerId } = await cri.runtime.CreateContainer({ podSandboxId: ids[0]!, sandboxConfig: podD, config: containerConfig('counter', busybox.reference, ['sh', '-c', COUNTER]) }, SLOW_CALL);
      await cri.runtime.StartContainer({ containerId });
      await waitFor('the counter to reach 3', () => (counts(path.join(podD.logDirectory!, 'counter.log')).some((n) => n >= 3) ? true : undefined));
      const sliceArchive = path.join(work, 'systemd.tar');
      await cri.runtime.CheckpointContainer({ containerId, location: sliceArchive }, SLOW_CALL);
      const { containerId: restored } = await cri.runtime.CreateContainer({ podSandboxId: ids[1]!, sandboxConfig: podE, config: containerConfig('counter', sliceArchive) }, SLOW_CALL);
      await cri.runtime.StartContainer({ containerId: restored }, SLOW_CALL);
      await waitFor('the restored counter to count on', () => {
        const all = counts(path.join(podE.logDirectory!, 'counter.log'));
        return all.filter((n) => n === 0).length === 1 && all.length > 10 ? true : undefined;
      }, 120_000);
      const { pid } = JSON.parse((await cri.runtime.ContainerStatus({ containerId: restored, verbose: true })).info.info!) as { pid: number };
      assert.match(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`^0::/kubepods\\.slice/.*/cradle-${restored}\\.scope$`, 'm'));
      assert.equal(systemctl('show', '-P', 'ActiveState', `cradle-${restored}.scope`), 'active');
      await cri.runtime.StopContainer({ containerId: restored, timeout: '5' });
      assert.equal((await cri.runtime.ContainerStatus({ containerId: restored })).status?.state, 'CONTAINER_EXITED');
      await cri.runtime.RemoveContainer({ containerId: restored });
      assert.notEqual(systemctl('show', '-P', 'ActiveState', `cradle-${restored}.scope`), 'active', 'the scope is gone with the container');
    } finally {
      for (const id of ids) await cri.runtime.RemovePodSandbox({ podSandboxId: id }).catch(() => undefined);
    }
  });
});
