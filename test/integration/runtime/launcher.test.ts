// The native launcher (docs/launch-plan.md): create from a launch plan without Node,
// the fallback to the Node CLI, small memory limits, cleanup after a failed create,
// and the state it records against the Node create's.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { cleanChildEnv } from '../../../src/common/child-env';
import { PLAN_FILE, writeLaunchPlan } from '../../../src/oci-runtime/launch-plan';
import { TestContainer, CGROUP_V2_ONLY, fakeRepo, isRoot, leftoverCgroups, sweepStale } from './harness';
import { conmonCreate } from './conmon-driver';

const skip = !isRoot() && 'needs root';
before(() => { if (isRoot()) sweepStale(); });

/** Processes whose command line mentions text (a leftover init names its state dir). */
function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

test('a planned create starts no Node process; a plan for another config.json falls back to the Node CLI', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'nonode', ['true']);
  t.after(() => ctr.cleanup());
  ctr.writeSpec();
  assert.equal(ctr.planned, true);
  const fake = fakeRepo(ctr.dir);
  // stderr to a file: the init keeps the container's stdio open until it execs.
  const create = (): { status: number | null; stderr: string } => {
    const err = fs.openSync(ctr.errFile, 'w');
    try {
      const res = spawnSync(fake.bin, ['--root', ctr.root, 'create', '--bundle', ctr.bundle, ctr.id],
        { env: cleanChildEnv(), stdio: ['ignore', 'ignore', err], timeout: 30000 });
      return { status: res.status, stderr: fs.readFileSync(ctr.errFile, 'utf8') };
    } finally {
      fs.closeSync(err);
    }
  };
  const r = create();
  assert.equal(r.status, 0, r.stderr);
  assert.equal(fs.existsSync(fake.marker), false, 'the Node CLI was never started');
  assert.equal(ctr.state()!.status, 'created');
  assert.equal(ctr.cli(['delete', '--force', ctr.id]).status, 0);

  // Any change to config.json after the plan was written: the digest no longer matches.
  fs.appendFileSync(path.join(ctr.bundle, 'config.json'), '\n');
  const fallback = create();
  assert.equal(fallback.status, 99, 'the fake Node CLI ran');
  assert.equal(fs.readFileSync(fake.marker, 'utf8').trim(),
    `${path.join(ctr.dir, 'fake-repo', 'dist', 'src', 'oci-runtime', 'main.js')} --root ${ctr.root} create --bundle ${ctr.bundle} ${ctr.id}`,
    'the Node CLI gets the same arguments');
  assert.equal(fs.existsSync(path.join(ctr.root, ctr.id)), false, 'the launcher made nothing before falling back');
});

test('fallback: with a stale plan the real Node CLI creates the container', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'stale', ['sh', '-c', 'echo from-node-create']);
  t.after(() => ctr.cleanup());
  ctr.writeSpec();
  assert.equal(ctr.planned, true);
  const spec = JSON.parse(fs.readFileSync(path.join(ctr.bundle, 'config.json'), 'utf8')) as { hostname: string };
  spec.hostname = 'changed';
  fs.writeFileSync(path.join(ctr.bundle, 'config.json'), JSON.stringify(spec));
  assert.ok(fs.existsSync(path.join(ctr.bundle, PLAN_FILE)), 'the stale plan is still there');
  const c = ctr.create();
  assert.equal(c.status, 0, c.stderr);
  const pid = ctr.state()!.pid;
  assert.match(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /node\0.*\0__init\0$/, 'the Node create\'s init');
  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  await ctr.waitStopped();
  assert.equal(fs.readFileSync(ctr.outFile, 'utf8'), 'from-node-create\n');
});

test('a plan for another id falls back (the Node CLI then creates it)', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'otherid', ['true']);
  t.after(() => ctr.cleanup());
  ctr.writeSpec();
  assert.equal(writeLaunchPlan(ctr.bundle, `${ctr.id}-other`), true);
  assert.equal(ctr.create().status, 0);
  assert.match(fs.readFileSync(`/proc/${ctr.state()!.pid}/cmdline`, 'utf8'), /\0__init\0$/);
});

