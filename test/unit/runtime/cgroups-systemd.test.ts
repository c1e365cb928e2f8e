// The systemd cgroup driver's manager on a fake v2 tree with a fake systemd: the
// scope and slice names, the unit properties for limits (runc's conversions), their
// order before the file writes, and removal tolerating a scope systemd collected.
// Creating scopes through the real systemd is the VM lane's (test/vm/smoke.test.ts).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SystemdCgroupV2, SystemdSliceV2, cgroupManager, podCgroupManager, savedCgroupManager } from '../../../src/oci-runtime/cgroups';
import { unitProperties } from '../../../src/oci-runtime/cgroups/systemd';
import { DBusError, variant, type DBusValue } from '../../../src/sys/dbus';

function fakeTree(t: { after: (fn: () => void) => void }, unified = true): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-unit-cg-systemd-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  if (unified) fs.writeFileSync(path.join(root, 'cgroup.controllers'), 'cpu memory pids');
  return root;
}

const INFINITY = (1n << 64n) - 1n;

test('the scope of a container: cradle-<id>.scope in the pod slice, at the expanded slice path', (t) => {
  const root = fakeTree(t);
  const m = cgroupManager('kubepods-burstable-pod1.slice:cradle:abc', 'abc', { root, selfCgroup: '0::/\n' }, true);
  assert.ok(m instanceof SystemdCgroupV2);
  assert.equal(m.unit, 'cradle-abc.scope');
  assert.equal(m.slice, 'kubepods-burstable-pod1.slice');
  assert.deepEqual(m.paths(), { '': path.join(root, 'kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cradle-abc.scope') });
  const defaulted = cgroupManager('', 'abc', { root, selfCgroup: '0::/\n' }, true) as SystemdCgroupV2;
  assert.equal(defaulted.dir, path.join(root, 'system.slice/cradle-abc.scope'), 'no cgroupsPath: system.slice, as runc');
  assert.throws(() => cgroupManager('/kubepods/pod1/abc', 'abc', { root, selfCgroup: '0::/\n' }, true), /slice:prefix:name/);
  const saved = savedCgroupManager(2, m.paths(), root, 'kubepods-burstable-pod1.slice:cradle:abc');
  assert.ok(saved instanceof SystemdCgroupV2 && saved.dir === (m as SystemdCgroupV2).dir, 'later commands find the same scope');
});

test('the systemd driver on a v1 host is refused with the reason', (t) => {
  const root = fakeTree(t, false);
  assert.throws(() => cgroupManager('system.slice:cradle:abc', 'abc', { root, selfCgroup: '0::/\n' }, true), /needs cgroup v2/);
});

test('limits as unit properties: runc conversions, -1 as infinity, the quota per second rounded up to 10 ms', () => {
  assert.deepEqual(unitProperties({
    memory: { limit: 64 << 20, reservation: 32 << 20 }, cpu: { shares: 512, quota: 50000, period: 100000 }, pids: { limit: 100 },
  }), [
    ['MemoryMax', variant('t', 64n << 20n)], ['MemoryLow', variant('t', 32n << 20n)], ['CPUWeight', variant('t', 20n)],
    ['CPUQuotaPeriodUSec', variant('t', 100000n)], ['CPUQuotaPerSecUSec', variant('t', 500000n)], ['TasksMax', variant('t', 100n)],
  ]);
  assert.deepEqual(unitProperties({ cpu: { quota: 1234, period: 100000 } }), [['CPUQuotaPeriodUSec', variant('t', 100000n)], ['CPUQuotaPerSecUSec', variant('t', 20000n)]]);
  assert.deepEqual(unitProperties({ memory: { limit: -1 }, pids: { limit: -1 } }), [['MemoryMax', variant('t', INFINITY)], ['TasksMax', variant('t', INFINITY)]]);
  assert.deepEqual(unitProperties({}), []);
  assert.deepEqual(unitProperties({ pids: {} }), [], 'no limit given: TasksMax is left alone');
});

test('set: SetUnitProperties on the scope, then the cgroup files; destroy: StopUnit, a collected scope is fine', (t) => {
  const root = fakeTree(t);
  const m = cgroupManager('pod1.slice:cradle:abc', 'abc', { root, selfCgroup: '0::/\n' }, true) as SystemdCgroupV2;
  const calls: [string, string, DBusValue[]][] = [];
  let stopError: Error | undefined;
  m.callSystemd = (member, signature, body) => {
    calls.push([member, signature, body]);
    if (member === 'StopUnit' && stopError) throw stopError;
    return [];
  };
  fs.mkdirSync(m.dir, { recursive: true });
  m.set({ memory: { limit: 64 << 20 }, pids: { limit: 50 } });
  assert.deepEqual(calls, [['SetUnitProperties', 'sba(sv)', ['cradle-abc.scope', true, [['MemoryMax', variant('t', 64n << 20n)], ['TasksMax', variant('t', 50n)]]]]]);
  assert.equal(fs.readFileSync(path.join(m.dir, 'memory.max'), 'utf8'), String(64 << 20));
  assert.equal(fs.readFileSync(path.join(m.dir, 'pids.max'), 'utf8'), '50');

  stopError = new DBusError('org.freedesktop.systemd1.NoSuchUnit', 'Unit cradle-abc.scope not loaded.');
  m.destroy();
  assert.deepEqual(calls.at(-1), ['StopUnit', 'ss', ['cradle-abc.scope', 'replace']]);
  assert.equal(fs.existsSync(m.dir), false);
  stopError = new DBusError('org.freedesktop.DBus.Error.AccessDenied', 'denied');
  assert.throws(() => m.destroy(), /StopUnit cradle-abc.scope: org.freedesktop.DBus.Error.AccessDenied/);
});

test('a pod slice (UpdatePodSandboxResources): SetUnitProperties on the slice, then its files; systemd keeps creating and removing it', (t) => {
  const root = fakeTree(t);
  const m = podCgroupManager('kubepods-burstable-pod1.slice', true, { root, selfCgroup: '0::/\n' }) as SystemdSliceV2;
  assert.ok(m instanceof SystemdSliceV2);
  assert.equal(m.dir, path.join(root, 'kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice'));
  const calls: [string, string, DBusValue[]][] = [];
  m.callSystemd = (member, signature, body) => { calls.push([member, signature, body]); return []; };
  fs.mkdirSync(m.dir, { recursive: true });
  m.set({ memory: { limit: 128 << 20 }, cpu: { shares: 1024 } });
  assert.deepEqual(calls, [['SetUnitProperties', 'sba(sv)', ['kubepods-burstable-pod1.slice', true, [['MemoryMax', variant('t', 128n << 20n)], ['CPUWeight', variant('t', 39n)]]]]]);
  assert.equal(fs.readFileSync(path.join(m.dir, 'memory.max'), 'utf8'), String(128 << 20));
  assert.throws(() => m.create(), /systemd's/);
  assert.throws(() => m.destroy(), /systemd's/);
  assert.ok(!(podCgroupManager('/kubepods/pod1', false, { root, selfCgroup: '0::/\n' }) instanceof SystemdSliceV2), 'cgroupfs: the directory itself');
  assert.throws(() => podCgroupManager('/kubepods/pod1', true, { root, selfCgroup: '0::/\n' }), /not a systemd slice name/);
});
