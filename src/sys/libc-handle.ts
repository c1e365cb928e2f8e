// The libc handle for the image layer's bindings (xattr, mknod, syncfs), loaded
// lazily so modules that never make a raw syscall do not pay for koffi.
import koffi, { type LibraryHandle } from 'koffi';
import * as os from 'node:os';

let libc: LibraryHandle | undefined;

export function loadLibc(): LibraryHandle {
  if (!libc) libc = koffi.load('libc.so.6');
  return libc;
}

const ERRNO_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(os.constants.errno).map(([name, value]) => [value, name]),
);

/** An Error shaped like Node's system errors (code, errno, syscall, path). */
export function errnoError(errno: number, syscall: string, path?: string): NodeJS.ErrnoException {
  const code = ERRNO_NAMES[errno] ?? `E${errno}`;
  const err: NodeJS.ErrnoException = new Error(`${code}: ${syscall}${path !== undefined ? ` ${JSON.stringify(path)}` : ''} failed (errno ${errno})`);
  err.code = code;
  err.errno = -errno;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}
