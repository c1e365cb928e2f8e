// mknod(2) for device nodes, FIFOs and overlayfs whiteouts (character device 0/0);
// Node's fs has no mknod.
import { koffi, loadLibc, errnoError } from './libc-handle';

export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

type MknodFn = (path: string, mode: number, dev: bigint) => number;
let mknodFn: MknodFn | undefined;

/** glibc's makedev for 64-bit dev_t. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** mode carries the file type (S_IFCHR, S_IFBLK, S_IFIFO) and permission bits (umask applies). */
export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  if (!mknodFn) mknodFn = loadLibc().func('int mknod(const char *path, uint32_t mode, uint64_t dev)') as unknown as MknodFn;
  const rc = mknodFn(path, mode, makedev(major, minor));
  if (rc !== 0) throw errnoError(koffi().errno(), 'mknod', path);
}