test('native: a 4 MiB memory limit is accepted, the container starts, and is OOM-killed when it allocates more', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'small', ['sh', '-c', 'echo started; exec dd if=/dev/zero of=/dev/null bs=16M count=1']);
  t.after(() => ctr.cleanup());
  ctr.spec.linux!.resources!.memory = { limit: 4 * 1024 * 1024, swap: 4 * 1024 * 1024 };
  ctr.writeSpec();
  assert.equal(ctr.planned, true, 'no floor on the native path');
  // Under conmon, as cri-o runs it: the exit status and conmon's oom file.
  const run = await conmonCreate(ctr);
  const memDir = ctr.cgroupDir('memory');
  assert.equal(fs.readFileSync(path.join(memDir, CGROUP_V2_ONLY ? 'memory.max' : 'memory.limit_in_bytes'), 'utf8').trim(), String(4 * 1024 * 1024));
  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  let exit = '';
  for (let i = 0; i < 500 && !exit; i++) {
    try { exit = fs.readFileSync(run.exitFile, 'utf8'); } catch { await new Promise((r) => setTimeout(r, 20)); }
  }
  const log = fs.readFileSync(run.logFile, 'utf8');
  assert.match(log, /stdout F started$/m, 'the container ran under the 4 MiB limit');
  assert.equal(exit, '137', 'killed by SIGKILL (the OOM killer)');
  // The memcg OOM killer did it (memory.failcnt is not kept by every kernel: oom_kill is).
  assert.match(fs.readFileSync(path.join(memDir, CGROUP_V2_ONLY ? 'memory.events' : 'memory.oom_control'), 'utf8'), /^oom_kill [1-9]/m);
  if (!CGROUP_V2_ONLY) assert.equal(fs.readFileSync(path.join(memDir, 'memory.max_usage_in_bytes'), 'utf8').trim(), String(4 * 1024 * 1024));
});

test('native: a failing create names its step and leaves no state dir, cgroup or process', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'nfail', ['true']);
  t.after(() => ctr.cleanup());
  ctr.spec.mounts!.push({ destination: '/data', type: 'bind', source: '/nonexistent-cradle-source', options: ['rbind'] });
  ctr.writeSpec();
  assert.equal(ctr.planned, true);
  const logFile = path.join(ctr.dir, 'runtime.log');
  const r = ctr.cli(['--log', logFile, '--log-format', 'json', 'create', '--bundle', ctr.bundle, ctr.id]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'cradle-runtime: container init: mounts: /data (bind from /nonexistent-cradle-source): stat /nonexistent-cradle-source: No such file or directory\n');
  const line = JSON.parse(fs.readFileSync(logFile, 'utf8').trim()) as Record<string, string>;
  assert.equal(line.level, 'error');
  assert.equal(line.msg, r.stderr.slice('cradle-runtime: '.length, -1));
  assert.equal(line.command, 'create');
  assert.match(line.time!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(fs.existsSync(path.join(ctr.root, ctr.id)), false, 'no state dir');
  assert.deepEqual(leftoverCgroups(ctr.cgroupsPath), [], 'no cgroup');
  assert.deepEqual(processesMentioning(path.join(ctr.root, ctr.id)), [], 'no init left');

  // The text log has runc's (logrus) shape too.
  const textLog = path.join(ctr.dir, 'runtime.txt');
  ctr.cli(['--log', textLog, 'create', '--bundle', ctr.bundle, ctr.id]);
  assert.match(fs.readFileSync(textLog, 'utf8'), /^time="[^"]+" level=error msg="container init: mounts: \/data .*No such file or directory" command="create"\n$/);
});

test('native and Node creates record the same state.json shape', { skip }, (t) => {
  const native = new TestContainer('cradle', 'shapen', ['true']);
  const node = new TestContainer('cradle', 'shapej', ['true']);
  t.after(() => { native.cleanup(); node.cleanup(); });
  node.launcher = 'node';
  native.spec.annotations = { a: 'b' };
  node.spec.annotations = { a: 'b' };
  native.writeSpec();
  node.writeSpec();
  assert.equal(native.planned, true);
  assert.equal(node.planned, false);
  assert.equal(native.create().status, 0);
  assert.equal(node.create().status, 0);
  const read = (c: TestContainer): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(c.root, c.id, 'state.json'), 'utf8')) as Record<string, unknown>;
  const a = read(native);
  const b = read(node);
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
  const pid = a.pid as number;
  assert.deepEqual(a.namespacePaths, Object.fromEntries(['ipc', 'uts', 'net', 'pid', 'mnt', 'cgroup'].map((n) => [n, `/proc/${pid}/ns/${n}`])));
  assert.equal(a.startTime, fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]);
  assert.deepEqual(a.annotations, { a: 'b' });
  assert.equal(a.bundle, native.bundle);
  assert.deepEqual(Object.keys(a.cgroupPaths as object).sort(), Object.keys(b.cgroupPaths as object).sort());
  assert.equal(fs.readFileSync(path.join(native.dir, 'pid'), 'utf8'), String(pid));
  // exec uses the stored seccomp program and the recorded namespaces.
  assert.ok(fs.statSync(path.join(native.root, native.id, 'seccomp.bpf')).size > 0);
  assert.equal(native.cli(['start', native.id]).status, 0);
});

