// writeLaunchPlan on a busybox bundle: the records it writes, and when it leaves the
// create to the Node path (no plan at all, a stale one removed).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PLAN_DEVICES_FILE, PLAN_FILE, PLAN_SECCOMP_FILE, PLAN_SYSTEMD_FILE, PLAN_VERSION, writeLaunchPlan } from '../../../src/oci-runtime/launch-plan';
import { decodeMessage, messageLength, type Variant } from '../../../src/sys/dbus';
import { CgroupV2 } from '../../../src/oci-runtime/cgroups';
import { planRecords } from '../../helpers/plan-records';
import { defaultSpec, makeBusyboxRootfs, writeSpec } from '../../helpers/rootfs';
import type { OciSpec } from '../../../src/common/oci-spec';

const hasV1 = fs.existsSync('/sys/fs/cgroup/memory') && !fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
const skip = !hasV1 && 'the plan covers cgroup v1 hosts';

function bundle(t: { after: (fn: () => void) => void }): { dir: string; spec: OciSpec } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-unit-plan-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  makeBusyboxRootfs(dir);
  return { dir, spec: defaultSpec(['sh', '-c', 'echo hi'], '/cradle-unit-plan') };
}

function records(dir: string): string[][] {
  const arity: Record<string, number> = {
    id: 1, 'config-sha256': 1, bundle: 1, rootfs: 1, state: 1, namespace: 2, cgroup: 3, 'cgroup-write': 3, 'oom-score-adj': 1,
    terminal: 1, 'root-propagation': 2, mount: 9, 'mount-rro': 1, mkdir: 1, symlink: 2, device: 6, 'dev-symlinks': 0, sysctl: 2, 'readonly-path': 1,
    'masked-path': 1, 'readonly-root': 0, hostname: 1, domainname: 1, rlimit: 4, user: 3, 'additional-gid': 1, caps: 4, ambient: 1,
    'no-new-privileges': 0, seccomp: 2, apparmor: 1, cwd: 1, env: 1, arg: 1, cgroup2: 2, 'device-program': 2, 'mount-idmap': 4, 'reopen-dev-null': 0,
    'systemd-scope': 8,
  };
  return planRecords(path.join(dir, PLAN_FILE), PLAN_VERSION, arity);
}

test('the plan: header, cgroups, limits without the Node floor, rootfs, process, seccomp', { skip }, (t) => {
  const { dir, spec } = bundle(t);
  spec.linux!.resources!.memory = { limit: 4 * 1024 * 1024 };
  spec.mounts!.push({ destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro', 'rprivate'] });
  spec.mounts!.push({ destination: '/data-rro', type: 'bind', source: 'data', options: ['rbind', 'ro', 'rprivate', 'rro'] });
  writeSpec(dir, spec);
  assert.equal(writeLaunchPlan(dir, 'ctr'), true);
  const r = records(dir);
  const one = (op: string) => r.filter((x) => x[0] === op);
  assert.deepEqual(one('id'), [['id', 'ctr']]);
  assert.deepEqual(one('config-sha256'), [['config-sha256', crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, 'config.json'))).digest('hex')]]);
  assert.deepEqual(one('bundle'), [['bundle', dir]]);
  const state = JSON.parse(`{${one('state')[0]![1]}`) as Record<string, unknown>;
  assert.equal(state.id, 'ctr');
  assert.equal(state.cgroupsPath, '/cradle-unit-plan');
  assert.ok(one('cgroup').some((c) => c[2] === '/sys/fs/cgroup/memory/cradle-unit-plan'));
  assert.deepEqual(one('cgroup-write')[0], ['cgroup-write', '/sys/fs/cgroup/memory/cradle-unit-plan/memory.limit_in_bytes', String(4 << 20), '0']);
  const proc = one('mount').find((m) => m[1] === '/proc')!;
  assert.deepEqual(proc, ['mount', '/proc', 'proc', 'proc', '0', '', 'dir', '0', '', '1'], 'procfs must not land on a symlink');
  const data = one('mount').find((m) => m[1] === '/data')!;
  // MS_BIND|MS_REC, then a remount adding MS_RDONLY, then MS_PRIVATE|MS_REC.
  assert.deepEqual(data, ['mount', '/data', path.join(dir, 'data'), '', String(0x1000 | 0x4000), '', 'source', '1', String(0x40000 | 0x4000), '0']);
  // rro: the same bind, then mount_setattr(AT_RECURSIVE) on what it made; only that mount gets one.
  const rroAt = r.findIndex((m) => m[0] === 'mount' && m[1] === '/data-rro');
  assert.deepEqual(r[rroAt + 1], ['mount-rro', '/data-rro']);
  assert.deepEqual(one('mount-rro'), [['mount-rro', '/data-rro']]);
  assert.ok(one('mount').some((m) => m[1] === '/sys/fs/cgroup/memory' && m[3] === 'cgroup' && m[5] === 'memory'), 'cgroup v1 mounts expanded');
  assert.equal(one('device').length, 6, 'the default devices');
  assert.deepEqual(one('device')[0], ['device', '/dev/null', String(0o20666), '1', '3', '-1', '-1']);
  // CAP_AUDIT_WRITE (29), CAP_KILL (5), CAP_NET_BIND_SERVICE (10).
  const mask = String((1n << 29n) | (1n << 5n) | (1n << 10n));
  assert.deepEqual(one('caps'), [['caps', mask, mask, mask, '0']]);
  assert.deepEqual(one('rlimit'), [['rlimit', '7', '1024', '1024', 'RLIMIT_NOFILE']]);
  assert.deepEqual(one('arg'), [['arg', 'sh'], ['arg', '-c'], ['arg', 'echo hi']]);
  const [, file, digest] = one('seccomp')[0]!;
  assert.equal(file, path.join(dir, PLAN_SECCOMP_FILE));
  const program = fs.readFileSync(file!);
  assert.equal(program.length % 8, 0);
  assert.equal(crypto.createHash('sha256').update(program).digest('hex'), digest);
});

