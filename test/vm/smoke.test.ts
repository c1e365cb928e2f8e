// The VM lane's smoke profile (scripts/vm-test.sh x86_64 smoke): runs inside the
// guest, where systemd is PID 1 and /sys/fs/cgroup is a pure cgroup v2 hierarchy.
// cradled is the shipped cradle.service (Type=notify) started by systemd; this test
// configures it through /etc drop-ins, as an administrator would, and drives one
// pod with two containers through its socket. Skipped outside the guest.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CriClient } from '../helpers/cri-client';
import { startFixtureRegistry, type FixtureRegistry } from '../helpers/registry';
import { busyboxImage, pauseImage, pushImage, type PushedImage } from '../helpers/image-builder';
import { ServiceDropIns, systemctl } from './guest-service';
import { parseCriLog } from '../../src/runtime/conmon/conmon';
import { expandSlice } from '../../src/common/systemd-units';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';

const IN_GUEST = process.env.CRADLE_VM_GUEST === '1';
const SOCKET = 'unix:///run/cradle/cradle.sock';
const DROP_INS = new ServiceDropIns('50-vm-smoke');
const CGROUP_ROOT = '/sys/fs/cgroup';
const MiB = 1024 * 1024;
/** For the calls that do the most (pull, unpack, create) in a guest under software emulation on a loaded host. */
const SLOW_CALL = { timeoutMs: 300_000 };

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Cgroup directories (relative to the root) under dir whose name contains needle. */
function cgroupsNamed(dir: string, needle: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const full = path.join(d, e.name);
      if (e.name.includes(needle)) found.push(full);
      walk(full);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return found;
}

