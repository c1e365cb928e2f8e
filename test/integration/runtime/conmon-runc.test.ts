// cradle's conmon driver against Debian's conmon and runc on a busybox bundle:
// create/start, CRI log lines, exit file, exec-sync output, exit code and timeout,
// and a clear error when the runtime fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Conmon, parseCriLog } from '../../../src/runtime/conmon/conmon';
import { isProcessAlive } from '../../../src/runtime/conmon/proc';

const RUNC = '/usr/bin/runc';
let dir: string;
let conmon: Conmon;
const created: string[] = [];

function runc(...args: string[]): string {
  return execFileSync(RUNC, ['--root', path.join(dir, 'runc-root'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function bundle(id: string, args: string[]): { bundle: string; persist: string; log: string } {
  const b = path.join(dir, 'bundles', id);
  const rootfs = path.join(b, 'rootfs');
  fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'etc']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  for (const applet of ['sh', 'echo', 'sleep', 'printf', 'cat']) fs.linkSync(path.join(rootfs, 'bin', 'busybox'), path.join(rootfs, 'bin', applet));
  execFileSync(RUNC, ['spec'], { cwd: b });
  const spec = JSON.parse(fs.readFileSync(path.join(b, 'config.json'), 'utf8')) as { process: { terminal: boolean; args: string[] }; linux: { cgroupsPath?: string } };
  spec.process.terminal = false;
  spec.process.args = args;
  spec.linux.cgroupsPath = `/cradle-test/${id}`;
  fs.writeFileSync(path.join(b, 'config.json'), JSON.stringify(spec));
  created.push(id);
  return { bundle: b, persist: path.join(dir, 'persist', id), log: path.join(dir, 'logs', `${id}.log`) };
}

async function waitForFile(file: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${file} did not appear`);
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-conmon-'));
  fs.mkdirSync(path.join(dir, 'logs'));
  conmon = new Conmon({
    conmon: '/usr/bin/conmon', runtimePath: RUNC, runtimeRoot: path.join(dir, 'runc-root'),
    exitDir: path.join(dir, 'exits'), socketDir: path.join(dir, 's'), systemdCgroup: false, logLevel: 'error',
  });
});

after(() => {
  for (const id of created) {
    try { runc('delete', '--force', id); } catch { /* already gone */ }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  // runc removes each container's cgroup but not the shared parent this test named.
  for (const controller of fs.readdirSync('/sys/fs/cgroup')) {
    try { fs.rmdirSync(path.join('/sys/fs/cgroup', controller, 'cradle-test')); } catch { /* absent or not a hierarchy */ }
  }
});

test('create + start: CRI log lines (full and partial), exit file with the exit code', async () => {
  const b = bundle('cradle-t-logs', ['sh', '-c', 'echo hello; printf partial; echo to-stderr >&2; exit 7']);
  const c = await conmon.create({ id: 'cradle-t-logs', name: 'logs', bundle: b.bundle, persistDir: b.persist, logPath: b.log, tty: false, stdin: false, stdinOnce: false, timeoutMs: 20_000 });
  assert.ok(c.pid > 0 && c.conmonPid > 0);
  assert.ok(isProcessAlive(c.conmonPid, c.conmonStartTime), 'conmon runs detached');
  assert.equal(JSON.parse(runc('state', 'cradle-t-logs')).status, 'created');
  runc('start', 'cradle-t-logs');
  const exit = await waitForFile(path.join(dir, 'exits', 'cradle-t-logs'));
  assert.equal(exit.trim(), '7');
  assert.equal(fs.readFileSync(path.join(b.persist, 'exit'), 'utf8').trim(), '7');
  const records = parseCriLog(fs.readFileSync(b.log));
  const text = records.map((r) => `${r.stream} ${r.partial ? 'P' : 'F'} ${r.content.toString()}`);
  assert.ok(text.includes('stdout F hello'), text.join('|'));
  assert.ok(text.includes('stderr F to-stderr'), text.join('|'));
  assert.ok(records.every((r) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d\d:\d\d$/.test(r.time)), 'RFC3339Nano timestamps');
  assert.ok(text.some((t) => t.startsWith('stdout P partial') || t === 'stdout F partial'), 'partial line kept');
});

test('exec-sync: stdout, stderr and exit code; timeout gives -1', async () => {
  const b = bundle('cradle-t-exec', ['sleep', '1000']);
  await conmon.create({ id: 'cradle-t-exec', name: 'exec', bundle: b.bundle, persistDir: b.persist, logPath: b.log, tty: false, stdin: false, stdinOnce: false, timeoutMs: 20_000 });
  runc('start', 'cradle-t-exec');
  const process = { terminal: false, user: { uid: 0, gid: 0 }, cwd: '/', env: ['PATH=/bin'], args: ['sh', '-c', 'echo out; echo err >&2; exit 3'] };
  const r = await conmon.execSync({ id: 'cradle-t-exec', name: 'exec', process, tty: false, timeoutSeconds: 10, workDir: path.join(dir, 'exec1'), maxOutputBytes: 1 << 20 });
  assert.equal(r.exitCode, 3);
  assert.equal(r.stdout.toString(), 'out\n');
  assert.equal(r.stderr.toString(), 'err\n');
  assert.equal(r.timedOut, false);
  assert.ok(!fs.existsSync(path.join(dir, 'exec1')), 'scratch dir removed');

  const slow = await conmon.execSync({ id: 'cradle-t-exec', name: 'exec', process: { ...process, args: ['sleep', '30'] }, tty: false, timeoutSeconds: 1, workDir: path.join(dir, 'exec2'), maxOutputBytes: 1 << 20 });
  assert.equal(slow.exitCode, -1);
  assert.equal(slow.timedOut, true);

  const capped = await conmon.execSync({ id: 'cradle-t-exec', name: 'exec', process: { ...process, args: ['sh', '-c', 'i=0; while [ $i -lt 200 ]; do echo 0123456789; i=$((i+1)); done'] }, tty: false, timeoutSeconds: 10, workDir: path.join(dir, 'exec3'), maxOutputBytes: 100 });
  assert.equal(capped.exitCode, 0);
  assert.equal(capped.stdout.length, 100, 'output capped');
  runc('kill', 'cradle-t-exec', 'KILL');
});

test('a runtime failure is reported with the runtime\'s message and no monitor is left', async () => {
  const b = bundle('cradle-t-bad', ['/no/such/binary']);
  await assert.rejects(
    conmon.create({ id: 'cradle-t-bad', name: 'bad', bundle: b.bundle, persistDir: b.persist, logPath: b.log, tty: false, stdin: false, stdinOnce: false, timeoutMs: 20_000 }),
    (err: Error) => {
      assert.match(err.message, /creating container cradle-t-bad: .*(no such file|not found|executable)/i);
      return true;
    },
  );
  const pidFile = path.join(b.bundle, 'conmon-pidfile');
  if (fs.existsSync(pidFile)) {
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(isProcessAlive(pid), false, 'conmon gone');
  }
});
