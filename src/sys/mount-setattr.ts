// mount_setattr(2) (Linux 5.12+): changes the attributes of a mount, and with
// AT_RECURSIVE of every mount below it in one step. A recursive read-only bind
// ("rro") needs it: MS_REMOUNT|MS_RDONLY only ever changes the top mount.
import type * as Koffi from 'koffi' with { 'resolution-mode': 'require' };
import { SyscallError } from './errno';
import { SYS } from './constants';

const AT_EMPTY_PATH = 0x1000;
const AT_RECURSIVE = 0x8000;
export const MOUNT_ATTR_RDONLY = 0x1;

type Fn = (...args: unknown[]) => number | bigint;
let setattr: Fn | undefined;
let koffi: typeof Koffi | undefined;

// koffi is loaded on first use, as in libc.ts: runtime commands that never mount do not pay for it.
function mountSetattrFn(): Fn {
  if (!setattr || !koffi) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    koffi = require('koffi') as typeof Koffi;
    const libc = koffi.load('libc.so.6');
    koffi.struct('cradle_mount_attr', { attr_set: 'uint64', attr_clr: 'uint64', propagation: 'uint64', userns_fd: 'uint64' });
    setattr = libc.func('syscall', 'long', ['long', 'int', 'const char *', 'unsigned int', 'const cradle_mount_attr *', 'size_t']) as unknown as Fn;
  }
  return setattr;
}

/** Sets `attrSet` on the mount an O_PATH fd refers to, and on every mount below it when recursive. */
export function mountSetattrFd(fd: number, attrSet: number, recursive: boolean, what: string): void {
  const attr = { attr_set: BigInt(attrSet), attr_clr: 0n, propagation: 0n, userns_fd: 0n };
  const rc = Number(mountSetattrFn()(SYS.mount_setattr, fd, '', AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), attr, 32));
  if (rc < 0) throw new SyscallError('mount_setattr', koffi!.errno(), what);
}

const MOUNT_ATTR_IDMAP = 0x100000;
const OPEN_TREE_CLONE = 1;
const OPEN_TREE_CLOEXEC = 0o2000000;
const AT_FDCWD = -100;
let openTree: Fn | undefined;

/**
 * A detached clone of the mount at `dir` whose ids are shown through the maps of the user
 * namespace `usernsFd` (an idmapped mount, Linux 5.12+); the caller closes the returned fd.
 */
export function idmappedClone(dir: string, usernsFd: number): number {
  const setattrFn = mountSetattrFn();
  openTree ??= koffi!.load('libc.so.6').func('syscall', 'long', ['long', 'int', 'const char *', 'unsigned int']) as unknown as Fn;
  const fd = Number(openTree(SYS.open_tree, AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (fd < 0) throw new SyscallError('open_tree', koffi!.errno(), dir);
  const attr = { attr_set: BigInt(MOUNT_ATTR_IDMAP), attr_clr: 0n, propagation: 0n, userns_fd: BigInt(usernsFd) };
  if (Number(setattrFn(SYS.mount_setattr, fd, '', AT_EMPTY_PATH, attr, 32)) < 0) {
    const errno = koffi!.errno();
    require('node:fs').closeSync(fd);
    throw new SyscallError('mount_setattr', errno, `MOUNT_ATTR_IDMAP on ${dir}`);
  }
  return fd;
}

let supported: boolean | undefined;

/** Whether the kernel has mount_setattr: probed with a bad fd (EBADF where it exists, ENOSYS where not). */
export function mountSetattrSupported(): boolean {
  if (supported === undefined) {
    const attr = { attr_set: 0n, attr_clr: 0n, propagation: 0n, userns_fd: 0n };
    const rc = Number(mountSetattrFn()(SYS.mount_setattr, -1, '', AT_EMPTY_PATH, attr, 32));
    supported = !(rc < 0 && koffi!.errno() === 38 /* ENOSYS */);
  }
  return supported;
}
