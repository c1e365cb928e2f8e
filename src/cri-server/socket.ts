// The CRI unix socket: parent directory created, a stale socket from a dead daemon
// replaced, a live daemon on the same path refused, mode and owner set after bind.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { errors } from '../common/errors';

export function socketPathOf(listen: string): string {
  if (!listen.startsWith('unix://')) throw errors.config('api.listen', 'listen', `unsupported endpoint ${listen}: only unix:// sockets`);
  return listen.slice('unix://'.length);
}

/** Resolves whether something accepts connections on the socket path. */
export function isSocketLive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = net.connect(socketPath);
    const done = (live: boolean) => {
      conn.destroy();
      resolve(live);
    };
    conn.once('connect', () => done(true));
    conn.once('error', () => done(false));
    conn.setTimeout(2000, () => done(false));
  });
}

/** Makes the path ready for bind, or throws socketInUse when a live server holds it. */
export async function prepareSocketPath(socketPath: string): Promise<void> {
  await fs.promises.mkdir(path.dirname(socketPath), { recursive: true, mode: 0o755 });
  let stat: fs.Stats;
  try {
    stat = await fs.promises.lstat(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!stat.isSocket()) {
    throw errors.failedPrecondition(`${socketPath} exists and is not a socket; refusing to replace it`);
  }
  if (await isSocketLive(socketPath)) throw errors.socketInUse(socketPath);
  await fs.promises.unlink(socketPath);
}

export async function secureSocket(socketPath: string, mode: number): Promise<void> {
  await fs.promises.chown(socketPath, 0, 0);
  await fs.promises.chmod(socketPath, mode);
}
