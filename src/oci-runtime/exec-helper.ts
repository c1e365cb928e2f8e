// `cradle-runtime __exec-helper`: an `exec` whose Node start happened before the
// request. The daemon keeps one started (runtime/exec-helpers.ts); it waits on fd 3
// for a single request, runs it exactly as `exec` does (its main thread joins the
// container, so it serves one request and exits), reports the pid and the exit
// status on fd 3. Its stdout and stderr are the process's: it never writes to them.
import * as fs from 'node:fs';
import type { Process } from './spec';
import { sleepMs } from './state';

export const HELPER_CHANNEL_FD = 3;

export interface ExecHelperRequest {
  /** cradle-runtime --root of the container. */
  root: string;
  id: string;
  process: Process;
}

/** One line of JSON on the channel, helper to daemon. */
export type ExecHelperMessage =
  | { ready: true }
  | { pid: number }
  | { exitCode: number }
  | { error: string };

function send(message: ExecHelperMessage): void {
  fs.writeSync(HELPER_CHANNEL_FD, JSON.stringify(message) + '\n');
}

/** Blocks until one request line arrives; undefined when the daemon closed the channel. */
function readRequest(): ExecHelperRequest | undefined {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(HELPER_CHANNEL_FD, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        sleepMs(2);
        continue;
      }
      return undefined;
    }
    if (n === 0) return undefined;
    const chunk = Buffer.from(buf.subarray(0, n));
    chunks.push(chunk);
    if (chunk.includes(0x0a)) break;
  }
  const line = Buffer.concat(chunks).toString('utf8');
  return JSON.parse(line.slice(0, line.indexOf('\n'))) as ExecHelperRequest;
}

export async function runExecHelper(): Promise<number> {
  // Everything exec loads, loaded now: the request path is then syscalls and one spawn.
  const { execProcess } = require('./exec') as typeof import('./exec');
  (require('../sys/libc') as typeof import('../sys/libc')).preloadLibc();
  await fs.promises.stat('/'); // trap 2: the threadpool is up before any pid ns switch
  send({ ready: true });
  const req = readRequest();
  if (!req) return 0;
  try {
    const exitCode = await execProcess({
      root: req.root, id: req.id, process: req.process, args: [], detach: false, tty: false,
      onSpawn: (pid) => send({ pid }),
    });
    send({ exitCode });
    return 0;
  } catch (err) {
    send({ error: err instanceof Error ? err.message : String(err) });
    return 1;
  }
}