describe('VM smoke: cradled under systemd on cgroup v2', { skip: IN_GUEST ? false : 'runs inside the VM lane (scripts/vm-test.sh)' }, () => {
  let registry: FixtureRegistry;
  let pause: PushedImage;
  let busybox: PushedImage;

  before(async () => {
    registry = await startFixtureRegistry();
    pause = await pushImage(registry, 'vm/pause:3.10', pauseImage());
    busybox = await pushImage(registry, 'vm/busybox:1', busyboxImage());
  });
  after(async () => {
    try { systemctl('stop', 'cradle.service'); } catch { /* not started */ }
    await registry?.stop();
  });

  it('the guest is what the lane promises: systemd as PID 1, cgroup v2 only', () => {
    assert.equal(fs.readFileSync('/proc/1/comm', 'utf8').trim(), 'systemd');
    assert.equal(fs.existsSync(path.join(CGROUP_ROOT, 'cgroup.controllers')), true, 'unified hierarchy at /sys/fs/cgroup');
    const controllers = fs.readFileSync(path.join(CGROUP_ROOT, 'cgroup.controllers'), 'utf8').trim().split(' ');
    for (const c of ['cpu', 'memory', 'pids', 'io']) assert.ok(controllers.includes(c), `controller ${c} in ${controllers.join(' ')}`);
  });

  it('cradled check reports the cgroup mode (v2, no v1 warning), the systemd driver and the features the guest has', () => {
    const check = spawnSync(path.resolve('bin/cradled'), ['check'], { encoding: 'utf8' });
    const line = check.stdout.split('\n').find((l) => l.includes('cgroup mode'));
    assert.equal(line, 'OK   cgroup mode: v2 (unified)', check.stdout + check.stderr);
    // This guest has all the features: the systemd driver's creates native, AppArmor, user namespaces, CRIU.
    assert.match(check.stdout, /^OK   cgroup driver: systemd \(auto\): a transient scope per container, made by the native launcher/m);
    for (const what of ['AppArmor', 'user namespaces', 'CRIU']) assert.match(check.stdout, new RegExp(`^OK   ${what}: `, 'm'), check.stdout);
  });

  // The systemd round leaves cgroup_manager unset: "auto" must choose systemd on this host.
  for (const [driver, setting] of [['cgroupfs', 'cgroupfs'], ['systemd', 'auto']] as const) {
    it(`one pod, two containers: exec, logs, stats, stop and remove (${driver} driver, cgroup_manager ${setting})`, async (t) => {
      DROP_INS.restartWith(registry, pause, setting);
      assert.equal(systemctl('is-active', 'cradle.service'), 'active');
      const mainPid = Number(systemctl('show', '-P', 'MainPID', 'cradle.service'));
      assert.equal(fs.readFileSync(`/proc/${mainPid}/cgroup`, 'utf8').trim(), '0::/system.slice/cradle.service');

      // An emulated guest on a busy host can be many times slower: deadlines bound hangs only.
      const cri = new CriClient(SOCKET, {}, { timeoutMs: 300_000 });
      t.after(() => cri.close());
      const config = await cri.runtime.Status({});
      assert.ok(config.status?.conditions?.some((c) => c.type === 'RuntimeReady' && c.status), 'RuntimeReady');
      const runtimeConfig = await cri.runtime.RuntimeConfig({});
      assert.equal(runtimeConfig.linux?.cgroupDriver, driver === 'systemd' ? 'SYSTEMD' : 'CGROUPFS');

      await cri.image.PullImage({ image: { image: busybox.reference } }, SLOW_CALL);
      const logDirectory = fs.mkdtempSync('/tmp/cradle-vm-logs-');
      t.after(() => fs.rmSync(logDirectory, { recursive: true, force: true }));
      // As the kubelet names them: a path for cgroupfs, a slice for systemd.
      const cgroupParent = driver === 'systemd' ? 'kubepods-burstable-podsmoke_systemd.slice' : `/cradle-vm-smoke-${driver}`;
      const parentDir = path.join(CGROUP_ROOT, driver === 'systemd' ? expandSlice(cgroupParent) : cgroupParent);
      const podConfig: PodSandboxConfig = {
        metadata: { name: `smoke-${driver}`, namespace: 'vm', uid: `uid-smoke-${driver}`, attempt: 0 },
        hostname: 'smoke', logDirectory, linux: { cgroupParent },
      };
      const { podSandboxId } = await cri.runtime.RunPodSandbox({ config: podConfig }, SLOW_CALL);
      t.after(() => cri.runtime.RemovePodSandbox({ podSandboxId }).catch(() => undefined));

      // The writer also carries what only a real v2 kernel shows: the unified map
      // (io.max on the guest's disk among it), hugetlb limits, and CAP_MKNOD so that
      // only the eBPF device program stands between it and a device node it makes.
      const disk = fs.readFileSync('/sys/block/vda/dev', 'utf8').trim();
      const hugetlb = fs.readFileSync(path.join(CGROUP_ROOT, 'cgroup.controllers'), 'utf8').includes('hugetlb');
      const ioWeight = fs.existsSync(path.join(CGROUP_ROOT, 'system.slice', 'io.weight'));
      const unified: Record<string, string> = { 'memory.high': String(48 * MiB), 'pids.max': '77', 'io.max': `${disk} rbps=1048576 wiops=120` };
      if (ioWeight) unified['io.weight'] = 'default 150';
      const ids: string[] = [];
      for (const [name, memory, command] of [
        ['writer', 64 * MiB, 'echo hello from writer; exec sleep 1000'],
        ['worker', 96 * MiB, 'while :; do :; done'],
      ] as const) {
        const writer = name === 'writer';
        const { containerId } = await cri.runtime.CreateContainer({
          podSandboxId, sandboxConfig: podConfig,
          config: {
            metadata: { name, attempt: 0 }, image: { image: busybox.reference }, command: ['sh', '-c', command], logPath: `${name}.log`,
            linux: {
              resources: {
                memoryLimitInBytes: String(memory), cpuPeriod: '100000', cpuQuota: '50000', cpuShares: '512',
                ...(writer ? { unified, hugepageLimits: hugetlb ? [{ pageSize: '2MB', limit: String(8 * MiB) }] : [] } : {}),
              },
              ...(writer ? { securityContext: { capabilities: { addCapabilities: ['MKNOD'] } } } : {}),
            },
          },
        }, SLOW_CALL);
        await cri.runtime.StartContainer({ containerId });
        ids.push(containerId);
      }
      const [writer, worker] = ids as [string, string];
      for (const id of ids) assert.equal((await cri.runtime.ContainerStatus({ containerId: id })).status?.state, 'CONTAINER_RUNNING');

      // Exec, and the limits as the container sees them in its own cgroup (cgroup namespace).
      const exec = await cri.runtime.ExecSync({ containerId: writer, cmd: ['sh', '-c', 'echo exec-ok; cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu.weight'], timeout: '30' });
      assert.equal(exec.exitCode, 0, Buffer.from(exec.stderr ?? []).toString());
      assert.deepEqual(Buffer.from(exec.stdout!).toString().trim().split('\n'), ['exec-ok', String(64 * MiB), '50000 100000', '20']);

      // The unified map and hugetlb, as the container reads them in its own cgroup.
      const v2 = await cri.runtime.ExecSync({ containerId: writer, cmd: ['sh', '-c', 'cd /sys/fs/cgroup; cat memory.high pids.max io.max; if [ -e io.weight ]; then cat io.weight; fi; if [ -e hugetlb.2MB.max ]; then cat hugetlb.2MB.max; fi'], timeout: '30' });
      assert.deepEqual(Buffer.from(v2.stdout!).toString().trim().split('\n'), [
        String(48 * MiB), '77', `${disk} rbps=1048576 wbps=max riops=max wiops=120`,
        ...(ioWeight ? ['default 150'] : []), ...(hugetlb ? [String(8 * MiB)] : []),
      ], Buffer.from(v2.stderr ?? []).toString());
      // The eBPF device program: a node the container may make (CAP_MKNOD) but not open
      // (the guest's disk is not in the allowed list), next to /dev/null which is.
      const device = await cri.runtime.ExecSync({ containerId: writer, cmd: ['sh', '-c', `mknod /tmp/disk b ${disk.replace(':', ' ')} && head -c 1 /tmp/disk; echo "disk $?"; head -c 1 /dev/null; echo "null $?"`], timeout: '30' });
      assert.match(Buffer.from(device.stderr!).toString(), /\/tmp\/disk: Operation not permitted/);
      assert.deepEqual(Buffer.from(device.stdout!).toString().trim().split('\n'), ['disk 1', 'null 0']);

      const logs = await waitFor('the writer log line', () => {
        const file = path.join(logDirectory, 'writer.log');
        const lines = fs.existsSync(file) ? parseCriLog(fs.readFileSync(file)).map((r) => r.content.toString()) : [];
        return lines.includes('hello from writer') ? lines : undefined;
      });
      assert.deepEqual(logs, ['hello from writer']);

      // Stats from the v2 files: the busy worker burns CPU, both use memory.
      const cpuOf = async (): Promise<bigint> => BigInt((await cri.runtime.ContainerStats({ containerId: worker })).stats?.cpu?.usageCoreNanoSeconds?.value ?? '0');
      const first = await cpuOf();
      await waitFor('the worker cpu time to grow', async () => ((await cpuOf()) > first ? true : undefined));
      const listed = await cri.runtime.ListContainerStats({ filter: { podSandboxId } });
      assert.deepEqual(listed.stats.map((s) => s.attributes?.id).sort(), [...ids].sort());
      for (const s of listed.stats) assert.ok(BigInt(s.memory?.workingSetBytes?.value ?? '0') > 0n, `memory working set of ${s.attributes?.metadata?.name}`);
      // PSI, where the kernel keeps it (cpu.pressure in the container's cgroup).
      const workerDir = cgroupsNamed(parentDir, worker)[0]!;
      if (fs.existsSync(path.join(workerDir, 'cpu.pressure'))) {
        const workerStats = (await cri.runtime.ContainerStats({ containerId: worker })).stats;
        assert.ok(workerStats?.cpu?.psi?.Some, 'cpu PSI in the stats');
        assert.ok(workerStats?.memory?.psi?.Full, 'memory PSI in the stats');
      }
      const podStats = await cri.runtime.PodSandboxStats({ podSandboxId });
      assert.ok(BigInt(podStats.stats?.linux?.cpu?.usageCoreNanoSeconds?.value ?? '0') > 0n, 'pod cpu time');

      // The pod's containers sit in cgroups below its parent while they run, which
      // delegates the controllers their limits need.
      assert.equal(cgroupsNamed(parentDir, writer).length, 1, 'writer cgroup below the pod parent');
      if (driver === 'systemd') {
        // Each container is a transient scope systemd made, delegated to cradle.
        const unit = `cradle-${writer}.scope`;
        assert.equal(systemctl('show', '-P', 'ActiveState', unit), 'active');
        assert.equal(systemctl('show', '-P', 'ControlGroup', unit), `${expandSlice(cgroupParent)}/${unit}`);
        assert.equal(systemctl('show', '-P', 'Delegate', unit), 'yes');
        assert.equal(systemctl('show', '-P', 'MemoryMax', unit), String(64 * MiB), 'the limit systemd knows');
        // Its conmon in a scope of its own in system.slice (conmon_cgroup's default), out of cradle.service.
        const monitor = `cradle-conmon-${writer}.scope`;
        assert.equal(systemctl('show', '-P', 'ActiveState', monitor), 'active');
        const monitorCgroup = systemctl('show', '-P', 'ControlGroup', monitor);
        assert.equal(monitorCgroup, `/system.slice/${monitor}`);
        const monitorPids = fs.readFileSync(path.join(CGROUP_ROOT, monitorCgroup, 'cgroup.procs'), 'utf8').trim().split('\n');
        assert.deepEqual(monitorPids.map((pid) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()), ['conmon']);
      }
      const delegated = fs.readFileSync(path.join(parentDir, 'cgroup.subtree_control'), 'utf8').trim().split(' ');
      for (const c of ['cpu', 'memory', 'pids']) assert.ok(delegated.includes(c), `${c} delegated below the pod parent: ${delegated.join(' ')}`);

      // Freeze and thaw through cgroup.freeze: the runtime's pause and resume.
      const writerDir = cgroupsNamed(parentDir, writer)[0]!;
      const runtime = (...args: string[]) => execFileSync(path.resolve('bin/cradle-runtime'), ['--root', '/run/cradle/runtimes/cradle', ...args], { encoding: 'utf8' });
      const frozen = () => /^frozen (\d)$/m.exec(fs.readFileSync(path.join(writerDir, 'cgroup.events'), 'utf8'))?.[1];
      runtime('pause', writer);
      await waitFor('the writer frozen', () => (frozen() === '1' ? true : undefined));
      assert.equal(JSON.parse(runtime('state', writer)).status, 'paused');
      runtime('resume', writer);
      await waitFor('the writer thawed', () => (frozen() === '0' ? true : undefined));
      assert.equal(JSON.parse(runtime('state', writer)).status, 'running');

      // UpdatePodSandboxResources: the pod's own cgroup (through systemd's properties of the slice under systemd).
      await cri.runtime.UpdatePodSandboxResources({ podSandboxId, resources: { memoryLimitInBytes: String(512 * MiB), cpuShares: '2048' } });
      assert.equal(fs.readFileSync(path.join(parentDir, 'memory.max'), 'utf8').trim(), String(512 * MiB));
      assert.equal(fs.readFileSync(path.join(parentDir, 'cpu.weight'), 'utf8').trim(), '79');
      if (driver === 'systemd') assert.equal(systemctl('show', '-P', 'MemoryMax', cgroupParent), String(512 * MiB), 'the limit systemd keeps for the slice');

      // UpdateContainerResources reaches the v2 files.
      await cri.runtime.UpdateContainerResources({ containerId: writer, linux: { memoryLimitInBytes: String(80 * MiB), cpuPeriod: '100000', cpuQuota: '25000', cpuShares: '1024' } });
      const updated = await cri.runtime.ExecSync({ containerId: writer, cmd: ['cat', '/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/cpu.max', '/sys/fs/cgroup/cpu.weight'], timeout: '30' });
      assert.deepEqual(Buffer.from(updated.stdout!).toString().trim().split('\n'), [String(80 * MiB), '25000 100000', '39']);

      // A container over its memory limit is OOM-killed, and says so (memory.events).
      // 4 MiB: the native launcher's init has no floor under either driver.
      const { containerId: hog } = await cri.runtime.CreateContainer({
        podSandboxId, sandboxConfig: podConfig,
        config: {
          metadata: { name: 'hog', attempt: 0 }, image: { image: busybox.reference }, command: ['tail', '/dev/zero'], logPath: 'hog.log',
          linux: { resources: { memoryLimitInBytes: String(4 * MiB) } },
        },
      }, SLOW_CALL);
      await cri.runtime.StartContainer({ containerId: hog });
      const hogStatus = await waitFor('the hog to be OOM-killed', async () => {
        const s = (await cri.runtime.ContainerStatus({ containerId: hog })).status;
        return s?.state === 'CONTAINER_EXITED' ? s : undefined;
      }, 120_000);
      assert.equal(hogStatus.exitCode, 137, 'killed by SIGKILL');
      // Under systemd, also when systemd removed the emptied scope (and its memory.events) before conmon read it.
      assert.equal(hogStatus.reason, 'OOMKilled');
      await cri.runtime.RemoveContainer({ containerId: hog });

      await cri.runtime.StopContainer({ containerId: worker, timeout: '10' });
      assert.equal((await cri.runtime.ContainerStatus({ containerId: worker })).status?.state, 'CONTAINER_EXITED');
      await cri.runtime.RemoveContainer({ containerId: worker });
      assert.deepEqual((await cri.runtime.ListContainers({ filter: { podSandboxId } })).containers.map((c) => c.id), [writer]);
      await cri.runtime.StopPodSandbox({ podSandboxId });
      await cri.runtime.RemovePodSandbox({ podSandboxId });
      if (driver === 'systemd') {
        for (const id of [writer, worker, hog, podSandboxId]) {
          assert.notEqual(systemctl('show', '-P', 'ActiveState', `cradle-${id}.scope`), 'active', `scope of ${id} stopped`);
          assert.notEqual(systemctl('show', '-P', 'ActiveState', `cradle-conmon-${id}.scope`), 'active', `conmon scope of ${id} gone`);
        }
      }
      assert.deepEqual((await cri.runtime.ListPodSandbox({})).items, []);
      assert.deepEqual(cgroupsNamed(parentDir, writer), [], 'container cgroups removed');
      assert.deepEqual(cgroupsNamed(parentDir, worker), [], 'container cgroups removed');
    });
  }
});
