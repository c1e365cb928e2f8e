// syncfs(2): flushes the whole filesystem holding a path. One call after unpacking
// a layer is far cheaper than an fsync per file, and makes the layer durable
// before it is renamed into place. Runs on koffi's worker thread (it can take a
// while on a busy disk) so the event loop keeps serving.
import * as fs from 'node:fs';
import { loadLibc } from './libc-handle';

interface AsyncFn {
  async(fd: number, callback: (err: unknown, result: number) => void): void;
}

let syncfsFn: AsyncFn | undefined;

export async function syncfsPath(path: string): Promise<void> {
  if (!syncfsFn) syncfsFn = loadLibc().func('int syncfs(int fd)') as unknown as AsyncFn;
  const fn = syncfsFn;
  const handle = await fs.promises.open(path, 'r');
  try {
    const rc = await new Promise<number>((resolve, reject) => fn.async(handle.fd, (err, result) => (err ? reject(err) : resolve(result))));
    // errno of a call on koffi's worker thread is not readable here; report the failure plainly.
    if (rc !== 0) throw new Error(`syncfs ${JSON.stringify(path)} failed`);
  } finally {
    await handle.close();
  }
}