test('native: exec into a running native container', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'nexec', ['sleep', '1000']);
  t.after(() => ctr.cleanup());
  ctr.writeSpec();
  assert.equal(ctr.planned, true);
  assert.equal(ctr.create().status, 0);
  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  const r = ctr.cli(['exec', ctr.id, 'sh', '-c', 'hostname; cat /proc/self/status | grep -E "^(Seccomp|NoNewPrivs):"']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'cradle-ctr\nNoNewPrivs:\t1\nSeccomp:\t2\n');
});

// The unified half of this host's hybrid layout (no controllers to speak of, but a real
// cgroup2 fs): the plan's v2 records executed by the launcher for real.
const UNIFIED = '/sys/fs/cgroup/unified';
test('native on cgroup v2: the init joins its cgroup2 dir, the device program denies what the rules do not allow', { skip: (skip || !fs.existsSync(`${UNIFIED}/cgroup.procs`)) && 'needs root and a cgroup2 mount' }, async (t) => {
  const ctr = new TestContainer('cradle', 'nv2', ['sh', '-c',
    'grep "^0::" /proc/self/cgroup; echo x > /dev/null && echo null-ok; (echo cradle-test-v2 > /dev/kmsg2) 2>/dev/null && echo kmsg-written || echo kmsg-denied']);
  const leaf = path.join(UNIFIED, ctr.cgroupsPath);
  const rootControl = path.join(UNIFIED, 'cgroup.subtree_control');
  const controlBefore = fs.readFileSync(rootControl, 'utf8').split(/\s+/).filter(Boolean);
  t.after(() => {
    ctr.cleanup();
    try { fs.rmdirSync(leaf); } catch { /* removed by delete */ }
    // Delegation enabled what the root offers: give back what this test turned on.
    for (const c of fs.readFileSync(rootControl, 'utf8').split(/\s+/).filter(Boolean)) {
      if (!controlBefore.includes(c)) try { fs.writeFileSync(rootControl, `-${c}`); } catch { /* in use elsewhere */ }
    }
  });
  ctr.spec.linux!.resources = { devices: [{ allow: false, access: 'rwm' }] };
  // /dev/kmsg opened write-only needs no privilege: only the device program can refuse it.
  ctr.spec.linux!.devices = [{ path: '/dev/kmsg2', type: 'c', major: 1, minor: 11, fileMode: 0o666 }];
  ctr.writeSpec();
  assert.equal(writeLaunchPlan(ctr.bundle, ctr.id, { cgroupFs: { root: UNIFIED, selfCgroup: '0::/\n' } }), true);
  const fake = fakeRepo(ctr.dir);
  const out = fs.openSync(ctr.outFile, 'w');
  const err = fs.openSync(ctr.errFile, 'w');
  const res = spawnSync(fake.bin, ['--root', ctr.root, 'create', '--bundle', ctr.bundle, ctr.id],
    { env: cleanChildEnv(), stdio: ['ignore', out, err], timeout: 30000 });
  fs.closeSync(out);
  fs.closeSync(err);
  assert.equal(res.status, 0, fs.readFileSync(ctr.errFile, 'utf8'));
  assert.equal(fs.existsSync(fake.marker), false, 'the Node CLI was never started');
  const state = JSON.parse(fs.readFileSync(path.join(ctr.root, ctr.id, 'state.json'), 'utf8')) as { pid: number; cgroupVersion: number; cgroupPaths: Record<string, string> };
  assert.equal(state.cgroupVersion, 2);
  assert.deepEqual(state.cgroupPaths, { '': leaf });
  assert.equal(fs.readFileSync(path.join(leaf, 'cgroup.procs'), 'utf8').trim(), String(state.pid), 'the init is in its cgroup2 dir');
  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  for (let i = 0; i < 100 && ctr.state()?.status !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(fs.readFileSync(ctr.outFile, 'utf8'), '0::/\nnull-ok\nkmsg-denied\n', fs.readFileSync(ctr.errFile, 'utf8'));
});
