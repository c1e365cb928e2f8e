// The native exec (docs/launch-plan.md, "exec"): `exec --process FILE` with an exec
// plan beside FILE runs without Node; a plan that does not match (another process
// file, another init, another id) falls back to the Node CLI with the same
// arguments; a terminal exec's pty is the process's controlling terminal.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import * as tty from 'node:tty';
import { cleanChildEnv } from '../../../src/common/child-env';
import { NotExecutable, writeExecPlan } from '../../../src/oci-runtime/exec-plan';
import * as c from '../../../src/sys/constants';
import { acceptAsync, listenUnix, receiveFdAsync } from '../../../src/sys/unix-socket';
import { TestContainer, fakeRepo, isRoot, sweepStale } from './harness';

const skip = !isRoot() && 'needs root';
before(() => { if (isRoot()) sweepStale(); });

/** A started container running sleep, and a process file for it in its test dir. */
function running(tag: string): { ctr: TestContainer; processFile: string; writeProcess: (p: object) => void } {
  const ctr = new TestContainer('cradle', tag, ['sleep', '1000']);
  ctr.writeSpec();
  assert.equal(ctr.create().status, 0);
  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  const processFile = path.join(ctr.dir, 'process.json');
  const writeProcess = (p: object): void => fs.writeFileSync(processFile, JSON.stringify({ ...ctr.spec.process!, ...p }));
  return { ctr, processFile, writeProcess };
}

function execWith(bin: string, ctr: TestContainer, processFile: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(bin, ['--root', ctr.root, 'exec', '--process', processFile, ctr.id],
    { encoding: 'utf8', env: cleanChildEnv(), timeout: 30000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a planned exec starts no Node process: exit codes, user, env and cwd as the Node exec gives them', { skip }, (t) => {
  const { ctr, processFile, writeProcess } = running('nxcode');
  t.after(() => ctr.cleanup());
  const fake = fakeRepo(ctr.dir);
  const native = (p: object): { status: number | null; stdout: string; stderr: string } => {
    writeProcess(p);
    assert.equal(writeExecPlan(ctr.root, ctr.id, processFile), true);
    return execWith(fake.bin, ctr, processFile);
  };
  assert.equal(native({ args: ['sh', '-c', 'exit 7'] }).status, 7);
  assert.equal(native({ args: ['sh', '-c', 'kill -9 $$'] }).status, 128 + 9, 'a signal: 128 + its number');
  const missing = native({ args: ['no-such-command'] });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^cradle-runtime: exec: "no-such-command": executable file not found in \$PATH$/m);
  // CVE-2024-21626: a cwd through an fd the launcher holds open never leaves the root.
  for (const fd of [3, 4, 5, 6]) {
    const leak = native({ args: ['pwd'], cwd: `/proc/self/fd/${fd}` });
    assert.equal(leak.status, 1, `fd ${fd}: ${leak.stdout}`);
    assert.match(leak.stderr, /^cradle-runtime: process\.cwd \/proc\/self\/fd\/\d: /m);
  }
  const view = { args: ['sh', '-c', 'echo "$(id -u):$(id -g) $(id -G)"; echo "env: $FOO $HOME"; pwd; umask'],
    user: { uid: 1000, gid: 1000, additionalGids: [3000], umask: 0o027 }, env: ['PATH=/bin:/usr/bin', 'FOO=bar'], cwd: '/tmp' };
  const ours = native(view);
  assert.equal(ours.status, 0, ours.stderr);
  assert.equal(fs.existsSync(fake.marker), false, 'the Node CLI was never started');
  assert.equal(ours.stdout, '1000:1000 1000 3000\nenv: bar /tmp\n/tmp\n0027\n');
  // The Node exec of the same process file (no plan) prints the same.
  fs.rmSync(path.join(ctr.dir, 'cradle-exec.plan'));
  const node = ctr.cli(['exec', '--process', processFile, ctr.id]);
  assert.equal(node.status, 0, node.stderr);
  assert.equal(node.stdout, ours.stdout);
});

test('a plan that does not match falls back to the Node CLI: another process file, another id, a restarted container', { skip }, (t) => {
  const { ctr, processFile, writeProcess } = running('nxstale');
  t.after(() => ctr.cleanup());
  const fake = fakeRepo(ctr.dir);
  const nodeArgs = `${path.join(ctr.dir, 'fake-repo', 'dist', 'src', 'oci-runtime', 'main.js')} --root ${ctr.root} exec --process ${processFile} ${ctr.id}`;
  const fellBack = (): void => {
    fs.rmSync(fake.marker, { force: true });
    const r = execWith(fake.bin, ctr, processFile);
    assert.equal(r.status, 99, `the fake Node CLI ran: ${r.stderr}`);
    assert.equal(fs.readFileSync(fake.marker, 'utf8').trim(), nodeArgs, 'the Node CLI gets the same arguments');
  };
  writeProcess({ args: ['true'] });
  assert.equal(writeExecPlan(ctr.root, ctr.id, processFile), true);
  fs.appendFileSync(processFile, '\n');
  fellBack();

  // A plan made for another container id.
  writeProcess({ args: ['true'] });
  const other = new TestContainer('cradle', 'nxother', ['sleep', '1000']);
  t.after(() => other.cleanup());
  other.writeSpec();
  assert.equal(other.create().status, 0);
  assert.equal(writeExecPlan(other.root, other.id, processFile), true);
  fellBack();

  // The container was deleted and created again under the same id: the plan names the old init.
  assert.equal(writeExecPlan(ctr.root, ctr.id, processFile), true);
  assert.equal(execWith(fake.bin, ctr, processFile).status, 0, 'the plan matches the running init');
  assert.equal(ctr.cli(['delete', '--force', ctr.id]).status, 0);
  assert.equal(ctr.create().status, 0);
  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  fellBack();
});

