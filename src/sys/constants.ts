// Linux constants used by the bindings (values from the kernel uapi headers). Most are
// the same on x86-64 and aarch64; syscall numbers and a few open flags differ, and are
// looked up per architecture below.

/** The architectures cradle runs on (Node's process.arch names). */
export type SupportedArch = 'x64' | 'arm64';

export function supportedArch(arch: string = process.arch): SupportedArch {
  if (arch === 'x64' || arch === 'arm64') return arch;
  throw new Error(`cradle runs on x86-64 (x64) and aarch64 (arm64) Linux only, not on ${arch}`);
}
export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const CLONE_NEWTIME = 0x00000080;
export const CLONE_FS = 0x00000200;

export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_SYNCHRONOUS = 0x10;
export const MS_REMOUNT = 0x20;
export const MS_MANDLOCK = 0x40;
export const MS_DIRSYNC = 0x80;
export const MS_NOSYMFOLLOW = 0x100;
export const MS_NOATIME = 0x400;
export const MS_NODIRATIME = 0x800;
export const MS_BIND = 0x1000;
export const MS_MOVE = 0x2000;
export const MS_REC = 0x4000;
export const MS_SILENT = 0x8000;
export const MS_UNBINDABLE = 0x20000;
export const MS_PRIVATE = 0x40000;
export const MS_SLAVE = 0x80000;
export const MS_SHARED = 0x100000;
export const MS_RELATIME = 0x200000;
export const MS_STRICTATIME = 0x1000000;
export const MS_LAZYTIME = 0x2000000;

export const MNT_DETACH = 0x2;

export const PR_SET_PDEATHSIG = 1;
export const PR_SET_KEEPCAPS = 8;
export const PR_CAPBSET_DROP = 24;
export const PR_SET_NO_NEW_PRIVS = 38;
export const PR_CAP_AMBIENT = 47;
export const PR_CAP_AMBIENT_RAISE = 2;
export const PR_CAP_AMBIENT_CLEAR_ALL = 4;

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_NOCTTY = 0o400;
export const O_NONBLOCK = 0o4000;
// asm-generic/fcntl.h (x86-64) vs arch/arm64/include/uapi/asm/fcntl.h.
const OPEN_FLAGS: Record<SupportedArch, { O_DIRECTORY: number; O_NOFOLLOW: number }> = {
  x64: { O_DIRECTORY: 0o200000, O_NOFOLLOW: 0o400000 },
  arm64: { O_DIRECTORY: 0o40000, O_NOFOLLOW: 0o100000 },
};
export function openFlags(arch: SupportedArch): { O_DIRECTORY: number; O_NOFOLLOW: number } {
  return OPEN_FLAGS[arch];
}
export const { O_DIRECTORY, O_NOFOLLOW } = openFlags(supportedArch());
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;

export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SCM_RIGHTS = 1;

export const TIOCSCTTY = 0x540e;
export const TIOCSWINSZ = 0x5414;
export const TIOCGPTN = 0x80045430;
export const TIOCSPTLCK = 0x40045431;

export const CLOSE_RANGE_CLOEXEC = 1 << 2;
export const SIG_SETMASK = 2;

/** Syscalls called by number: glibc does not wrap them, or wraps them with process-wide effects. */
export interface SyscallNumbers {
  capget: number; capset: number; setgroups: number; setresuid: number; setresgid: number;
  pivot_root: number; seccomp: number; bpf: number;
  close_range: number; open_tree: number; move_mount: number; fsopen: number; fsconfig: number; fsmount: number; mount_setattr: number;
}

// Since Linux 5.1 new syscalls (move_mount and later) share one number on every architecture.
const COMMON_NEW = { open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, close_range: 436, mount_setattr: 442 };

// x86-64: arch/x86/entry/syscalls/syscall_64.tbl; aarch64: include/uapi/asm-generic/unistd.h.
const SYSCALLS: Record<SupportedArch, SyscallNumbers> = {
  x64: { capget: 125, capset: 126, setgroups: 116, setresuid: 117, setresgid: 119, pivot_root: 155, seccomp: 317, bpf: 321, ...COMMON_NEW },
  arm64: { capget: 90, capset: 91, setgroups: 159, setresuid: 147, setresgid: 149, pivot_root: 41, seccomp: 277, bpf: 280, ...COMMON_NEW },
};

export function syscallNumbers(arch: SupportedArch): SyscallNumbers {
  return SYSCALLS[arch];
}

/** The running architecture's syscall numbers. */
export const SYS: Readonly<SyscallNumbers> = syscallNumbers(supportedArch());

export const SECCOMP_SET_MODE_FILTER = 1;

/** setrlimit resources by OCI name. */
export const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

/** glibc's makedev(). */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}