test('a joined user namespace: its record, idmapped binds, host-owned tmpfs and devpts ids in the pod\'s range', { skip }, (t) => {
  const { dir, spec } = bundle(t);
  const maps = [{ containerID: 0, hostID: 100000, size: 65536 }, { containerID: 65536, hostID: 300000, size: 10 }];
  spec.linux!.namespaces!.push({ type: 'user', path: '/run/cradle/ns/user/pod' });
  spec.linux!.uidMappings = maps;
  spec.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  spec.mounts!.push({ destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'rw'], uidMappings: maps, gidMappings: maps });
  spec.mounts!.push({ destination: '/plain', type: 'bind', source: 'data', options: ['bind', 'ro'] });
  spec.mounts!.push({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['mode=1777', 'uid=1000'] });
  writeSpec(dir, spec);
  assert.equal(writeLaunchPlan(dir, 'ctr'), true);
  const r = records(dir);
  assert.deepEqual(r.filter((x) => x[0] === 'namespace' && x[1] === 'user'), [['namespace', 'user', '/run/cradle/ns/user/pod']]);
  const at = r.findIndex((m) => m[0] === 'mount' && m[1] === '/data');
  // Right after its bind: the maps as uid_map/gid_map lines, recursive as the bind is.
  assert.deepEqual(r[at + 1], ['mount-idmap', '/data', '0 100000 65536\n65536 300000 10', '0 100000 65536\n65536 300000 10', '1']);
  assert.equal(r.filter((x) => x[0] === 'mount-idmap').length, 1, 'a bind without maps is not idmapped');
  const data = (dest: string) => r.find((m) => m[0] === 'mount' && m[1] === dest)![5];
  // The launcher mounts as the host's root: a tmpfs is given to the pod's root (or the uid asked, mapped).
  assert.equal(data('/scratch'), 'mode=1777,uid=101000,gid=200000');
  assert.match(data('/dev')!, /(^|,)uid=100000,gid=200000$/);
  assert.match(data('/dev/pts')!, /(^|,)gid=200005(,|$)/, 'devpts gid=5 is the pod\'s tty group');
  assert.doesNotMatch(data('/dev/pts')!, /uid=/);

  // A new user namespace, or one without maps, is not something the launcher does.
  const s = JSON.parse(JSON.stringify(spec)) as OciSpec;
  delete s.linux!.uidMappings;
  writeSpec(dir, s);
  assert.equal(writeLaunchPlan(dir, 'ctr'), false, 'no maps');
});

test('specs for the Node path get no plan, and a stale plan is removed', { skip }, (t) => {
  const { dir, spec } = bundle(t);
  writeSpec(dir, spec);
  assert.equal(writeLaunchPlan(dir, 'ctr'), true);
  const cases: [string, (s: OciSpec) => void][] = [
    ['hooks', (s) => { s.hooks = { prestart: [{ path: '/bin/true' }] }; }],
    ['relative cgroupsPath', (s) => { s.linux!.cgroupsPath = 'relative'; }],
    ['invalid spec', (s) => { s.process!.args = []; }],
    ['unknown rlimit', (s) => { s.process!.rlimits = [{ type: 'RLIMIT_NOPE', soft: 1, hard: 1 }]; }],
    ['mount over /proc', (s) => { s.mounts!.push({ destination: '/proc/kcore', type: 'bind', source: '/dev/null', options: ['bind'] }); }],
    ['time namespace', (s) => { s.linux!.namespaces!.push({ type: 'time' }); }],
  ];
  for (const [what, change] of cases) {
    const s = JSON.parse(JSON.stringify(spec)) as OciSpec;
    change(s);
    writeSpec(dir, s);
    assert.equal(writeLaunchPlan(dir, 'ctr'), false, what);
    assert.equal(fs.existsSync(path.join(dir, PLAN_FILE)), false, `${what}: no plan left`);
  }
  writeSpec(dir, spec);
  assert.equal(writeLaunchPlan(dir, 'ctr', { systemdCgroup: true }), false, 'the systemd driver on cgroup v1');
  assert.equal(writeLaunchPlan(dir, '../x'), false, 'invalid id');
  fs.writeFileSync(path.join(dir, 'config.json'), '{');
  assert.equal(writeLaunchPlan(dir, 'ctr'), false, 'invalid JSON');
});