test('exec into a stopped container: no plan is written, and a stale plan gets the Node exec\'s error', { skip }, async (t) => {
  const { ctr, processFile, writeProcess } = running('nxstop');
  t.after(() => ctr.cleanup());
  writeProcess({ args: ['true'] });
  assert.equal(writeExecPlan(ctr.root, ctr.id, processFile), true);
  assert.equal(ctr.cli(['kill', ctr.id, 'KILL']).status, 0);
  for (let i = 0; i < 100 && ctr.state()?.status !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(ctr.state()?.status, 'stopped');
  // The plan left from before names an init that is gone: the Node exec reports it.
  const r = ctr.cli(['exec', '--process', processFile, ctr.id]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^cradle-runtime: cannot exec in a stopped container$/m);
  assert.throws(() => writeExecPlan(ctr.root, ctr.id, processFile), (err: unknown) => err instanceof NotExecutable && err.message === 'cannot exec in a stopped container');
  assert.equal(fs.existsSync(path.join(ctr.dir, 'cradle-exec.plan')), false, 'the stale plan is gone');
});

test('a terminal exec: the pty is the controlling terminal, so ^C on it interrupts the process', { skip }, async (t) => {
  const { ctr, processFile, writeProcess } = running('nxtty');
  t.after(() => ctr.cleanup());
  const fake = fakeRepo(ctr.dir);
  writeProcess({ terminal: true, args: ['sh', '-c', 'echo "tty_nr: $(cut -d" " -f7 /proc/$$/stat)"; echo ready; exec sleep 1000'] });
  assert.equal(writeExecPlan(ctr.root, ctr.id, processFile), true);
  const socketPath = path.join(ctr.dir, 'console.sock');
  const listener = listenUnix(socketPath);
  t.after(() => fs.closeSync(listener));
  const child = spawn(fake.bin, ['--root', ctr.root, 'exec', '--tty', '--console-socket', socketPath, '--process', processFile, ctr.id],
    { env: cleanChildEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const conn = await acceptAsync(listener);
  const master = await receiveFdAsync(conn);
  fs.closeSync(conn);
  const terminal = new tty.ReadStream(master);
  t.after(() => terminal.destroy());
  let output = '';
  const ready = new Promise<void>((resolve) => terminal.on('data', (d: Buffer) => {
    output += d.toString();
    if (output.includes('ready')) resolve();
  }));
  terminal.on('error', () => undefined); // EIO once the process is gone
  await Promise.race([ready, exited]);
  assert.match(output, /ready/, `${output} ${stderr}`);
  assert.doesNotMatch(output, /tty_nr: 0\s/, 'the shell has a controlling terminal');
  fs.writeSync(master, Buffer.from([0x03]));
  const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running'), 10000))]);
  assert.equal(code, 128 + 2, `^C ended the process with SIGINT (${stderr})`);
  assert.equal(fs.existsSync(fake.marker), false, 'the Node CLI was never started');
});

test('CVE-2019-5736: the launcher that joins the container runs from a read-only mount of itself', { skip }, async (t) => {
  const { ctr, processFile, writeProcess } = running('nxseal');
  t.after(() => ctr.cleanup());
  const fake = fakeRepo(ctr.dir);
  writeProcess({ args: ['sleep', '2'] });
  assert.equal(writeExecPlan(ctr.root, ctr.id, processFile), true);
  const child = spawn(fake.bin, ['--root', ctr.root, 'exec', '--process', processFile, ctr.id], { env: cleanChildEnv(), stdio: 'ignore' });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // Sealed: it re-executed itself through the read-only bind (same pid, new command line).
  let sealed = false;
  for (let i = 0; i < 100 && !sealed; i++) {
    try {
      sealed = fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').includes('__native-exec');
    } catch { /* not yet */ }
    if (!sealed) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(sealed, 'the launcher re-executed itself');
  // What an attacker in the container would hold: an O_PATH handle on the executable
  // (the forked child has the same one until its execve), reopened for writing once
  // the binary no longer runs (no ETXTBSY then).
  const handle = fs.openSync(`/proc/${child.pid}/exe`, c.O_PATH | c.O_CLOEXEC);
  t.after(() => fs.closeSync(handle));
  assert.equal(await exited, 0);
  assert.throws(() => fs.openSync(`/proc/self/fd/${handle}`, 'r+'), (err: NodeJS.ErrnoException) => err.code === 'EROFS');
  assert.equal(fs.existsSync(fake.marker), false, 'the Node CLI was never started');
});
