// Exec: runs the runtime's `exec` attached (not through conmon): the command's
// exit code is the CLI's. Without a tty its stdio are the CLI's pipes; with a tty
// the runtime hands the pty master over a console socket (SCM_RIGHTS), and the
// session reads and writes the master.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanChildEnv } from '../../common/child-env';
import { errors } from '../../common/errors';
import type { StateLayout } from '../../common/state-layout';
import type { ContainerManager } from '../../containers/manager';
import type { RuntimeHandlers } from '../../runtime/handlers';
import type { OciRuntime } from '../../runtime/oci-runtime';
import { ociConfig } from '../../runtime/oci-config/lazy';
import { killProcessGroup } from '../../runtime/process-group';
import type { ExecBackend, ExecResult, SessionIO, TerminalSize } from '../backend';
import { acceptAsync, listenUnix, receiveFdAsync, setWindowSize } from '../../sys/unix-socket';
import * as tty from 'node:tty';

/** How long the runtime's exec has to reap the killed process and exit before it is killed itself. */
const ABANDONED_EXEC_GRACE_MS = 5000;
/**
 * How long a terminal exec waits for the client's first terminal size (kubectl sends
 * it as soon as the streams are open): the process then starts with its size set,
 * instead of reading 0x0 before the resize arrives.
 */
const FIRST_SIZE_WAIT_MS = 300;

/** The first size the client sends, if it comes within FIRST_SIZE_WAIT_MS. */
async function firstSize(sizes: AsyncIterator<TerminalSize>): Promise<{ size?: TerminalSize; next: Promise<IteratorResult<TerminalSize>> }> {
  const next = sizes.next();
  let timer: NodeJS.Timeout | undefined;
  const waited = await Promise.race([next, new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), FIRST_SIZE_WAIT_MS); })]);
  clearTimeout(timer);
  if (waited === undefined) return { next };
  return waited.done ? { next } : { size: waited.value, next: sizes.next() };
}

/**
 * The client went away: SIGKILL to the process's group (the runtime's exec made it a
 * group leader), which also reaches what it started. The runtime's exec, its parent,
 * then reaps it and exits; killing that first would leave the process a zombie for the
 * host's init. Until the process is spawned, the pid file is absent: it is polled for.
 */
async function endAbandonedExec(runtimeExec: ChildProcess, pidFile: string): Promise<void> {
  const ended = () => runtimeExec.exitCode !== null || runtimeExec.signalCode !== null;
  const exited = new Promise<void>((resolve) => runtimeExec.once('exit', () => resolve()));
  const deadline = Date.now() + ABANDONED_EXEC_GRACE_MS;
  let pid: number | undefined;
  while (!ended() && Date.now() < deadline) {
    if (pid === undefined) {
      try {
        pid = Number(fs.readFileSync(pidFile, 'utf8')) || undefined;
      } catch { /* not spawned yet */ }
      if (pid !== undefined) killProcessGroup(pid);
    }
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20))]);
  }
  if (!ended()) runtimeExec.kill('SIGKILL');
}

async function ttyExec(runtime: OciRuntime, processFile: string, id: string, dir: string, pidFile: string, io: SessionIO,
  sizes: { iterator: AsyncIterator<TerminalSize>; next: Promise<IteratorResult<TerminalSize>> }, signal: AbortSignal): Promise<ExecResult> {
  const socketPath = path.join(dir, 'console.sock');
  const listener = listenUnix(socketPath);
  const command = runtime.execCommand(id, { processFile, pidFile, consoleSocket: socketPath });
  const child = spawn(command.file, command.args, { stdio: ['ignore', 'ignore', 'pipe'], env: cleanChildEnv() });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? 1));
  });
  const kill = () => { void endAbandonedExec(child, pidFile); };
  signal.addEventListener('abort', kill, { once: true });
  let master: number | undefined;
  try {
    const conn = await Promise.race([acceptAsync(listener), exited.then((code) => {
      throw errors.runtime(`exec with a tty failed (exit ${code}): ${stderr.trim()}`);
    })]);
    try {
      master = await receiveFdAsync(conn);
    } finally {
      fs.closeSync(conn);
    }
    const m = master;
    const output = new tty.ReadStream(m);
    const drained = new Promise<void>((resolve) => {
      output.on('data', (chunk: Buffer) => { io.stdout?.write(chunk); });
      output.once('end', () => resolve());
      output.once('error', () => resolve()); // EIO once the last slave fd closes
      output.once('close', () => resolve());
    });
    const onInput = (chunk: Buffer) => fs.write(m, chunk, () => undefined);
    io.stdin?.on('data', onInput);
    void (async () => {
      for (let r = await sizes.next; !r.done; r = await sizes.iterator.next()) {
        try { setWindowSize(m, r.value.height, r.value.width); } catch { /* closed */ }
      }
    })();
    const exitCode = await exited;
    await Promise.race([drained, new Promise((r) => setTimeout(r, 2000))]);
    io.stdin?.off('data', onInput);
    output.destroy();
    master = undefined; // closed by the stream
    return { exitCode };
  } finally {
    signal.removeEventListener('abort', kill);
    fs.closeSync(listener);
    if (master !== undefined) fs.closeSync(master);
  }
}

export function execBackend(containers: ContainerManager, handlers: RuntimeHandlers, layout: StateLayout): ExecBackend {
  return {
    async exec(request, io, signal) {
      const c = containers.find(request.containerId);
      if (c.state !== 'CONTAINER_RUNNING') throw errors.failedPrecondition(`container ${c.id} is not running`);
      const runtime = handlers.get(c.runtimeHandler).runtime;
      const dir = layout.newExecWorkDir(c.id);
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const processFile = path.join(dir, 'process.json');
      const pidFile = path.join(dir, 'pid');
      const proc = ociConfig().buildExecProcess(containers.processOf(c), request.cmd, request.tty);
      if (request.tty) {
        try {
          const iterator = io.resize[Symbol.asyncIterator]();
          const { size, next } = await firstSize(iterator);
          // OCI process.consoleSize: the runtime sets it on the pty before the process starts.
          const consoleSize = size ? { consoleSize: { height: size.height, width: size.width } } : {};
          fs.writeFileSync(processFile, JSON.stringify({ ...proc, ...consoleSize }), { mode: 0o600 });
          return await ttyExec(runtime, processFile, c.id, dir, pidFile, io, { iterator, next }, signal);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }
      fs.writeFileSync(processFile, JSON.stringify(proc), { mode: 0o600 });
      const command = runtime.execCommand(c.id, { processFile, pidFile });
      const child = spawn(command.file, command.args, {
        stdio: [io.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
        env: cleanChildEnv(),
      });
      const killProcess = () => { void endAbandonedExec(child, pidFile); };
      signal.addEventListener('abort', killProcess, { once: true });
      if (io.stdin && child.stdin) {
        io.stdin.pipe(child.stdin);
        child.stdin.on('error', () => undefined);
      }
      if (io.stdout) child.stdout!.pipe(io.stdout, { end: false });
      else child.stdout!.resume();
      if (io.stderr) child.stderr!.pipe(io.stderr, { end: false });
      else child.stderr!.resume();
      try {
        const exitCode = await new Promise<number>((resolve, reject) => {
          child.once('error', reject);
          child.once('close', (code, sig) => resolve(code ?? (sig ? 128 + (({ SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[sig] ?? 1) : 1)));
        });
        return { exitCode };
      } finally {
        signal.removeEventListener('abort', killProcess);
        if (io.stdin) io.stdin.unpipe();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