test('cgroup v2 (a fake unified tree): the cgroup, its device program, the v2 limit files, cgroup2 mounts', (t) => {
  const { dir, spec } = bundle(t);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-unit-plan-v2-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.writeFileSync(path.join(root, 'cgroup.controllers'), 'cpu memory pids');
  const cgroupFs = { root, selfCgroup: '0::/\n' };
  spec.linux!.resources = {
    memory: { limit: 4 * 1024 * 1024, swap: 8 * 1024 * 1024 }, cpu: { shares: 1024, quota: 50000, period: 100000 }, pids: { limit: 64 },
    devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }],
  };
  const cgroupMount = (s: OciSpec) => s.mounts!.find((m) => m.type === 'cgroup' || m.type === 'cgroup2')!;
  spec.process!.apparmorProfile = 'cradle-default';
  writeSpec(dir, spec);
  assert.equal(writeLaunchPlan(dir, 'ctr', { cgroupFs }), true);
  const r = records(dir);
  const one = (op: string) => r.filter((x) => x[0] === op);
  assert.deepEqual(one('apparmor'), [['apparmor', 'cradle-default']], 'process.apparmorProfile for the launcher');
  const leaf = path.join(root, 'cradle-unit-plan');
  assert.deepEqual(one('cgroup'), [], 'no v1 hierarchy');
  assert.deepEqual(one('cgroup2'), [['cgroup2', root, leaf]]);
  const state = JSON.parse(`{${one('state')[0]![1]}`) as Record<string, unknown>;
  assert.equal(state.cgroupVersion, 2);
  assert.deepEqual(state.cgroupPaths, { '': leaf });
  assert.deepEqual(one('cgroup-write').map((w) => [path.relative(leaf, w[1]!), w[2], w[3]]), [
    ['memory.max', String(4 << 20), '0'], ['memory.swap.max', String(4 << 20), '0'], ['cpu.weight', '39', '0'], ['cpu.max', '50000 100000', '0'], ['pids.max', '64', '0'],
  ], 'the files and values of CgroupV2.plan, in its order');
  const [, file, digest] = one('device-program')[0]!;
  assert.equal(file, path.join(dir, PLAN_DEVICES_FILE));
  const program = fs.readFileSync(file!);
  assert.deepEqual(program, CgroupV2.deviceProgram(spec.linux!.resources.devices!), 'the program the Node create attaches');
  assert.equal(crypto.createHash('sha256').update(program).digest('hex'), digest);
  // The cgroup mount: a cgroup2 fs with a cgroup namespace, a bind of the leaf without.
  assert.ok(spec.linux!.namespaces!.some((n) => n.type === 'cgroup'), 'the default spec has a cgroup namespace');
  const dest = path.posix.normalize(cgroupMount(spec).destination);
  assert.deepEqual(one('mount').filter((m) => m[1]!.startsWith(dest)), [['mount', dest, 'cgroup2', 'cgroup2', String(0x2 | 0x4 | 0x8 | 0x1), '', 'dir', '0', '', '0']]);
  spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'cgroup');
  writeSpec(dir, spec);
  assert.equal(writeLaunchPlan(dir, 'ctr', { cgroupFs }), true);
  assert.deepEqual(records(dir).filter((m) => m[0] === 'mount' && m[1]!.startsWith(dest)), [['mount', dest, leaf, '', String(0x1000 | 0x4000), '', 'dir', '0', '', '0']]);
  // A setting v2 cannot apply is a warning the Node create logs: that create stays on the Node path.
  spec.linux!.resources.memory!.disableOOMKiller = true;
  writeSpec(dir, spec);
  assert.equal(writeLaunchPlan(dir, 'ctr', { cgroupFs }), false);
});

