// cgroup drivers on fake cgroupfs trees: v2 (not available on this v1-hybrid host)
// and v1, including the runc conversions and the order of writes.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CgroupV1, CgroupV2, cgroupManager, savedCgroupManager, sharesToWeight, blkioWeightToIoWeight, deviceRuleString } from '../../../src/oci-runtime/cgroups';
import type { OciDeviceCgroup } from '../../../src/common/oci-spec';

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-unit-cg-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const read = (p: string) => fs.readFileSync(p, 'utf8');

test('v2 is detected from cgroup.controllers; apply enables controllers in ancestors and joins the leaf', (t) => {
  const root = tmp(t);
  fs.writeFileSync(path.join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids hugetlb');
  fs.writeFileSync(path.join(root, 'cgroup.subtree_control'), 'memory');
  const m = cgroupManager('/kubepods/pod1/ctr1', 'ctr1', { root, selfCgroup: '0::/\n' });
  assert.ok(m instanceof CgroupV2);
  // Ancestors created by apply have no cgroup.controllers in a fake tree: pre-create them.
  fs.mkdirSync(path.join(root, 'kubepods/pod1'), { recursive: true });
  fs.writeFileSync(path.join(root, 'kubepods/cgroup.controllers'), 'cpu memory pids');
  fs.writeFileSync(path.join(root, 'kubepods/pod1/cgroup.controllers'), 'cpu memory pids');
  m.apply(4242);
  assert.equal(read(path.join(root, 'cgroup.subtree_control')), '+cpuset +cpu +io +pids +hugetlb');
  assert.equal(read(path.join(root, 'kubepods/pod1/cgroup.subtree_control')), '+cpu +memory +pids');
  assert.equal(read(path.join(root, 'kubepods/pod1/ctr1/cgroup.procs')), '4242');
  assert.deepEqual(m.paths(), { '': path.join(root, 'kubepods/pod1/ctr1') });
});

test('v2 limits: runc conversions (shares->weight, swap, quota, io weight, hugetlb, unified)', (t) => {
  const root = tmp(t);
  const m = new CgroupV2({ root, selfCgroup: '0::/system.slice/cradled.service\n' }, 'ctr');
  assert.equal(m.dir, path.join(root, 'system.slice/cradled.service/ctr'), 'relative paths sit under the runtime\'s own cgroup');
  const plan = m.plan({
    memory: { limit: 64 << 20, reservation: 32 << 20, swap: 96 << 20 },
    cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-1', mems: '0' },
    pids: { limit: 100 },
    blockIO: { weight: 500 },
    hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }],
    unified: { 'memory.high': '50000000' },
  });
  assert.deepEqual(plan, [
    ['memory.max', String(64 << 20)], ['memory.low', String(32 << 20)], ['memory.swap.max', String(32 << 20)],
    ['cpu.weight', '39'], ['cpu.max', '50000 100000'], ['cpuset.cpus', '0-1'], ['cpuset.mems', '0'],
    ['pids.max', '100'], ['io.weight', 'default 4950'], ['hugetlb.2MB.max', String(4 << 20)], ['memory.high', '50000000'],
  ]);
  assert.deepEqual(m.plan({ memory: { limit: -1, swap: -1 }, cpu: { quota: -1, period: 50000 }, pids: { limit: -1 } }),
    [['memory.max', 'max'], ['memory.swap.max', 'max'], ['cpu.max', 'max 50000'], ['pids.max', 'max']]);
  // runtime-spec 1.3: a pids object without a limit leaves pids.max alone.
  assert.deepEqual(m.plan({ pids: {} }), []);
  assert.throws(() => m.plan({ unified: { '../escape': '1' } }), /invalid file name/);
  assert.equal(sharesToWeight(2), 1);
  assert.equal(sharesToWeight(262144), 10000);
  assert.equal(blkioWeightToIoWeight(10), 1);
  assert.equal(blkioWeightToIoWeight(1000), 10000);
});

