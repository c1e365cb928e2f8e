// ExecSync for cradle-runtime containers through warm exec helpers: a helper is a
// `cradle-runtime __exec-helper` started ahead of time, so the Node start (~30 ms,
// half of what `conmon -e` + `cradle-runtime exec` cost per probe) is off the
// request's path. One helper serves one request (its thread joins the container)
// and a replacement is started right away. The process's stdout and stderr are
// the helper's pipes; the timeout and the output caps are enforced here, as conmon
// enforces them for `conmon -e`: on timeout the process's group is killed and
// reaped before the answer.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { cleanChildEnv } from '../common/child-env';
import { errors } from '../common/errors';
import type { ExecHelperMessage, ExecHelperRequest } from '../oci-runtime/exec-helper';
import type { ExecSyncResult } from './conmon/conmon';
import { killProcessGroup, waitProcessGroupGone } from './process-group';

export interface ExecHelperPoolOptions {
  /** The cradle-runtime launcher. */
  binary: string;
  /** Helpers kept started and idle. */
  idle: number;
}

export interface HelperExecRequest extends ExecHelperRequest {
  /** 0 means no timeout. */
  timeoutSeconds: number;
  /** Cap for stdout and stderr each. */
  maxOutputBytes: number;
}

/** After the process exited, how long output still in the pipes may take to drain. */
const DRAIN_MS = 250;
/** After a timeout, how long the helper has to reap the killed process and report before it is killed. */
const HELPER_GRACE_MS = 5000;
/** After a timeout, how long the container's init may take to reap what the process started. */
const GROUP_REAP_MS = 2000;

class ExecHelper {
  readonly child: ChildProcess;
  private readonly messages: ExecHelperMessage[] = [];
  private waiters: (() => void)[] = [];
  private buffered = '';
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;

  constructor(binary: string) {
    this.child = spawn(binary, ['__exec-helper'], {
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: cleanChildEnv(),
    });
    const channel = this.child.stdio[3] as Readable;
    channel.setEncoding('utf8');
    channel.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        try {
          this.messages.push(JSON.parse(line) as ExecHelperMessage);
        } catch {
          this.messages.push({ error: `exec helper sent ${JSON.stringify(line)}` });
        }
        this.wake();
      }
    });
    channel.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.once('error', () => resolve());
    });
    void this.exited.then(() => this.wake());
    this.ready = this.next().then((m) => {
      if (!('ready' in m)) throw errors.runtime(`exec helper: ${'error' in m ? m.error : 'did not start'}`);
    });
    this.ready.catch(() => undefined);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** The next message; an error message once the helper is gone. */
  async next(): Promise<ExecHelperMessage> {
    for (;;) {
      const m = this.messages.shift();
      if (m) return m;
      if (!this.alive) return { error: `exec helper exited (${this.child.exitCode ?? this.child.signalCode})` };
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  send(req: ExecHelperRequest): void {
    const channel = this.child.stdio[3] as NodeJS.WritableStream;
    channel.write(JSON.stringify(req) + '\n');
  }

  kill(): void {
    if (this.alive) this.child.kill('SIGKILL');
  }
}

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

export class ExecHelperPool {
  private readonly idle: ExecHelper[] = [];
  private closed = false;

  constructor(private readonly options: ExecHelperPoolOptions) {}

  /** Starts helpers until `idle` of them wait. */
  private refill(): void {
    if (this.closed) return;
    while (this.idle.filter((h) => h.alive).length < this.options.idle) {
      const helper = new ExecHelper(this.options.binary);
      this.idle.push(helper);
      void helper.exited.then(() => {
        const i = this.idle.indexOf(helper);
        if (i >= 0) this.idle.splice(i, 1);
      });
    }
  }

  private take(): ExecHelper {
    let helper: ExecHelper | undefined;
    while ((helper = this.idle.shift()) && !helper.alive) { /* drop dead ones */ }
    const chosen = helper ?? new ExecHelper(this.options.binary);
    this.refill();
    return chosen;
  }

  async execSync(req: HelperExecRequest): Promise<ExecSyncResult> {
    if (this.closed) throw errors.unavailable('the daemon is shutting down');
    const helper = this.take();
    const stdout = collect(helper.child.stdio[1] as Readable, req.maxOutputBytes);
    const stderr = collect(helper.child.stdio[2] as Readable, req.maxOutputBytes);
    let pid: number | undefined;
    let timedOut = false;
    let stuckTimer: NodeJS.Timeout | undefined;
    const timer = req.timeoutSeconds > 0 ? setTimeout(() => {
      timedOut = true;
      // As containerd: SIGKILL, here to the process's group so that what it started goes
      // too. The helper, its parent, reaps it and reports; killing the helper instead
      // would leave the process a zombie for the host's init. It is killed only if it
      // does not end (stuck before spawning, or the process unkillable).
      if (pid !== undefined) killProcessGroup(pid);
      stuckTimer = setTimeout(() => helper.kill(), HELPER_GRACE_MS);
    }, req.timeoutSeconds * 1000) : undefined;
    try {
      await helper.ready;
      helper.send({ root: req.root, id: req.id, process: req.process });
      let exitCode = -1;
      let failure: string | undefined;
      for (;;) {
        const m = await helper.next();
        if ('pid' in m) {
          pid = m.pid;
          if (timedOut) killProcessGroup(pid); // spawned as the timeout fired
        } else if ('exitCode' in m) {
          exitCode = m.exitCode;
          break;
        } else if ('error' in m) {
          failure = m.error;
          break;
        }
      }
      await helper.exited;
      if (timedOut && pid !== undefined) {
        // What it started went to the container's init: answer once that reaped it too.
        killProcessGroup(pid);
        await waitProcessGroupGone(pid, GROUP_REAP_MS);
      }
      await Promise.race([Promise.all([stdout.done, stderr.done]), new Promise((r) => setTimeout(r, DRAIN_MS))]);
      if (timedOut) return { exitCode: -1, stdout: stdout.data(), stderr: stderr.data(), timedOut: true };
      if (failure !== undefined) {
        // What `cradle-runtime exec` under `conmon -e` gave: its error on stderr, status 1.
        return { exitCode: 1, stdout: stdout.data(), stderr: Buffer.concat([stderr.data(), Buffer.from(`cradle-runtime: ${failure}\n`)]), timedOut: false };
      }
      return { exitCode, stdout: stdout.data(), stderr: stderr.data(), timedOut: false };
    } finally {
      if (timer) clearTimeout(timer);
      if (stuckTimer) clearTimeout(stuckTimer);
      helper.kill();
      for (const fd of [1, 2] as const) (helper.child.stdio[fd] as Readable).destroy();
    }
  }

  /** Stops the idle helpers (daemon shutdown). */
  close(): void {
    this.closed = true;
    for (const h of this.idle.splice(0)) h.kill();
  }
}
