import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errors } from '../../../src/common/errors';
import { CpuRateTracker, readContainerStats, readPodSandboxStats, toCriContainerStats } from '../../../src/stats';
import { fakeV1, fakeV2, tempRoot, V1_UNLIMITED, writeFiles } from './fake-cgroup';

const MiB = 1024n * 1024n;

test('v1: cpu, memory (working set = usage − total_inactive_file), swap, pids from the controller directories', async (t) => {
  const root = tempRoot('v1');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fakeV1(root, '/kubepods/pod1/cradle-c1');
  const s = await readContainerStats({ cgroupsPath: '/kubepods/pod1/cradle-c1', cgroupDriver: 'cgroupfs', cgroupRoot: root });
  assert.equal(s.version, 1);
  assert.equal(s.cpu.usageCoreNanoSeconds, 5_000_000_000n);
  assert.equal(s.cpu.userNanoSeconds, 3_000_000_000n);
  assert.equal(s.cpu.throttledPeriods, 4n);
  assert.equal(s.cpu.usageNanoCores, undefined);
  assert.equal(s.memory.usageBytes, 100n * MiB);
  assert.equal(s.memory.workingSetBytes, 70n * MiB);
  assert.equal(s.memory.rssBytes, 50n * MiB);
  assert.equal(s.memory.pageFaults, 1000n);
  assert.equal(s.memory.majorPageFaults, 7n);
  assert.equal(s.memory.limitBytes, 256n * MiB);
  assert.equal(s.memory.availableBytes, 186n * MiB);
  assert.equal(s.memory.oomKills, 2n);
  assert.equal(s.memory.reservationBytes, undefined);
  assert.equal(s.swap.swapUsageBytes, 5n * MiB, 'memsw − memory');
  assert.equal(s.swap.swapLimitBytes, 256n * MiB, 'memsw limit − memory limit');
  assert.equal(s.swap.swapAvailableBytes, 251n * MiB);
  assert.deepEqual(s.pids, { current: 6n, limit: undefined });
  assert.deepEqual(s.cpuSpec, { shares: 512n, quotaMicros: 50000n, periodMicros: 100000n });
  assert.equal(s.writableLayer, undefined);
  assert.ok(BigInt(s.timestampNs) > 1_600_000_000n * 1_000_000_000n);
});

test('v1: an unlimited cgroup reports no available bytes and no swap limit', async (t) => {
  const root = tempRoot('v1u');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fakeV1(root, '/cradle/cradle-c2', { memLimit: V1_UNLIMITED, memswLimit: V1_UNLIMITED, usage: '1000\n', memsw: '1000\n' });
  const s = await readContainerStats({ cgroupsPath: '/cradle/cradle-c2', cgroupDriver: 'cgroupfs', cgroupRoot: root });
  assert.equal(s.memory.limitBytes, undefined);
  assert.equal(s.memory.availableBytes, undefined);
  assert.equal(s.memory.workingSetBytes, 0n, 'inactive file above usage floors at 0');
  assert.equal(s.swap.swapUsageBytes, 0n);
  assert.equal(s.swap.swapAvailableBytes, undefined);
  const cri = toCriContainerStats(s, { id: 'c2' });
  assert.equal(cri.memory?.availableBytes, null);
  assert.equal(cri.swap?.swapAvailableBytes, null);
});

test('v2: cpu.stat usage_usec, memory.current − inactive_file, memory.swap.current, pids, PSI', async (t) => {
  const root = tempRoot('v2');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fakeV2(root, '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cradle-c3.scope');
  const s = await readContainerStats({ cgroupsPath: 'kubepods-besteffort-pod1.slice:cradle:c3', cgroupDriver: 'systemd', cgroupRoot: root });
  assert.equal(s.version, 2);
  assert.equal(s.cpu.usageCoreNanoSeconds, 7_000_000_000n);
  assert.equal(s.cpu.systemNanoSeconds, 3_000_000_000n);
  assert.equal(s.cpu.throttledNanoSeconds, 250_000_000n);
  assert.equal(s.cpu.psi?.some.totalNs, 3_000_000_000n);
  assert.equal(s.cpu.psi?.full.avg10, 0.5);
  assert.equal(s.memory.usageBytes, 80n * MiB);
  assert.equal(s.memory.workingSetBytes, 56n * MiB);
  assert.equal(s.memory.rssBytes, 40n * MiB, 'anon');
  assert.equal(s.memory.cacheBytes, 32n * MiB);
  assert.equal(s.memory.pageFaults, 2000n);
  assert.equal(s.memory.majorPageFaults, 11n);
  assert.equal(s.memory.availableBytes, 72n * MiB);
  assert.equal(s.memory.maxUsageBytes, 96n * MiB);
  assert.equal(s.memory.failcnt, 9n);
  assert.equal(s.memory.oomKills, 1n);
  assert.equal(s.swap.swapUsageBytes, 1n * MiB);
  assert.equal(s.swap.swapAvailableBytes, undefined);
  assert.deepEqual(s.pids, { current: 3n, limit: 100n });
  assert.deepEqual(s.cpuSpec, { shares: 500n, quotaMicros: 25000n, periodMicros: 100000n });
  assert.ok(s.ioPsi);

  const cri = toCriContainerStats(s, { id: 'c3', metadata: { name: 'app', attempt: 0 } });
  assert.equal(cri.cpu?.usageCoreNanoSeconds?.value, '7000000000');
  assert.equal(cri.memory?.workingSetBytes?.value, String(56n * MiB));
  assert.equal(cri.memory?.timestamp, s.timestampNs);
  assert.equal(cri.swap?.swapUsageBytes?.value, String(MiB));
  assert.deepEqual(cri.cpu?.psi?.Some, { Total: '3000000000', Avg10: 1.5, Avg60: 0.75, Avg300: 0.1 });
  assert.equal(cri.writableLayer, null);
});