test('v2 set writes the files; freeze and isFrozen use cgroup.freeze/cgroup.events; killAll uses cgroup.kill', (t) => {
  const root = tmp(t);
  const m = new CgroupV2({ root, selfCgroup: '0::/\n' }, '/ctr');
  fs.mkdirSync(m.dir);
  const attached: [string, Buffer][] = [];
  m.applyDevices = (dir, program) => attached.push([dir, program]);
  m.set({ memory: { limit: 1 << 24 }, pids: { limit: 5 }, devices: [{ allow: false, access: 'rwm' }] });
  assert.equal(read(path.join(m.dir, 'memory.max')), String(1 << 24));
  assert.equal(read(path.join(m.dir, 'pids.max')), '5');
  assert.equal(attached.length, 1, 'device rules become one BPF program on the container cgroup');
  assert.equal(attached[0]![0], m.dir);
  assert.equal(attached[0]![1].length % 8, 0);
  m.freeze(true);
  assert.equal(read(path.join(m.dir, 'cgroup.freeze')), '1');
  fs.writeFileSync(path.join(m.dir, 'cgroup.events'), 'populated 1\nfrozen 1\n');
  assert.equal(m.isFrozen(), true);
  assert.equal(m.killAll(), false, 'no cgroup.kill file: older kernel');
  fs.writeFileSync(path.join(m.dir, 'cgroup.kill'), '');
  assert.equal(m.killAll(), true);
  fs.writeFileSync(path.join(m.dir, 'cgroup.procs'), '7\n8\n');
  assert.deepEqual(m.pids(), [7, 8]);
  const again = savedCgroupManager(2, m.paths(), root);
  assert.deepEqual(again.pids(), [7, 8]);
  again.destroy();
  assert.equal(fs.existsSync(m.dir), false);
});

function fakeV1(root: string): string {
  for (const c of ['memory', 'cpu,cpuacct', 'pids', 'cpuset', 'devices', 'freezer', 'systemd']) fs.mkdirSync(path.join(root, c));
  fs.symlinkSync('cpu,cpuacct', path.join(root, 'cpu'));
  fs.writeFileSync(path.join(root, 'cpuset', 'cpuset.cpus'), '0-1\n');
  fs.writeFileSync(path.join(root, 'cpuset', 'cpuset.mems'), '0\n');
  return ['12:memory:/user.slice', '11:cpu,cpuacct:/user.slice', '10:pids:/user.slice', '9:cpuset:/', '8:devices:/user.slice',
    '7:freezer:/', '6:rdma:/', '1:name=systemd:/user.slice/session-1.scope', '0::/user.slice'].join('\n');
}

test('v1: one directory per hierarchy, cpuset cpus/mems copied down, procs joined', (t) => {
  const root = tmp(t);
  const selfCgroup = fakeV1(root);
  const m = cgroupManager('/cradle/ctr', 'ctr', { root, selfCgroup });
  assert.ok(m instanceof CgroupV1);
  m.apply(99);
  assert.equal(read(path.join(root, 'memory/cradle/ctr/cgroup.procs')), '99');
  assert.equal(read(path.join(root, 'cpu,cpuacct/cradle/ctr/cgroup.procs')), '99');
  assert.equal(read(path.join(root, 'cpuset/cradle/cpuset.cpus')), '0-1', 'intermediate cpuset cgroup populated');
  assert.equal(read(path.join(root, 'cpuset/cradle/ctr/cpuset.mems')), '0');
  assert.equal(read(path.join(root, 'systemd/cradle/ctr/cgroup.procs')), '99', 'named hierarchy joined');
  assert.equal(fs.existsSync(path.join(root, 'rdma')), false, 'unmounted hierarchies are skipped');
  const rel = cgroupManager('ctr2', 'ctr2', { root, selfCgroup });
  assert.equal(rel.paths().memory, path.join(root, 'memory/user.slice/ctr2'), 'relative: under our own cgroup');
});

test('v1: a cpuset level another create made but has not filled yet gets cpus and mems', (t) => {
  const root = tmp(t);
  const selfCgroup = fakeV1(root);
  fs.mkdirSync(path.join(root, 'cpuset/racing'));
  fs.writeFileSync(path.join(root, 'cpuset/racing/cpuset.cpus'), '\n');
  fs.writeFileSync(path.join(root, 'cpuset/racing/cpuset.mems'), '\n');
  cgroupManager('/racing/ctr', 'ctr', { root, selfCgroup }).apply(7);
  assert.equal(read(path.join(root, 'cpuset/racing/cpuset.cpus')), '0-1');
  assert.equal(read(path.join(root, 'cpuset/racing/cpuset.mems')), '0');
  assert.equal(read(path.join(root, 'cpuset/racing/ctr/cpuset.cpus')), '0-1');
});

