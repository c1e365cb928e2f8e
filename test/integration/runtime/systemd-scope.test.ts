// The native launcher under the systemd cgroup driver: `cradle-runtime --systemd-cgroup
// create` with a launch plan asks systemd for the container's scope itself (the calls
// TypeScript marshalled, sent over systemd's private socket) and runs the init there,
// with no Node process. Here systemd is test/helpers/fake-systemd.ts on a socket of the
// test's own, making scopes under a real cgroup2 mount; the real systemd's answers are
// exercised in the VM lane (test/vm/smoke.test.ts). Were the create to fall back to the
// Node CLI, it would look for systemd at its fixed sockets and fail.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanChildEnv } from '../../../src/common/child-env';
import { FakeSystemd } from '../../helpers/fake-systemd';
import { writeLaunchPlan } from '../../../src/oci-runtime/launch-plan';
import { CGROUP_V2_ONLY, CRADLE_RUNTIME, TestContainer, isRoot, killAndRemoveCgroup, sweepStale } from './harness';

/** A cgroup2 mount: the unified root, or the hybrid layout's unified mount beside the v1 hierarchies. */
const CGROUP2 = CGROUP_V2_ONLY ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified';
const SLICE = 'cradletestscope.slice';
const skip = !isRoot() ? 'needs root' : !fs.existsSync(path.join(CGROUP2, 'cgroup.controllers')) ? `no cgroup2 mount at ${CGROUP2}` : false;

let fake: FakeSystemd;
const sliceDir = path.join(CGROUP2, SLICE);

/** Scopes of this test's slice, killed and removed (also those a killed run left). */
function sweepSlice(): void {
  if (!fs.existsSync(sliceDir)) return;
  for (const e of fs.readdirSync(sliceDir, { withFileTypes: true })) if (e.isDirectory()) killAndRemoveCgroup(path.join(sliceDir, e.name));
  killAndRemoveCgroup(sliceDir);
}

before(async () => {
  if (skip) return;
  sweepStale();
  sweepSlice();
  fake = await FakeSystemd.start(`/run/cradle-test-fake-systemd-${process.pid}.sock`, CGROUP2);
});
after(async () => {
  if (skip) return;
  await fake.stop();
  sweepSlice();
});

/** A container whose plan is for the systemd driver, talking to the fake. */
function scopedContainer(t: { after: (fn: () => void) => void }, tag: string, args: string[]): { c: TestContainer; unit: string; scopeDir: string } {
  const c = new TestContainer('cradle', tag, args);
  // The bundle's cgroupfs plan is not wanted: the container is cleaned up by hand, as
  // `delete` would ask the real systemd to stop the scope.
  t.after(() => {
    const st = c.state();
    if (st?.pid) try { process.kill(st.pid, 'SIGKILL'); } catch { /* gone */ }
    killAndRemoveCgroup(fake.scopeDir(SLICE, unit));
    fs.rmSync(c.dir, { recursive: true, force: true });
  });
  c.spec.linux!.cgroupsPath = `${SLICE}:cradle:${c.id}`;
  // The hybrid layout's cgroup2 mount has no memory, cpu or pids controller to limit.
  if (!CGROUP_V2_ONLY) c.spec.linux!.resources = { devices: c.spec.linux!.resources?.devices ?? [] };
  c.writeSpec();
  const unit = `cradle-${c.id}.scope`;
  assert.equal(writeLaunchPlan(c.bundle, c.id, { systemdCgroup: true, systemdSocket: fake.socket, cgroupFs: { root: CGROUP2, selfCgroup: '0::/\n' } }), true);
  c.globalFlags = ['--systemd-cgroup'];
  fake.calls.length = 0;
  return { c, unit, scopeDir: fake.scopeDir(SLICE, unit) };
}

/**
 * `create`, with the container's output in files as TestContainer.create, but spawned
 * asynchronously: the fake systemd answers on this process's event loop.
 */
async function create(c: TestContainer): Promise<{ status: number | null; stderr: string }> {
  const out = fs.openSync(c.outFile, 'a');
  const err = fs.openSync(c.errFile, 'a');
  try {
    const child = spawn(CRADLE_RUNTIME, ['--root', c.root, ...c.globalFlags, 'create', '--bundle', c.bundle, '--pid-file', path.join(c.dir, 'pid'), c.id],
      { env: cleanChildEnv(), stdio: ['ignore', out, err] });
    const status = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => resolve(code));
    });
    return { status, stderr: fs.readFileSync(c.errFile, 'utf8') };
  } finally {
    fs.closeSync(out);
    fs.closeSync(err);
  }
}

