// malloc_trim(3): hands the free memory of every glibc malloc arena back to the
// kernel. Threads that ended (pull workers) leave their arenas' freed memory
// mapped otherwise, and the daemon's RSS keeps what a finished pull used. Runs on
// koffi's worker thread: it walks the arenas under their locks.
import { loadLibc } from './libc-handle';

interface AsyncFn {
  async(pad: number, callback: (err: unknown, result: number) => void): void;
}

let trimFn: AsyncFn | undefined;

/** Resolves true when memory was released. */
export function mallocTrim(): Promise<boolean> {
  trimFn ??= loadLibc().func('int malloc_trim(size_t pad)') as unknown as AsyncFn;
  const fn = trimFn;
  return new Promise((resolve, reject) => fn.async(0, (err, released) => (err ? reject(err) : resolve(released === 1))));
}
