// Process attributes (user, groups, capabilities incl. ambient, umask, env, cwd,
// rlimits), differential against runc; exec into a running container.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CGROUP_V2_ONLY, TestContainer, isRoot, sweepStale, type Runtime } from './harness';

const skip = !isRoot() && 'needs root';
before(() => { if (isRoot()) sweepStale(); });

const SCRIPT = [
  'grep -E "^(Cap|NoNewPrivs|Seccomp)" /proc/self/status',
  'echo "id: $(id)"', 'echo "pwd: $(pwd)"', 'echo "home: $HOME"', 'echo "umask: $(umask)"', 'echo "nproc: $(ulimit -u)"',
  'echo "etc: $(touch /etc/x 2>/dev/null && echo writable || echo readonly)"',
  'echo "tmp: $(touch /tmp/x 2>/dev/null && echo writable || echo readonly)"',
  'echo "env: $FOO"',
].join('; ');

async function userView(runtime: Runtime): Promise<string> {
  const ctr = new TestContainer(runtime, 'user', ['sh', '-c', SCRIPT]);
  try {
    const caps = ['CAP_NET_BIND_SERVICE'];
    const p = ctr.spec.process!;
    p.user = { uid: 1000, gid: 1000, additionalGids: [2000, 3000], umask: 0o027 };
    p.capabilities = { bounding: caps, effective: caps, permitted: caps, inheritable: caps, ambient: caps };
    p.cwd = '/tmp';
    p.env = [...p.env!, 'FOO=bar baz'];
    p.rlimits = [{ type: 'RLIMIT_NPROC', hard: 100, soft: 50 }];
    const { stdout, stderr } = await ctr.run();
    assert.equal(stderr, '');
    return stdout;
  } finally {
    ctr.cleanup();
  }
}

test('a non-root user with ambient capabilities sees what runc gives it', { skip }, async () => {
  const ours = await userView('cradle');
  assert.match(ours, /^id: uid=1000\(user\) gid=1000\(user\) groups=2000,3000$/m);
  for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.match(ours, new RegExp(`^${set}:\\s+0000000000000400$`, 'm'));
  assert.match(ours, /^pwd: \/tmp$/m);
  assert.match(ours, /^home: \/tmp$/m, 'HOME from the image\'s /etc/passwd');
  assert.match(ours, /^umask: 0027$/m);
  assert.match(ours, /^nproc: 50$/m);
  assert.match(ours, /^etc: readonly$/m);
  assert.match(ours, /^tmp: writable$/m);
  assert.match(ours, /^env: bar baz$/m);
  assert.equal(ours, await userView('runc'));
});