test('v1 set: limits, memsw, devices after the config\'s rules, unified refused', (t) => {
  const root = tmp(t);
  const m = cgroupManager('/ctr', 'ctr', { root, selfCgroup: fakeV1(root) });
  m.apply(1);
  fs.writeFileSync(path.join(root, 'memory/ctr/memory.memsw.limit_in_bytes'), '');
  m.set({
    memory: { limit: 1 << 26, swap: 1 << 27, reservation: 1 << 25 },
    cpu: { shares: 512, quota: 50000, period: 100000, cpus: '1' },
    pids: { limit: 64 },
    devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }],
  });
  assert.equal(read(path.join(root, 'memory/ctr/memory.limit_in_bytes')), String(1 << 26));
  assert.equal(read(path.join(root, 'memory/ctr/memory.memsw.limit_in_bytes')), String(1 << 27));
  assert.equal(read(path.join(root, 'memory/ctr/memory.soft_limit_in_bytes')), String(1 << 25));
  assert.equal(read(path.join(root, 'cpu,cpuacct/ctr/cpu.cfs_quota_us')), '50000');
  assert.equal(read(path.join(root, 'cpuset/ctr/cpuset.cpus')), '1');
  assert.equal(read(path.join(root, 'pids/ctr/pids.max')), '64');
  // A fake file keeps only the last write: the default allow list ends with tun.
  assert.equal(read(path.join(root, 'devices/ctr/devices.allow')), 'c 10:200 rwm');
  assert.equal(read(path.join(root, 'devices/ctr/devices.deny')), 'a *:* rwm');
  assert.throws(() => m.set({ unified: { 'memory.high': '1' } }), /needs cgroup v2/);
  assert.equal(deviceRuleString({ type: 'b', major: 8, access: 'r' }), 'b 8:* r');
  const saved = savedCgroupManager(1, m.paths(), root);
  assert.deepEqual(saved.paths(), m.paths());
});

test('".." paths are refused clearly (the systemd driver: cgroups-systemd.test.ts)', (t) => {
  const root = tmp(t);
  assert.throws(() => cgroupManager('/a/../../etc', 'a', { root, selfCgroup: '' }), /must not contain/);
});

test('device filter program: rules last to first, unconditional rule ends the program', () => {
  const { deviceFilterProgram } = require('../../../src/oci-runtime/cgroups/device-filter') as typeof import('../../../src/oci-runtime/cgroups/device-filter');
  const denyAll = deviceFilterProgram([{ allow: false, access: 'rwm' }]);
  // 6 loads + "r0 = 0; exit" for the unconditional deny, nothing after it.
  assert.equal(denyAll.length / 8, 8);
  assert.equal(denyAll.readUInt8(denyAll.length - 8), 0x95);
  const prog = deviceFilterProgram([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 5, access: 'r' }]);
  // c 1:5 r: type check, access subset (3 insns), major, minor, verdict 1, exit; then the deny-all.
  assert.equal(prog.length / 8, 6 + 6 + 2 + 2);
  assert.equal(prog.readUInt8(6 * 8), 0x55, 'first check of the last rule: type');
  assert.equal(prog.readInt16LE(6 * 8 + 2), 7, 'a failed check skips past the verdict');
  assert.equal(prog.readInt32LE(12 * 8 + 4), 1, 'allow verdict');
  // A config is not checked before this: its rules may hold any string.
  assert.throws(() => deviceFilterProgram([{ allow: true, type: 'x' as string as OciDeviceCgroup['type'] }]), /invalid type/);
  assert.throws(() => deviceFilterProgram([{ allow: true, type: 'c', access: 'rwx' }]), /invalid access/);
});

test('v1 plannedWrites: the writes set() makes, in order, before the cgroup exists (the launch plan)', (t) => {
  const root = tmp(t);
  const m = cgroupManager('/planned', 'planned', { root, selfCgroup: fakeV1(root) });
  fs.writeFileSync(path.join(root, 'memory/memory.swappiness'), '60');
  const writes = m.plannedWrites({
    memory: { limit: 4 << 20, swappiness: 10, swap: -1 },
    pids: { limit: 3 },
    devices: [{ allow: false, access: 'rwm' }],
  });
  const mem = path.join(root, 'memory/planned');
  assert.deepEqual(writes.slice(0, 4), [
    { file: path.join(mem, 'memory.memsw.limit_in_bytes'), value: '-1', optional: true },
    { file: path.join(mem, 'memory.limit_in_bytes'), value: String(4 << 20), optional: false },
    { file: path.join(mem, 'memory.swappiness'), value: '10', optional: true },
    { file: path.join(root, 'pids/planned/pids.max'), value: '3', optional: false },
  ]);
  assert.deepEqual(writes[4], { file: path.join(root, 'devices/planned/devices.deny'), value: 'a *:* rwm', optional: false });
  assert.equal(writes.length, 5 + 11, 'the default allow list follows the config\'s rules');
  assert.equal(fs.existsSync(mem), false, 'planning creates nothing');
  assert.throws(() => m.plannedWrites({ unified: { 'memory.high': '1' } }), /needs cgroup v2/);
});
