// conmon 2.1.6 drives cradle-runtime exactly as cri-o has it drive runc: sync and
// start pipes, CRI log lines, exit file, oom file, tty through the console socket,
// and the container outliving its caller.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { cleanChildEnv } from '../../../src/common/child-env';
import { writeExecPlan } from '../../../src/oci-runtime/exec-plan';
import { parseCriLog } from '../../../src/runtime/conmon/conmon';
import { CRADLE_RUNTIME, TestContainer, fakeRepo, isRoot, sweepStale } from './harness';
import { CONMON, conmonCreate, waitFor } from './conmon-driver';
import { eventually } from '../../helpers/eventually';

const skip = (!isRoot() || !fs.existsSync(CONMON)) && 'needs root and conmon';
before(() => { if (isRoot()) sweepStale(); });

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
  // The terminal's output as the program wrote it: conmon splits a line into partial
  // records (P) when it arrives in more than one read of the pty.
  const output = parseCriLog(fs.readFileSync(run.logFile)).map((r) => r.content.toString() + (r.partial ? '' : '\n')).join('');
  assert.match(output, /^\/dev\/pts\/0\r?$/m);
  assert.match(output, /^88,0\r?$/m, '/dev/console is the pty slave (136,0 = 0x88,0)');
});

test('conmon: an OOM kill writes the oom file', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'conmonoom', ['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=100M count=1']);
  t.after(() => ctr.cleanup());
  ctr.spec.linux!.resources!.memory = { limit: 32 * 1024 * 1024, swap: 32 * 1024 * 1024 };
  ctr.writeSpec();
  const run = await conmonCreate(ctr);
  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  assert.equal(await waitFor(run.exitFile), '137');
  await eventually(() => fs.existsSync(path.join(run.persistDir, 'oom')), 'conmon to write the oom file');
});

test('conmon: the container outlives a SIGKILLed caller, and its exit is still recorded', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'survive', ['sh', '-c', 'echo first; sleep 0.5; echo survived; exit 3']);
  t.after(() => ctr.cleanup());
  ctr.writeSpec();
  const driver = spawn(process.execPath, [path.join(__dirname, 'conmon-driver.js'), ctr.dir, ctr.bundle, ctr.id, ctr.root], { stdio: 'ignore', env: cleanChildEnv() });
  assert.equal(await waitFor(path.join(ctr.dir, 'driver-started')), '0');
  driver.kill('SIGKILL');
  assert.equal(await waitFor(path.join(ctr.dir, 'exits', ctr.id)), '3');
  assert.match(fs.readFileSync(path.join(ctr.dir, 'ctr.log'), 'utf8'), /stdout F survived$/m);
});

/**
 * conmon's runtime for an exec: native, a copy of the launcher whose Node only leaves a
 * marker, with an exec plan beside the process file (as cradled writes it); node, the
 * real CLI without a plan.
 */
function execRuntime(launcher: 'native' | 'node') {
  return (ctr: TestContainer, processFile: string): string => {
    if (launcher === 'node') return CRADLE_RUNTIME;
    assert.equal(writeExecPlan(ctr.root, ctr.id, processFile), true);
    return fakeRepo(ctr.dir).bin;
  };
}

function assertNoNode(ctr: TestContainer): void {
  assert.equal(fs.existsSync(path.join(ctr.dir, 'node-started')), false, 'the exec did not start Node');
}

/**
 * `conmon -e` (cri-o's ExecSync; `-t` for a terminal) of `process` in a started
 * container, through the launcher's runtime; the exec's files are in <dir>/exec.
 */
function conmonExec(t: { after: (fn: () => void) => void }, launcher: 'native' | 'node', tag: string, process: object, terminal: boolean) {
  const ctr = new TestContainer('cradle', tag, ['sleep', '1000']);
  t.after(() => ctr.cleanup());
  ctr.writeSpec();
  assert.equal(ctr.create().status, 0);
  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  const execDir = path.join(ctr.dir, 'exec');
  fs.mkdirSync(path.join(execDir, 'exits'), { recursive: true });
  const processFile = path.join(execDir, 'process.json');
  fs.writeFileSync(processFile, JSON.stringify({ ...ctr.spec.process, ...process }));
  const r = spawnSync(CONMON, [
    '--api-version', '1', '-c', ctr.id, '-u', `${ctr.id}-exec`, '-n', ctr.id, '-r', execRuntime(launcher)(ctr, processFile), '-b', ctr.bundle,
    '-p', path.join(execDir, 'pid'), '-e', '--exec-process-spec', processFile, ...(terminal ? ['-t'] : []),
    '--exit-dir', path.join(execDir, 'exits'), '-l', `k8s-file:${path.join(execDir, 'log')}`, '--socket-dir-path', execDir,
    '--runtime-arg', `--root=${ctr.root}`, '--sync',
  ], { env: cleanChildEnv(), encoding: 'utf8', timeout: 30000 });
  assertNoNode(ctr);
  return { ctr, r, execDir, log: () => fs.readFileSync(path.join(execDir, 'log'), 'utf8') };
}

for (const launcher of ['native', 'node'] as const) {
  test(`conmon -e (cri-o ExecSync), ${launcher}: exec into a running container, exit code and log`, { skip }, async (t) => {
    const { ctr, r, execDir, log } = conmonExec(t, launcher, 'conmonexec', { args: ['sh', '-c', 'echo exec-out; echo "pid1=$(cat /proc/1/comm)"; exit 4'] }, false);
    assert.equal(r.status, 4, `conmon --sync exits with the process's status: ${r.stderr}`);
    assert.equal(fs.readFileSync(path.join(execDir, 'exits', ctr.id), 'utf8'), '4');
    assert.match(log(), /stdout F exec-out$/m);
    assert.match(log(), /stdout F pid1=sleep$/m, 'the exec\'d process is in the container\'s pid namespace');
  });

  test(`conmon -e -t, ${launcher}: exec with a terminal from the container's devpts`, { skip }, async (t) => {
    const { r, log } = conmonExec(t, launcher, 'conmonexectty', { terminal: true, consoleSize: { height: 40, width: 100 }, args: ['sh', '-c', 'tty; stty size; exit 3'] }, true);
    assert.equal(r.status, 3, r.stderr);
    assert.match(log(), /stdout F \/dev\/pts\/\d+\r?$/m);
    assert.match(log(), /stdout F 40 100\r?$/m, 'consoleSize applied');
  });
}
