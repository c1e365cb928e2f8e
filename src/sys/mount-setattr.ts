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