for (const launcher of ['native', 'node'] as const) {
  test(`exec (${launcher}) runs a process inside a running container with the config's identity`, { skip }, async (t) => {
    const ctr = new TestContainer('cradle', 'exec', ['sleep', '1000']);
    ctr.launcher = launcher;
    t.after(() => ctr.cleanup());
    ctr.writeSpec();
    assert.equal(ctr.create().status, 0);
    assert.equal(ctr.cli(['start', ctr.id]).status, 0);
    const proc = { ...ctr.spec.process!, args: ['sh', '-c', 'echo "id: $(id)"; echo "host: $(hostname)"; echo "pid: $$"; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; grep -E "memory|^0::" /proc/self/cgroup; ls /proc/$$/fd; echo end; exit 5'], user: { uid: 1000, gid: 1000, additionalGids: [2000] } };
    const processFile = path.join(ctr.dir, 'process.json');
    fs.writeFileSync(processFile, JSON.stringify(proc));
    const r = ctr.exec(processFile, ['--pid-file', path.join(ctr.dir, 'exec.pid')]);
    assert.equal(r.planned, launcher === 'native');
    assert.equal(r.status, 5, r.stderr);
    assert.match(r.stdout, /^host: cradle-ctr$/m);
    assert.match(r.stdout, /^pid: (?!1$)\d+$/m, 'an ordinary pid in the container\'s pid namespace');
    assert.match(r.stdout, /^id: uid=1000\(user\) gid=1000\(user\) groups=2000$/m);
    // uid 1000 without ambient caps: execve clears them, as under runc.
    assert.match(r.stdout, /^CapEff:\s+0000000000000000$/m);
    assert.match(r.stdout, /^NoNewPrivs:\s+1$/m);
    assert.match(r.stdout, /^Seccomp:\s+2$/m);
    assert.match(r.stdout, CGROUP_V2_ONLY ? /^0::\/$/m : /^\d+:memory:\/$/m, 'in the container\'s cgroup (and cgroup namespace)');
    // A plain command (no pipe or substitution): the shell holds no pipe of its own while ls reads its fds.
    assert.match(r.stdout, /\n0\n1\n2\nend\n/, 'the shell has stdio only: nothing of the host leaks');
    assert.match(fs.readFileSync(path.join(ctr.dir, 'exec.pid'), 'utf8'), /^\d+$/);
    // exec installs the program the init compiled (kept in the state dir); without
    // it, exec compiles it again (the Node path: no plan). Either way the config's
    // rule applies: sethostname gets EACCES (errnoRet 13) from the filter, not the
    // EPERM a uid-1000 process without CAP_SYS_ADMIN would get from the kernel.
    const program = path.join(ctr.root, ctr.id, 'seccomp.bpf');
    assert.ok(fs.statSync(program).size > 0, 'create stored the compiled seccomp program');
    for (const cached of [true, false]) {
      if (!cached) fs.rmSync(program);
      fs.writeFileSync(processFile, JSON.stringify({ ...proc, args: ['hostname', 'evil'] }));
      const h = ctr.exec(processFile);
      assert.equal(h.planned, launcher === 'native' && cached);
      assert.notEqual(h.status, 0);
      assert.match(h.stderr, /Permission denied/, `program ${cached ? 'from create' : 'compiled by exec'}: ${h.stderr}`);
    }
    assert.ok(fs.existsSync(program), 'exec stored the program it compiled');
    // Detached: the CLI returns at once, the process keeps running in the container.
    // (stdio ignored: the detached process would hold our pipes open.)
    fs.writeFileSync(processFile, JSON.stringify({ ...proc, args: ['sleep', '777'] }));
    const d = ctr.exec(processFile, ['--detach'], { stdio: ['ignore', 'ignore', 'ignore'] });
    assert.equal(d.status, 0, d.stderr);
    const pids = JSON.parse(ctr.cli(['ps', '--format', 'json', ctr.id]).stdout) as number[];
    assert.ok(pids.some((pid) => { try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\x00777\x00'; } catch { return false; } }), 'the detached process is in the container cgroup');
  });
}

test('an exec\'d process leads its own session and process group, as under runc', { skip }, async (t) => {
  // runc's exec'd processes call setsid(): a kill of the group then reaches what they start.
  const leads = async (runtime: Runtime): Promise<string> => {
    const ctr = new TestContainer(runtime, 'execsid', ['sleep', '1000']);
    t.after(() => ctr.cleanup());
    ctr.writeSpec();
    assert.equal(ctr.create().status, 0);
    assert.equal(ctr.cli(['start', ctr.id]).status, 0);
    // Fields 1, 5 and 6 of /proc/<pid>/stat: pid, process group, session.
    const r = ctr.cli(['exec', ctr.id, 'sh', '-c', 'cut -d" " -f1,5,6 /proc/$$/stat'], { stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(r.status, 0, r.stderr);
    const [pid, pgrp, session] = r.stdout.trim().split(' ');
    return `pid ${pid === '1' ? '1' : 'n'}, group ${pgrp === pid ? 'own' : pgrp}, session ${session === pid ? 'own' : session}`;
  };
  const ours = await leads('cradle');
  assert.equal(ours, 'pid n, group own, session own');
  assert.equal(await leads('runc'), ours);
});
