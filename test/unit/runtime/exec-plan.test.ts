// writeExecPlan on a state dir whose "init" is this test process: the records it
// writes beside the process file, when it leaves the exec to the Node path, and the
// error for a container that is not running.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXEC_PLAN_FILE, EXEC_PLAN_VERSION, NotExecutable, writeExecPlan } from '../../../src/oci-runtime/exec-plan';
import { procStat } from '../../../src/oci-runtime/state';
import { planRecords } from '../../helpers/plan-records';
import { defaultSpec, writeSpec } from '../../helpers/rootfs';

interface Fixture { root: string; processFile: string; planFile: string; writeState: (pid: number) => void; writeProcess: (p: object) => void }

function fixture(t: { after: (fn: () => void) => void }): Fixture {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-unit-exec-plan-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'state');
  const bundle = path.join(dir, 'bundle');
  fs.mkdirSync(path.join(root, 'ctr'), { recursive: true });
  fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
  writeSpec(bundle, defaultSpec(['sleep', '1000'], '/ctr'));
  const writeState = (pid: number): void => fs.writeFileSync(path.join(root, 'ctr', 'state.json'), JSON.stringify({
    id: 'ctr', pid, startTime: procStat(process.pid)!.startTime, bundle, rootfs: path.join(bundle, 'rootfs'), created: new Date().toISOString(),
    annotations: {}, cgroupVersion: 1, cgroupsPath: '/ctr', namespacePaths: {},
    cgroupPaths: { memory: '/sys/fs/cgroup/memory/ctr', cpu: '/sys/fs/cgroup/cpu,cpuacct/ctr', cpuacct: '/sys/fs/cgroup/cpu,cpuacct/ctr' },
  }));
  writeState(process.pid);
  const processFile = path.join(dir, 'exec', 'process.json');
  fs.mkdirSync(path.dirname(processFile));
  const writeProcess = (p: object): void => fs.writeFileSync(processFile, JSON.stringify({
    user: { uid: 0, gid: 0 }, cwd: '/', env: ['PATH=/bin'], args: ['true'], ...p,
  }));
  return { root, processFile, planFile: path.join(dir, 'exec', EXEC_PLAN_FILE), writeState, writeProcess };
}

function records(file: string): string[][] {
  const arity: Record<string, number> = {
    id: 1, root: 1, 'process-sha256': 1, init: 2, terminal: 1, 'console-size': 2, 'join-namespace': 2, 'join-cgroup': 1,
    rlimit: 4, user: 3, 'additional-gid': 1, caps: 4, ambient: 1, 'no-new-privileges': 0, seccomp: 2, apparmor: 1, cwd: 1, env: 1, arg: 1,
  };
  return planRecords(file, EXEC_PLAN_VERSION, arity);
}

test('the exec plan: the container and its init, the cgroups to join, the process records, the saved seccomp program', (t) => {
  const f = fixture(t);
  const program = Buffer.alloc(16, 1);
  fs.writeFileSync(path.join(f.root, 'ctr', 'seccomp.bpf'), program);
  f.writeProcess({ terminal: true, consoleSize: { height: 40, width: 100 }, user: { uid: 1000, gid: 1000, additionalGids: [3000], umask: 0o027 },
    cwd: '/tmp', args: ['sh', '-c', 'id'], noNewPrivileges: true, apparmorProfile: 'cradle-default', capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] } });
  assert.equal(writeExecPlan(f.root, 'ctr', f.processFile), true);
  const r = records(f.planFile);
  const one = (op: string) => r.filter((x) => x[0] === op);
  assert.deepEqual(one('id'), [['id', 'ctr']]);
  assert.deepEqual(one('root'), [['root', f.root]]);
  assert.deepEqual(one('process-sha256'), [['process-sha256', crypto.createHash('sha256').update(fs.readFileSync(f.processFile)).digest('hex')]]);
  assert.deepEqual(one('init'), [['init', String(process.pid), procStat(process.pid)!.startTime]]);
  assert.deepEqual(one('terminal'), [['terminal', '1']]);
  assert.deepEqual(one('console-size'), [['console-size', '40', '100']]);
  assert.deepEqual(one('join-namespace'), [], 'the "init" shares every namespace with this process');
  assert.deepEqual(one('join-cgroup'), [['join-cgroup', '/sys/fs/cgroup/memory/ctr'], ['join-cgroup', '/sys/fs/cgroup/cpu,cpuacct/ctr']], 'each directory once');
  assert.deepEqual(one('user'), [['user', '1000', '1000', String(0o027)]]);
  assert.deepEqual(one('additional-gid'), [['additional-gid', '3000']]);
  assert.deepEqual(one('caps'), [['caps', '32', '32', '32', '0']]);
  assert.deepEqual(one('no-new-privileges'), [['no-new-privileges']]);
  assert.deepEqual(one('seccomp'), [['seccomp', path.join(f.root, 'ctr', 'seccomp.bpf'), crypto.createHash('sha256').update(program).digest('hex')]]);
  assert.deepEqual(one('cwd'), [['cwd', '/tmp']]);
  assert.deepEqual(one('arg'), [['arg', 'sh'], ['arg', '-c'], ['arg', 'id']]);
  // The process's AppArmor profile, after no_new_privs and seccomp (the launcher's order).
  assert.deepEqual(one('apparmor'), [['apparmor', 'cradle-default']]);
  const at = (op: string) => r.findIndex((x) => x[0] === op);
  assert.ok(at('no-new-privileges') < at('apparmor') && at('seccomp') < at('apparmor'));
  f.writeProcess({});
  assert.equal(writeExecPlan(f.root, 'ctr', f.processFile), true);
  assert.deepEqual(records(f.planFile).filter((x) => x[0] === 'apparmor'), [], 'no profile, no record');
});

test('the Node exec keeps what the plan does not describe, and a container that is not running is refused', (t) => {
  const f = fixture(t);
  f.writeProcess({});
  // The config has seccomp, and no program was saved: the Node exec compiles it.
  assert.equal(writeExecPlan(f.root, 'ctr', f.processFile), false);
  assert.equal(fs.existsSync(f.planFile), false);
  fs.writeFileSync(path.join(f.root, 'ctr', 'seccomp.bpf'), Buffer.alloc(8));
  assert.equal(writeExecPlan(f.root, 'ctr', f.processFile), true);
  const cases: [string, object][] = [
    ['no args', { args: [] }],
    ['a relative cwd', { cwd: 'tmp' }],
    ['an unknown capability', { capabilities: { bounding: ['CAP_NOPE'] } }],
    ['an unknown rlimit', { rlimits: [{ type: 'RLIMIT_NOPE', soft: 1, hard: 1 }] }],
  ];
  for (const [what, change] of cases) {
    f.writeProcess(change);
    assert.equal(writeExecPlan(f.root, 'ctr', f.processFile), false, what);
    assert.equal(fs.existsSync(f.planFile), false, `${what}: no plan left`);
  }
  f.writeProcess({});
  assert.equal(writeExecPlan(f.root, 'ctr', f.processFile), true);
  // An "init" that is gone: the container is stopped, and a plan written before is removed.
  f.writeState(0x3ffffff0);
  assert.throws(() => writeExecPlan(f.root, 'ctr', f.processFile), (err: unknown) => err instanceof NotExecutable && err.message === 'cannot exec in a stopped container');
  assert.equal(fs.existsSync(f.planFile), false);
});
