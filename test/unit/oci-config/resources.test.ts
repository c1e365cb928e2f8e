import { test } from 'node:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { detectCgroupFeatures } from '../../../src/runtime/oci-config/host-probe';
import assert from 'node:assert/strict';
import { buildResources, cgroupsPath, oomScoreAdj, parseUlimit, MIB } from '../../../src/runtime/oci-config/resources';
import { buildContainerSpec } from '../../../src/runtime/oci-config/build';
import type { LinuxContainerResources__Output } from '../../../src/generated/runtime/v1/LinuxContainerResources';
import { containerInput } from './fixtures';

const res = (o: Partial<LinuxContainerResources__Output>): LinuxContainerResources__Output => ({
  cpuPeriod: '0', cpuQuota: '0', cpuShares: '0', memoryLimitInBytes: '0', oomScoreAdj: '0', cpusetCpus: '', cpusetMems: '',
  hugepageLimits: [], unified: {}, memorySwapLimitInBytes: '0', ...o,
});
const v1 = { cgroupVersion: 1 as const, swapAccounting: true };

test('resources: cpu shares, quota, period, cpuset', () => {
  assert.deepEqual(buildResources(res({ cpuShares: '512', cpuQuota: '50000', cpuPeriod: '100000', cpusetCpus: '0-1,3', cpusetMems: '0' }), v1), {
    cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0-1,3', mems: '0' },
  });
  assert.deepEqual(buildResources(res({ cpuShares: '1' }), v1).cpu, { shares: 2 }, 'kernel minimum shares');
  assert.deepEqual(buildResources(res({}), v1), {}, 'all zero = no limits');
  assert.deepEqual(buildResources(null, { ...v1, pidsLimit: 1024 }), { pids: { limit: 1024 } });
  assert.deepEqual(buildResources(res({ cpuQuota: '-1' }), v1), {}, 'quota -1 = unlimited');
});

test('resources: memory limit and swap', () => {
  assert.deepEqual(buildResources(res({ memoryLimitInBytes: String(64 * MIB) }), v1).memory, { limit: 64 * MIB, swap: 64 * MIB });
  assert.deepEqual(buildResources(res({ memoryLimitInBytes: String(64 * MIB) }), { ...v1, swapAccounting: false }).memory, { limit: 64 * MIB });
  assert.deepEqual(buildResources(res({ memoryLimitInBytes: String(64 * MIB), memorySwapLimitInBytes: String(128 * MIB) }), v1).memory, { limit: 64 * MIB, swap: 128 * MIB });
  assert.deepEqual(buildResources(res({ memoryLimitInBytes: String(64 * MIB), memorySwapLimitInBytes: '-1' }), v1).memory, { limit: 64 * MIB, swap: -1 });
  // No floor: the native launcher's init is not charged to the container.
  assert.deepEqual(buildResources(res({ memoryLimitInBytes: String(4 * MIB) }), v1).memory, { limit: 4 * MIB, swap: 4 * MIB });
  assert.throws(() => buildResources(res({ memoryLimitInBytes: String(64 * MIB), memorySwapLimitInBytes: String(32 * MIB) }), v1), /memorySwapLimitInBytes: 33554432 is below memoryLimitInBytes/);
  assert.throws(() => buildResources(res({ memorySwapLimitInBytes: String(32 * MIB) }), v1), /memorySwapLimitInBytes: needs memoryLimitInBytes/);
  assert.throws(() => buildResources(res({ memoryLimitInBytes: String(64 * MIB), memorySwapLimitInBytes: String(128 * MIB) }), { ...v1, swapAccounting: false }), /no swap accounting/);
});