test('the systemd driver (a fake unified tree): the scope\'s calls marshalled for the launcher, then its cgroup as on v2', (t) => {
  const { dir, spec } = bundle(t);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-unit-plan-sd-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.writeFileSync(path.join(root, 'cgroup.controllers'), 'cpu memory pids');
  const socket = path.join(root, 'private');
  fs.writeFileSync(socket, '');
  const cgroupFs = { root, selfCgroup: '0::/\n' };
  spec.linux!.cgroupsPath = 'kubepods-besteffort-podabc.slice:cradle:ctr';
  spec.linux!.resources = { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 32 } };
  writeSpec(dir, spec);
  assert.equal(writeLaunchPlan(dir, 'ctr', { systemdCgroup: true, systemdSocket: socket, cgroupFs }), true);
  const r = records(dir);
  const scopeAt = r.findIndex((x) => x[0] === 'systemd-scope');
  const cgroup2At = r.findIndex((x) => x[0] === 'cgroup2');
  assert.ok(scopeAt >= 0 && scopeAt < cgroup2At, 'the scope, then the cgroup2 record delegating down to it');
  const scopeDir = path.join(root, 'kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podabc.slice/cradle-ctr.scope');
  assert.deepEqual(r[cgroup2At], ['cgroup2', root, scopeDir]);
  const [, sock, unit, file, digest, startLen, stopLen, pidOffset, line] = r[scopeAt]!;
  assert.deepEqual([sock, unit, file, line], [socket, 'cradle-ctr.scope', path.join(dir, PLAN_SYSTEMD_FILE), `0::/${path.relative(root, scopeDir)}`]);
  const messages = fs.readFileSync(file!);
  assert.equal(crypto.createHash('sha256').update(messages).digest('hex'), digest);
  const setAt = Number(startLen) + Number(stopLen);
  const start = Buffer.from(messages.subarray(0, Number(startLen)));
  assert.equal(messageLength(start), start.length, 'the start message is whole');
  // What systemd receives once the launcher writes the init's pid at the offset.
  start.writeUInt32LE(4242, Number(pidOffset));
  const call = decodeMessage(start);
  assert.equal(call.fields.get(3), 'StartTransientUnit');
  assert.equal(call.fields.get(6), 'org.freedesktop.systemd1');
  const [name, mode, props] = call.body as [string, string, [string, Variant][]];
  assert.deepEqual([name, mode], ['cradle-ctr.scope', 'replace']);
  const prop = (list: [string, Variant][], key: string) => list.find((p) => p[0] === key)?.[1].value;
  assert.deepEqual(prop(props, 'PIDs'), [4242]);
  assert.equal(prop(props, 'Slice'), 'kubepods-besteffort-podabc.slice');
  assert.equal(prop(props, 'Delegate'), true);
  assert.equal(prop(props, 'MemoryMax'), undefined, 'no limit while the init sets itself up');
  const stop = decodeMessage(messages.subarray(Number(startLen), setAt));
  assert.equal(stop.fields.get(3), 'StopUnit');
  assert.deepEqual(stop.body, ['cradle-ctr.scope', 'replace']);
  // Once the init is ready: the limits systemd manages, as SystemdCgroupV2.set gives them.
  const set = decodeMessage(messages.subarray(setAt));
  assert.equal(set.fields.get(3), 'SetUnitProperties');
  const [setUnit, runtime, limits] = set.body as [string, boolean, [string, Variant][]];
  assert.deepEqual([setUnit, runtime], ['cradle-ctr.scope', true]);
  assert.equal(prop(limits, 'MemoryMax'), 64n * 1024n * 1024n);
  assert.equal(prop(limits, 'TasksMax'), 32n);
  assert.equal(new Set([call.serial, stop.serial, set.serial]).size, 3, 'a serial each');
  const state = JSON.parse(`{${r.find((x) => x[0] === 'state')![1]}`) as Record<string, unknown>;
  assert.equal(state.systemdCgroup, true);
  assert.equal(state.cgroupsPath, 'kubepods-besteffort-podabc.slice:cradle:ctr');
  assert.deepEqual(state.cgroupPaths, { '': scopeDir });
  // No limit systemd manages: no SetUnitProperties.
  spec.linux!.resources = {};
  writeSpec(dir, spec);
  assert.equal(writeLaunchPlan(dir, 'ctr', { systemdCgroup: true, systemdSocket: socket, cgroupFs }), true);
  const plain = records(dir).find((x) => x[0] === 'systemd-scope')!;
  assert.equal(fs.readFileSync(plain[3]!).length, Number(plain[5]) + Number(plain[6]), 'start and stop only');
  // Without systemd's private socket the Node create talks to the bus instead.
  fs.rmSync(socket);
  assert.equal(writeLaunchPlan(dir, 'ctr', { systemdCgroup: true, systemdSocket: socket, cgroupFs }), false);
  assert.equal(fs.existsSync(path.join(dir, PLAN_FILE)), false);
});
