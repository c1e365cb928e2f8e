// ExecSync for cradle-runtime containers: the runtime's `exec` run directly, its
// stdout and stderr the daemon's pipes (no conmon, whose k8s-file log would cost a
// write and a read of the output). With an exec plan beside the process file the
// launcher runs it without Node. The timeout and the output caps are enforced here,
// as conmon enforces them for `conmon -e`: on timeout the process's group is killed
// and reaped before the answer.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import { cleanChildEnv } from '../common/child-env';
import { errors } from '../common/errors';
import type { ExecSyncResult } from './conmon/conmon';
import { killProcessGroup, waitProcessGroupGone } from './process-group';

export interface DirectExecSync {
  /** The runtime and its arguments: `exec --process FILE --pid-file PIDFILE ID`. */
  file: string;
  args: string[];
  /** Where the runtime writes the process's host pid (it leads its own group). */
  pidFile: string;
  /** 0 means no timeout. */
  timeoutSeconds: number;
  /** Cap for stdout and stderr each. */
  maxOutputBytes: number;
}

/** After the process exited, how long output still in the pipes may take to drain. */
const DRAIN_MS = 250;
/** After a timeout, how long the runtime's exec has to reap the killed process and exit before it is killed. */
const RUNTIME_GRACE_MS = 5000;
/** After a timeout, how long the container's init may take to reap what the process started. */
const GROUP_REAP_MS = 2000;

/** Collects a stream up to cap bytes, draining (and dropping) the rest. */
function collect(stream: Readable, cap: number): { done: Promise<void>; data: () => Buffer } {
  const parts: Buffer[] = [];
  let size = 0;
  stream.on('data', (chunk: Buffer) => {
    const room = cap - size;
    if (room <= 0) return;
    const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
    parts.push(piece);
    size += piece.length;
  });
  stream.on('error', () => undefined);
  const done = new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
  });
  return { done, data: () => Buffer.concat(parts) };
}

function readPid(pidFile: string): number | undefined {
  try {
    return Number(fs.readFileSync(pidFile, 'utf8').trim()) || undefined;
  } catch {
    return undefined; // not spawned (yet)
  }
}

export async function directExecSync(req: DirectExecSync): Promise<ExecSyncResult> {
  const child = spawn(req.file, req.args, { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'], env: cleanChildEnv() });
  const stdout = collect(child.stdout!, req.maxOutputBytes);
  const stderr = collect(child.stderr!, req.maxOutputBytes);
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', (err) => reject(errors.runtime(`starting ${req.file} exec: ${err.message}`)));
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  let timedOut = false;
  let killer: Promise<void> | undefined;
  const timer = req.timeoutSeconds > 0 ? setTimeout(() => {
    timedOut = true;
    killer = killTimedOut(child.pid, req.pidFile, exited);
  }, req.timeoutSeconds * 1000) : undefined;
  try {
    const exitCode = await exited;
    if (killer) await killer;
    await Promise.race([Promise.all([stdout.done, stderr.done]), new Promise((r) => setTimeout(r, DRAIN_MS))]);
    if (timedOut) return { exitCode: -1, stdout: stdout.data(), stderr: stderr.data(), timedOut: true };
    return { exitCode, stdout: stdout.data(), stderr: stderr.data(), timedOut: false };
  } finally {
    if (timer) clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child.stdout!.destroy();
    child.stderr!.destroy();
  }
}

/**
 * As containerd: SIGKILL, here to the process's group so that what it started goes
 * too. The runtime's exec, its parent, reaps it and exits; killing that first would
 * leave the process a zombie for the host's init, so it is killed only if it does
 * not end (stuck before spawning, or the process unkillable). The answer waits until
 * the container's init reaped what the process started.
 */
async function killTimedOut(runtimePid: number | undefined, pidFile: string, exited: Promise<number>): Promise<void> {
  let ended = false;
  void exited.then(() => { ended = true; }, () => { ended = true; });
  const deadline = Date.now() + RUNTIME_GRACE_MS;
  let pid: number | undefined;
  while (!ended && Date.now() < deadline) {
    if (pid === undefined && (pid = readPid(pidFile)) !== undefined) killProcessGroup(pid);
    await Promise.race([exited.catch(() => 0), new Promise((r) => setTimeout(r, 20))]);
  }
  if (!ended && runtimePid !== undefined) process.kill(runtimePid, 'SIGKILL');
  pid ??= readPid(pidFile);
  if (pid !== undefined) {
    killProcessGroup(pid);
    await waitProcessGroupGone(pid, GROUP_REAP_MS);
  }
}
