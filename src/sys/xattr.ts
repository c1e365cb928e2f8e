// Extended attributes through libc (Node has no xattr API). Used by the layer
// unpacker for overlayfs opaque directories (trusted.overlay.opaque=y) and for
// xattrs carried in image layers (security.capability, ...). The l* variants never
// follow a final symlink.
import { koffi, loadLibc, errnoError } from './libc-handle';

interface XattrFunctions {
  lsetxattr: (path: string, name: string, value: Buffer, size: number, flags: number) => number;
  lgetxattr: (path: string, name: string, value: Buffer | null, size: number) => number;
  llistxattr: (path: string, list: Buffer | null, size: number) => number;
}

let functions: XattrFunctions | undefined;

function xattrFunctions(): XattrFunctions {
  if (!functions) {
    const libc = loadLibc();
    functions = {
      lsetxattr: libc.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)'),
      lgetxattr: libc.func('intptr_t lgetxattr(const char *path, const char *name, _Out_ void *value, size_t size)'),
      llistxattr: libc.func('intptr_t llistxattr(const char *path, _Out_ char *list, size_t size)'),
    } as unknown as XattrFunctions;
  }
  return functions;
}

/** Sets an xattr on path itself (not a symlink's target). Throws a Node-style errno error. */
export function lsetxattr(path: string, name: string, value: Buffer | string): void {
  const buffer = typeof value === 'string' ? Buffer.from(value) : value;
  const rc = xattrFunctions().lsetxattr(path, name, buffer, buffer.length, 0);
  if (rc !== 0) throw errnoError(koffi().errno(), 'lsetxattr', path);
}

/** Reads an xattr, or undefined when the attribute does not exist (ENODATA). */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  const fns = xattrFunctions();
  for (;;) {
    const size = fns.lgetxattr(path, name, null, 0);
    if (size < 0) {
      const errno = koffi().errno();
      if (errno === ENODATA) return undefined;
      throw errnoError(errno, 'lgetxattr', path);
    }
    const buffer = Buffer.alloc(size);
    const got = fns.lgetxattr(path, name, buffer, size);
    if (got >= 0) return buffer.subarray(0, got);
    const errno = koffi().errno();
    if (errno !== ERANGE) throw errnoError(errno, 'lgetxattr', path);
  }
}

/** Names of the xattrs set on path itself. */
export function llistxattr(path: string): string[] {
  const fns = xattrFunctions();
  const size = fns.llistxattr(path, null, 0);
  if (size < 0) throw errnoError(koffi().errno(), 'llistxattr', path);
  if (size === 0) return [];
  const buffer = Buffer.alloc(size);
  const got = fns.llistxattr(path, buffer, size);
  if (got < 0) throw errnoError(koffi().errno(), 'llistxattr', path);
  return buffer.subarray(0, got).toString('utf8').split('\0').filter((name) => name.length > 0);
}

const ENODATA = 61;
const ERANGE = 34;
