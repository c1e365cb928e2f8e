// koffi and the libc handle for the sys/ bindings (sockets, xattr, mknod, syncfs),
// loaded on the first raw syscall: importing a binding costs nothing, so the
// daemon's start (which makes none) does not pay for koffi's native module.
import type * as Koffi from 'koffi' with { 'resolution-mode': 'require' };
import * as os from 'node:os';

export function koffi(): typeof Koffi {
  return require('koffi') as typeof Koffi;
}

let libc: Koffi.LibraryHandle | undefined;

export function loadLibc(): Koffi.LibraryHandle {
  if (!libc) libc = koffi().load('libc.so.6');
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