test('resources: negative and malformed values are INVALID_ARGUMENT', () => {
  const cases: [Partial<LinuxContainerResources__Output>, RegExp][] = [
    [{ memoryLimitInBytes: '-5' }, /memoryLimitInBytes: -5 must not be below 0/],
    [{ cpuShares: '-2' }, /cpuShares: -2 must not be below 0/],
    [{ cpuQuota: '-7' }, /cpuQuota: -7 must not be below -1/],
    [{ cpuQuota: '500' }, /cpuQuota: 500 is below the kernel minimum/],
    [{ cpuPeriod: '10' }, /cpuPeriod: 10 is outside 1000\.\.1000000/],
    [{ cpusetCpus: '0-a' }, /cpusetCpus: "0-a" is not a cpu list/],
    [{ cpusetMems: '0,,1' }, /cpusetMems/],
    [{ memoryLimitInBytes: '99999999999999999999' }, /out of range/],
    [{ hugepageLimits: [{ pageSize: '2M', limit: '0' }] }, /hugepageLimits\[0\]\.pageSize: "2M"/],
  ];
  for (const [r, re] of cases) assert.throws(() => buildResources(res(r), v1), re);
});

test('resources: hugepages and unified (v2 only)', () => {
  assert.deepEqual(buildResources(res({ hugepageLimits: [{ pageSize: '2MB', limit: '1073741824' }, { pageSize: '1GB', limit: '0' }] }), v1).hugepageLimits,
    [{ pageSize: '2MB', limit: 1073741824 }, { pageSize: '1GB', limit: 0 }]);
  const unified = { 'memory.high': '100000000', 'cpu.weight': '50' };
  assert.deepEqual(buildResources(res({ unified }), { ...v1, cgroupVersion: 2 }).unified, unified);
  assert.throws(() => buildResources(res({ unified }), v1), /config\.linux\.resources\.unified: unified resources need cgroup v2/);
  assert.throws(() => buildResources(res({ unified: { '../escape': '1' } }), { ...v1, cgroupVersion: 2 }), /not a cgroup v2 file name/);
});

test('oom_score_adj: clamped to the host minimum, range-checked', () => {
  assert.equal(oomScoreAdj('500', -999), 500);
  assert.equal(oomScoreAdj('-1000', -999), -999);
  assert.equal(oomScoreAdj('-998', -500), -500);
  assert.equal(oomScoreAdj('', -999), 0);
  assert.throws(() => oomScoreAdj('1001', -999), /oomScoreAdj: 1001 is above 1000/);
  assert.throws(() => oomScoreAdj('-1001', -999), /oomScoreAdj: -1001 must not be below -1000/);
  const { spec } = buildContainerSpec(containerInput({ config: { linux: { resources: { oomScoreAdj: '-1000' } } }, runtime: { minOomScoreAdj: -900 } }));
  assert.equal(spec.process.oomScoreAdj, -900);
});

test('cgroupsPath: cgroupfs and systemd naming', () => {
  assert.equal(cgroupsPath('cgroupfs', '/kubepods/burstable/pod1', 'abc'), '/kubepods/burstable/pod1/cradle-abc');
  assert.equal(cgroupsPath('cgroupfs', '/kubepods/', 'abc'), '/kubepods/cradle-abc');
  assert.equal(cgroupsPath('cgroupfs', '', 'abc'), '/cradle/cradle-abc');
  assert.equal(cgroupsPath('systemd', 'kubepods-burstable-pod1_2.slice', 'abc'), 'kubepods-burstable-pod1_2.slice:cradle:abc');
  assert.equal(cgroupsPath('systemd', '', 'abc'), 'system.slice:cradle:abc');
  assert.throws(() => cgroupsPath('systemd', '/kubepods/pod1', 'abc'), /not a systemd slice name/);
  assert.throws(() => cgroupsPath('cgroupfs', 'kubepods.slice', 'abc'), /not an absolute cgroup path/);
});

