// conmon 2.1.6 drives cradle-runtime exactly as cri-o has it drive runc: sync and
// start pipes, CRI log lines, exit file, oom file, tty through the console socket,
// and the container outliving its caller.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { cleanChildEnv } from '../../../src/common/child-env';
import { CRADLE_RUNTIME, TestContainer, isRoot, sweepStale } from './harness';

const CONMON = '/usr/bin/conmon';
const skip = (!isRoot() || !fs.existsSync(CONMON)) && 'needs root and conmon';
before(() => { if (isRoot()) sweepStale(); });

interface ConmonRun {
  logFile: string;
  exitFile: string;
  persistDir: string;
  conmonPid: number;
}

/** Starts conmon as cri-o does; resolves with the container pid from the sync pipe. */
async function conmonCreate(ctr: TestContainer, terminal = false): Promise<ConmonRun> {
  const exitDir = path.join(ctr.dir, 'exits');
  const persistDir = path.join(ctr.dir, 'persist');
  const sockDir = path.join(ctr.dir, 'sock');
  for (const d of [exitDir, persistDir, sockDir]) fs.mkdirSync(d);
  const logFile = path.join(ctr.dir, 'ctr.log');
  const args = [
    '--api-version', '1', '-b', ctr.bundle, '-c', ctr.id, '-u', ctr.id, '-n', ctr.id, '--exit-dir', exitDir,
    '-l', `k8s-file:${logFile}`, '--log-level', 'debug', '-P', path.join(ctr.dir, 'conmon.pid'), '-p', path.join(ctr.dir, 'pid'),
    '--persist-dir', persistDir, '-r', CRADLE_RUNTIME, '--runtime-arg', `--root=${ctr.root}`, '--socket-dir-path', sockDir,
    ...(terminal ? ['-t'] : []),
  ];
  const child = spawn(CONMON, args, {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    env: cleanChildEnv({ _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' }),
  });
  const sync = child.stdio[3] as Readable;
  const startPipe = child.stdio[4] as Writable;
  startPipe.on('error', () => undefined);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  startPipe.write(Buffer.from([0]));
  const message = await new Promise<string>((resolve, reject) => {
    let buf = '';
    sync.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('}')) resolve(buf);
    });
    sync.on('error', reject);
    sync.on('close', () => resolve(buf));
  });
  sync.destroy();
  startPipe.destroy();
  const parsed = JSON.parse(message.slice(0, message.indexOf('}') + 1)) as { data: number; message?: string };
  if (parsed.data <= 0) throw new Error(`conmon reported ${message} ${stderr}`);
  return {
    logFile, exitFile: path.join(exitDir, ctr.id), persistDir,
    conmonPid: Number(fs.readFileSync(path.join(ctr.dir, 'conmon.pid'), 'utf8')),
  };
}

async function waitFor(file: string, timeoutMs = 20000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const text = fs.readFileSync(file, 'utf8');
      if (text !== '') return text;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${file} did not appear`);
}

test('conmon: CRI log lines and the exit code in the exit file', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'conmon', ['sh', '-c', 'echo MARK-EXEC; printf partial; echo to-stderr >&2; exit 7']);
  t.after(() => ctr.cleanup());
  ctr.writeSpec();
  const run = await conmonCreate(ctr);
  assert.equal(ctr.state()!.status, 'created');
  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  assert.equal(await waitFor(run.exitFile), '7');
  const log = fs.readFileSync(run.logFile, 'utf8');
  assert.match(log, /^\S+ stdout F MARK-EXEC$/m);
  assert.match(log, /^\S+ stdout P partial$/m);
  assert.match(log, /^\S+ stderr F to-stderr$/m);
  assert.doesNotMatch(log, /cradle-runtime/, 'the runtime wrote nothing into the container log');
});

test('conmon: create errors reach the sync pipe as runc\'s do', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'conmonerr', ['no-such-binary']);
  t.after(() => ctr.cleanup());
  ctr.writeSpec();
  await assert.rejects(conmonCreate(ctr), /executable file not found/);
});

test('conmon: terminal through --console-socket (SCM_RIGHTS)', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'tty', ['sh', '-c', 'tty; stat -c %t,%T /dev/console; exit 5']);
  t.after(() => ctr.cleanup());
  ctr.spec.process!.terminal = true;
  ctr.writeSpec();
  const run = await conmonCreate(ctr, true);
  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  assert.equal(await waitFor(run.exitFile), '5');
  const log = fs.readFileSync(run.logFile, 'utf8');
  assert.match(log, /stdout F \/dev\/pts\/0\r?$/m);
  assert.match(log, /stdout F 88,0\r?$/m, '/dev/console is the pty slave (136,0 = 0x88,0)');
});

test('conmon: an OOM kill writes the oom file', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'conmonoom', ['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=100M count=1']);
  t.after(() => ctr.cleanup());
  ctr.spec.linux!.resources!.memory = { limit: 32 * 1024 * 1024, swap: 32 * 1024 * 1024 };
  ctr.writeSpec();
  const run = await conmonCreate(ctr);
  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  assert.equal(await waitFor(run.exitFile), '137');
  for (let i = 0; i < 100 && !fs.existsSync(path.join(run.persistDir, 'oom')); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(fs.existsSync(path.join(run.persistDir, 'oom')), 'conmon wrote the oom file');
});
