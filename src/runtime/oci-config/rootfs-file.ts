// Reading files of a container's root filesystem from the host without ever leaving it.
// Image content is untrusted: /etc/passwd may be a symlink to /../../host/etc/shadow.
// Paths are resolved component by component as if `rootfs` were `/` (the semantics of
// filepath-securejoin and openat2(RESOLVE_IN_ROOT)): `..` stops at the root and absolute
// symlink targets restart at the root. The final open uses O_NOFOLLOW.
import * as fs from 'node:fs';
import * as path from 'node:path';

const MAX_SYMLINKS = 255;
const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** Resolves `inner` (a container path) to a host path inside `rootfs`, following symlinks in-root. */
export function resolveInRoot(rootfs: string, inner: string): string {
  const root = path.resolve(rootfs);
  let pending = inner.split('/').filter((c) => c !== '' && c !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const component = pending.shift()!;
    if (component === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(root, ...resolved, component);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(candidate);
    } catch {
      // Missing: the rest is taken literally (the final open reports ENOENT).
      resolved.push(component, ...pending.filter((c) => c !== '..'));
      break;
    }
    if (!st.isSymbolicLink()) {
      resolved.push(component);
      continue;
    }
    if (++links > MAX_SYMLINKS) {
      const err = new Error(`too many levels of symbolic links resolving ${inner} in ${rootfs}`) as NodeJS.ErrnoException;
      err.code = 'ELOOP';
      throw err;
    }
    const target = fs.readlinkSync(candidate);
    if (target.startsWith('/')) resolved.length = 0;
    pending = [...target.split('/').filter((c) => c !== '' && c !== '.'), ...pending];
  }
  return path.join(root, ...resolved);
}

/**
 * Reads a regular file of the rootfs, or returns null when it does not exist (or is not a
 * regular file). Never reads outside rootfs.
 */
export function readRootfsFile(rootfs: string, inner: string): string | null {
  let fd: number;
  try {
    const hostPath = resolveInRoot(rootfs, inner);
    fd = fs.openSync(hostPath, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return null;
    throw err;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return null;
    if (st.size > MAX_FILE_BYTES) throw new Error(`${inner} in ${rootfs} is larger than ${MAX_FILE_BYTES} bytes`);
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}