test('ulimits: parsing and defaults in the spec', () => {
  assert.deepEqual(parseUlimit('nofile=1024:2048'), { type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 });
  assert.deepEqual(parseUlimit('nproc=512'), { type: 'RLIMIT_NPROC', soft: 512, hard: 512 });
  assert.throws(() => parseUlimit('nofile=2048:1024'), /soft limit above hard limit/);
  assert.throws(() => parseUlimit('nofile'), /expected name=soft/);
  const { spec } = buildContainerSpec(containerInput());
  assert.deepEqual(spec.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 }]);
  assert.equal(buildContainerSpec(containerInput({ runtime: { defaultUlimits: [] } })).spec.process.rlimits, undefined);
});

test('full spec: resources, device cgroup and cgroupsPath per driver', () => {
  const { spec } = buildContainerSpec(containerInput({ config: { linux: { resources: { cpuShares: '256', memoryLimitInBytes: String(100 * MIB) } } } }));
  assert.deepEqual(spec.linux.resources, {
    cpu: { shares: 256 },
    memory: { limit: 100 * MIB, swap: 100 * MIB },
    devices: [{ allow: false, access: 'rwm' }],
  });
  assert.equal(spec.linux.cgroupsPath, '/kubepods/besteffort/pod1234/cradle-c0ffee');
  const sd = buildContainerSpec(containerInput({ runtime: { cgroupDriver: 'systemd' }, sandbox: { cgroupParent: 'kubepods-besteffort-pod1234.slice' } })).spec;
  assert.equal(sd.linux.cgroupsPath, 'kubepods-besteffort-pod1234.slice:cradle:c0ffee');
});

test('hugepage limits are dropped where the hugetlb controller is missing (kubelet sends zero limits)', () => {
  const kubelet = res({ hugepageLimits: [{ pageSize: '2MB', limit: '0' }, { pageSize: '1GB', limit: '0' }] });
  assert.equal(buildResources(kubelet, { ...v1, hugetlb: false }).hugepageLimits, undefined);
  assert.equal(buildResources(kubelet, { ...v1, hugetlb: true }).hugepageLimits!.length, 2);
  assert.throws(() => buildResources(res({ hugepageLimits: [{ pageSize: 'huge', limit: '0' }] }), { ...v1, hugetlb: false }), /pageSize/);
});

test('detectCgroupFeatures: v1 hybrid, v1 with hugetlb, v2', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-spec-cg-'));
  try {
    const mk = (p: string, content = '') => { fs.mkdirSync(path.dirname(path.join(base, p)), { recursive: true }); fs.writeFileSync(path.join(base, p), content); };
    // v1 hybrid like this host: hugetlb bound to the unified hierarchy (id 0).
    mk('hybrid/memory/memory.memsw.limit_in_bytes');
    mk('proc-hybrid', '#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t5\t100\t1\nhugetlb\t0\t1\t1\n');
    assert.deepEqual(detectCgroupFeatures(path.join(base, 'hybrid'), path.join(base, 'proc-hybrid')), { version: 1, hugetlb: false, swapAccounting: true });
    mk('v1/memory/memory.limit_in_bytes');
    mk('v1/hugetlb/hugetlb.2MB.limit_in_bytes');
    mk('proc-v1', 'hugetlb\t7\t1\t1\n');
    assert.deepEqual(detectCgroupFeatures(path.join(base, 'v1'), path.join(base, 'proc-v1')), { version: 1, hugetlb: true, swapAccounting: false });
    mk('v2/cgroup.controllers', 'cpuset cpu io memory hugetlb pids\n');
    mk('v2/system.slice/memory.swap.max', 'max\n');
    assert.deepEqual(detectCgroupFeatures(path.join(base, 'v2'), path.join(base, 'nope')), { version: 2, hugetlb: true, swapAccounting: true });
    mk('v2b/cgroup.controllers', 'cpu memory pids\n');
    assert.deepEqual(detectCgroupFeatures(path.join(base, 'v2b'), path.join(base, 'nope')), { version: 2, hugetlb: false, swapAccounting: false });
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});