test('systemd makes the scope around the native init; start and a native exec run in it', { skip }, async (t) => {
  const { c, unit, scopeDir } = scopedContainer(t, 'sd-run', ['sleep', '100']);
  const created = await create(c);
  assert.equal(created.status, 0, created.stderr);
  const { pid } = c.state()!;
  // The limits systemd manages follow once the init is ready (the hybrid layout's cgroup2 has none to set).
  const calls = CGROUP_V2_ONLY ? ['StartTransientUnit', 'SetUnitProperties'] : ['StartTransientUnit'];
  assert.deepEqual(fake.calls.map((x) => x.member), calls);
  const [name, mode, props] = fake.calls[0]!.body as [string, string, [string, { value: unknown }][]];
  assert.deepEqual([name, mode], [unit, 'replace']);
  assert.deepEqual(props.find((p) => p[0] === 'PIDs')?.[1].value, [pid], 'the init\'s pid, written into the marshalled call');
  assert.match(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`^0::/${SLICE}/${unit.replace(/\./g, '\\.')}$`, 'm'));
  const saved = JSON.parse(fs.readFileSync(path.join(c.root, c.id, 'state.json'), 'utf8')) as { systemdCgroup: boolean; cgroupPaths: Record<string, string> };
  assert.equal(saved.systemdCgroup, true);
  assert.deepEqual(saved.cgroupPaths, { '': scopeDir });

  const started = c.cli(['start', c.id]);
  assert.equal(started.status, 0, started.stderr);
  // The container's /sys/fs/cgroup is its scope: the exec'd process is listed beside the init.
  const processFile = path.join(c.dir, 'process.json');
  fs.writeFileSync(processFile, JSON.stringify({
    args: ['sh', '-c', 'cat /sys/fs/cgroup/cgroup.procs'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'],
  }));
  const exec = c.exec(processFile);
  assert.equal(exec.planned, true, 'the exec has a plan under the systemd driver too');
  assert.equal(exec.status, 0, exec.stderr);
  const pids = exec.stdout.trim().split('\n');
  assert.ok(pids.includes('1') && pids.length >= 2, `the init and the exec in the scope: ${JSON.stringify(pids)}`);
  assert.deepEqual(fake.calls.map((x) => x.member), calls, 'no further calls');
});

test('systemd refusing the scope fails the create with its error, and nothing is left', { skip }, async (t) => {
  const { c, unit } = scopedContainer(t, 'sd-refused', ['sleep', '100']);
  fake.failNext.set('StartTransientUnit', { name: 'org.freedesktop.systemd1.UnitExists', text: `Unit ${unit} was already loaded or has a fragment file.` });
  const created = await create(c);
  assert.notEqual(created.status, 0);
  assert.ok(created.stderr.includes(`systemd StartTransientUnit ${unit}: org.freedesktop.systemd1.UnitExists: Unit ${unit} was already loaded`), created.stderr);
  assert.equal(fs.existsSync(path.join(c.root, c.id)), false, 'no state directory');
  const [pid] = (fake.calls[0]!.body[2] as [string, { value: number[] }][]).find((p) => p[0] === 'PIDs')![1].value;
  assert.equal(fs.existsSync(`/proc/${pid}`), false, 'the init was killed and reaped');
  assert.deepEqual(fake.calls.map((x) => x.member), ['StartTransientUnit', 'StopUnit'], 'the undo asks for the scope to stop');
});

test('a create failing after systemd made the scope stops the scope', { skip }, async (t) => {
  const { c, unit, scopeDir } = scopedContainer(t, 'sd-undo', ['/no/such/program']);
  const created = await create(c);
  assert.notEqual(created.status, 0);
  assert.match(created.stderr, /"\/no\/such\/program": no such executable file/);
  assert.deepEqual(fake.calls.map((x) => [x.member, x.body[0]]), [['StartTransientUnit', unit], ['StopUnit', unit]]);
  assert.equal(fs.existsSync(scopeDir), false, 'the scope is gone');
  assert.equal(fs.existsSync(path.join(c.root, c.id)), false, 'no state directory');
});

test('systemd refusing the limits, once the init is ready, fails the create and stops the scope', { skip }, async (t) => {
  const { c, unit, scopeDir } = scopedContainer(t, 'sd-limits', ['sleep', '100']);
  c.spec.linux!.resources = { ...c.spec.linux!.resources, pids: { limit: 32 } };
  c.writeSpec();
  assert.equal(writeLaunchPlan(c.bundle, c.id, { systemdCgroup: true, systemdSocket: fake.socket, cgroupFs: { root: CGROUP2, selfCgroup: '0::/\n' } }), true);
  fake.failNext.set('SetUnitProperties', { name: 'org.freedesktop.DBus.Error.InvalidArgs', text: 'Cannot set property TasksMax.' });
  const created = await create(c);
  assert.notEqual(created.status, 0);
  assert.ok(created.stderr.includes(`systemd SetUnitProperties ${unit}: org.freedesktop.DBus.Error.InvalidArgs: Cannot set property TasksMax.`), created.stderr);
  const set = fake.calls.find((x) => x.member === 'SetUnitProperties')!;
  assert.deepEqual((set.body[2] as [string, { value: unknown }][]).find((p) => p[0] === 'TasksMax')?.[1].value, 32n, 'the limit systemd was asked to manage');
  assert.deepEqual(fake.calls.map((x) => x.member), ['StartTransientUnit', 'SetUnitProperties', 'StopUnit']);
  assert.equal(fs.existsSync(scopeDir), false, 'the scope is gone');
  assert.equal(fs.existsSync(path.join(c.root, c.id)), false, 'no state directory');
});