test('v2: a swap limit gives swap available bytes; no memory limit gives none', async (t) => {
  const root = tempRoot('v2s');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fakeV2(root, '/cradle/cradle-c4', { memMax: 'max\n', swapMax: '4194304\n' });
  const s = await readContainerStats({ cgroupsPath: '/cradle/cradle-c4', cgroupDriver: 'cgroupfs', cgroupRoot: root });
  assert.equal(s.memory.availableBytes, undefined);
  assert.equal(s.swap.swapAvailableBytes, 3n * MiB);
});

test('a cgroup that is gone is reported as cgroupNotFound naming the directory', async (t) => {
  const root = tempRoot('gone');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fakeV2(root, '/cradle/other');
  await assert.rejects(readContainerStats({ cgroupsPath: '/cradle/cradle-gone', cgroupDriver: 'cgroupfs', cgroupRoot: root }),
    (err: unknown) => errors.cgroupNotFound.is(err) && (err as Error).message.includes('/cradle/cradle-gone'));
  const v1 = tempRoot('gone1');
  t.after(() => fs.rmSync(v1, { recursive: true, force: true }));
  fakeV1(v1, '/cradle/other');
  await assert.rejects(readContainerStats({ cgroupsPath: '/cradle/cradle-gone', cgroupDriver: 'cgroupfs', cgroupRoot: v1 }),
    (err: unknown) => errors.cgroupNotFound.is(err));
});

test('usageNanoCores comes from the previous reading of the same key', async (t) => {
  const root = tempRoot('rate');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fakeV1(root, '/cradle/cradle-c5', { cpuUsage: '1000000000\n' });
  const tracker = new CpuRateTracker(0n);
  const input = { cgroupsPath: '/cradle/cradle-c5', cgroupDriver: 'cgroupfs' as const, cgroupRoot: root, cpuRate: { tracker, key: 'c5' } };
  const first = await readContainerStats(input);
  assert.equal(first.cpu.usageNanoCores, undefined);
  await new Promise((r) => setTimeout(r, 20));
  fs.writeFileSync(path.join(root, 'cpuacct/cradle/cradle-c5/cpuacct.usage'), '3000000000\n');
  const second = await readContainerStats(input);
  const elapsed = BigInt(second.timestampNs) - BigInt(first.timestampNs);
  assert.equal(second.cpu.usageNanoCores, (2_000_000_000n * 1_000_000_000n) / elapsed);
});

test('pod stats read the pod cgroup (cgroupParent), or sum the containers when there is none', async (t) => {
  const root = tempRoot('pod');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fakeV2(root, '/kubepods.slice/kubepods-pod9.slice');
  const pod = readPodSandboxStats({ cgroupParent: 'kubepods-pod9.slice', cgroupDriver: 'systemd', cgroupRoot: root });
  assert.equal(pod.cpu.usageCoreNanoSeconds, 7_000_000_000n);
  assert.equal(pod.pids?.current, 3n);
  assert.equal(pod.network, undefined);

  fakeV2(root, '/cradle/cradle-a');
  writeFiles(path.join(root, '/cradle/cradle-b'), { 'cpu.stat': 'usage_usec 1\n', 'memory.current': '100\n', 'pids.current': '1\n' });
  const a = await readContainerStats({ cgroupsPath: '/cradle/cradle-a', cgroupDriver: 'cgroupfs', cgroupRoot: root });
  const b = await readContainerStats({ cgroupsPath: '/cradle/cradle-b', cgroupDriver: 'cgroupfs', cgroupRoot: root });
  const summed = readPodSandboxStats({ cgroupParent: '', cgroupDriver: 'cgroupfs', cgroupRoot: root, containers: [a, b] });
  assert.equal(summed.cpu.usageCoreNanoSeconds, 7_000_001_000n);
  assert.equal(summed.memory.usageBytes, 80n * MiB + 100n);
  assert.equal(summed.pids?.current, 4n);
  assert.equal(summed.memory.availableBytes, undefined);
});
