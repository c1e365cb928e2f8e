// koffi bindings to the libc calls the OCI runtime needs. The library is loaded on
// first use (requiring koffi costs ~6 ms, which `state` and `--version` never pay).
// Every wrapper throws SyscallError (naming the call) on failure and returns the
// plain result otherwise.
import type * as Koffi from 'koffi' with { 'resolution-mode': 'require' };
import { SyscallError } from './errno';
import { SYS, SECCOMP_SET_MODE_FILTER, AF_UNIX, SOCK_STREAM, SOCK_CLOEXEC, SOL_SOCKET, SCM_RIGHTS, SIG_SETMASK } from './constants';

type Fn = (...args: unknown[]) => unknown;

interface Bindings {
  koffi: typeof Koffi;
  unshare: Fn; setns: Fn; mount: Fn; umount2: Fn; mknod: Fn; mkfifo: Fn; chroot: Fn; fchdir: Fn;
  sethostname: Fn; setdomainname: Fn; prctl: Fn; setsid: Fn; dup2: Fn; fcntl: Fn;
  ioctlPtr: Fn; ioctlInt: Fn; socket: Fn; connect: Fn; sendmsg: Fn; execve: Fn;
  signal: Fn; sigprocmask: Fn; prlimit: Fn; gettid: Fn;
  syscall3: Fn; syscallPtr2: Fn; syscallIntPtr: Fn; seccompSetFilter: Fn;
  msghdr: Koffi.TypeObject;
}

let cached: Bindings | undefined;

function libc(): Bindings {
  if (cached) return cached;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require('koffi') as typeof Koffi;
  const lib = koffi.load('libc.so.6');
  const msghdr = koffi.struct('cradle_msghdr', {
    msg_name: 'void *', msg_namelen: 'uint32', msg_iov: 'void *', msg_iovlen: 'size_t',
    msg_control: 'void *', msg_controllen: 'size_t', msg_flags: 'int',
  });
  koffi.struct('cradle_sock_fprog', { len: 'uint16', filter: 'void *' });
  cached = {
    koffi,
    msghdr,
    seccompSetFilter: lib.func('syscall', 'long', ['long', 'unsigned long', 'unsigned long', 'const cradle_sock_fprog *']),
    unshare: lib.func('int unshare(int flags)'),
    setns: lib.func('int setns(int fd, int nstype)'),
    mount: lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: lib.func('int umount2(const char *target, int flags)'),
    mknod: lib.func('int mknod(const char *path, unsigned int mode, uint64_t dev)'),
    mkfifo: lib.func('int mkfifo(const char *path, unsigned int mode)'),
    chroot: lib.func('int chroot(const char *path)'),
    fchdir: lib.func('int fchdir(int fd)'),
    sethostname: lib.func('int sethostname(const char *name, size_t len)'),
    setdomainname: lib.func('int setdomainname(const char *name, size_t len)'),
    prctl: lib.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)'),
    setsid: lib.func('int setsid()'),
    dup2: lib.func('int dup2(int oldfd, int newfd)'),
    fcntl: lib.func('int fcntl(int fd, int cmd, int arg)'),
    ioctlPtr: lib.func('ioctl', 'int', ['int', 'unsigned long', 'void *']),
    ioctlInt: lib.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']),
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    connect: lib.func('int connect(int fd, const void *addr, unsigned int len)'),
    sendmsg: lib.func('long sendmsg(int fd, const cradle_msghdr *msg, int flags)'),
    execve: lib.func('int execve(const char *path, const char **argv, const char **envp)'),
    signal: lib.func('void *signal(int sig, void *handler)'),
    sigprocmask: lib.func('int sigprocmask(int how, const void *set, void *old)'),
    gettid: lib.func('int gettid()'),
    prlimit: lib.func('int prlimit(int pid, int resource, const void *newlimit, void *oldlimit)'),
    syscallIntPtr: lib.func('syscall', 'long', ['long', 'unsigned long', 'void *']),
    syscall3: lib.func('syscall', 'long', ['long', 'unsigned long', 'unsigned long', 'unsigned long']),
    syscallPtr2: lib.func('syscall', 'long', ['long', 'void *', 'void *']),
  };
  return cached;
}

/** Loads koffi and libc now (before pivot_root, or before a namespace switch). */
export function preloadLibc(): void {
  libc();
}

function check(name: string, rc: unknown, detail?: string): number {
  const n = typeof rc === 'bigint' ? Number(rc) : (rc as number);
  if (n < 0) throw new SyscallError(name, libc().koffi.errno(), detail);
  return n;
}

export function unshare(flags: number): void {
  check('unshare', libc().unshare(flags), `0x${flags.toString(16)}`);
}

export function setns(fd: number, nstype: number, what = String(fd)): void {
  check('setns', libc().setns(fd, nstype), what);
}

export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  check('mount', libc().mount(source, target, fstype, flags, data), `${source ?? 'none'} on ${target}${fstype ? ` type ${fstype}` : ''}`);
}

export function umount2(target: string, flags: number): void {
  check('umount2', libc().umount2(target, flags), target);
}

export function mknod(path: string, mode: number, dev: bigint): void {
  check('mknod', libc().mknod(path, mode, dev), path);
}

export function mkfifo(path: string, mode: number): void {
  check('mkfifo', libc().mkfifo(path, mode), path);
}

export function chroot(path: string): void {
  check('chroot', libc().chroot(path), path);
}

/** Changes directory behind Node's back: call process.chdir() afterwards so process.cwd() is right again. */
export function fchdir(fd: number): void {
  check('fchdir', libc().fchdir(fd), String(fd));
}

export function pivotRoot(newRoot: string, putOld: string): void {
  const b = libc();
  check('pivot_root', b.syscallPtr2(SYS.pivot_root, Buffer.from(newRoot + '\0'), Buffer.from(putOld + '\0')), newRoot);
}

export function sethostname(name: string): void {
  check('sethostname', libc().sethostname(name, Buffer.byteLength(name)), name);
}

export function setdomainname(name: string): void {
  check('setdomainname', libc().setdomainname(name, Buffer.byteLength(name)), name);
}

export function prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0): number {
  return check('prctl', libc().prctl(option, a2, a3, a4, a5), String(option));
}

export function setsid(): number {
  return check('setsid', libc().setsid());
}

export function dup2(oldfd: number, newfd: number): void {
  check('dup2', libc().dup2(oldfd, newfd), `${oldfd}, ${newfd}`);
}

export function fcntl(fd: number, cmd: number, arg = 0): number {
  return check('fcntl', libc().fcntl(fd, cmd, arg), `${fd}, ${cmd}`);
}

/** ioctl whose argument is a pointer to an int (TIOCGPTN, TIOCSPTLCK); returns the int. */
export function ioctlIntPtr(fd: number, request: number, value = 0): number {
  const buf = Buffer.alloc(4);
  buf.writeInt32LE(value);
  check('ioctl', libc().ioctlPtr(fd, request, buf), `${fd}, 0x${request.toString(16)}`);
  return buf.readInt32LE();
}

/** ioctl with a caller-filled buffer (TIOCSWINSZ's struct winsize...). */
export function ioctlBuffer(fd: number, request: number, buf: Buffer): void {
  check('ioctl', libc().ioctlPtr(fd, request, buf), `${fd}, 0x${request.toString(16)}`);
}

export function ioctlInt(fd: number, request: number, arg: number): void {
  check('ioctl', libc().ioctlInt(fd, request, arg), `${fd}, 0x${request.toString(16)}`);
}

/**
 * Sets `lo` up in the network namespace the calling thread is in (what the CNI
 * loopback plugin's ADD does), through SIOCGIFFLAGS/SIOCSIFFLAGS on a datagram socket.
 */
export function setLoopbackUp(): void {
  const b = libc();
  const AF_INET = 2;
  const SOCK_DGRAM = 2;
  const SIOCGIFFLAGS = 0x8913;
  const SIOCSIFFLAGS = 0x8914;
  const IFF_UP = 0x1;
  const fd = check('socket', b.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), 'AF_INET, SOCK_DGRAM');
  try {
    const ifreq = Buffer.alloc(40); // struct ifreq: char ifr_name[16], then the union (short ifr_flags)
    ifreq.write('lo', 0);
    check('ioctl', b.ioctlPtr(fd, SIOCGIFFLAGS, ifreq), 'SIOCGIFFLAGS lo');
    ifreq.writeInt16LE(ifreq.readInt16LE(16) | IFF_UP, 16);
    check('ioctl', b.ioctlPtr(fd, SIOCSIFFLAGS, ifreq), 'SIOCSIFFLAGS lo up');
  } finally {
    require('node:fs').closeSync(fd);
  }
}

/** Connects a SOCK_STREAM unix socket to path; returns the fd (close-on-exec). */
export function connectUnix(path: string): number {
  const b = libc();
  const fd = check('socket', b.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  if (Buffer.byteLength(path) > 107) throw new SyscallError('connect', 36, path);
  addr.write(path, 2);
  try {
    check('connect', b.connect(fd, addr, addr.length), path);
  } catch (err) {
    require('node:fs').closeSync(fd);
    throw err;
  }
  return fd;
}

/**
 * A TCP socket connected to the loopback address of whatever network namespace
 * the calling thread is in *when the socket is created*: create it inside a pod's
 * namespace, then connect from anywhere. Blocking connect: loopback answers at once.
 */
export function connectLoopbackTcp(port: number, family: 4 | 6): number {
  const b = libc();
  const AF_INET = 2;
  const AF_INET6 = 10;
  const fd = check('socket', b.socket(family === 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  let addr: Buffer;
  if (family === 4) {
    addr = Buffer.alloc(16);
    addr.writeUInt16LE(AF_INET, 0);
    addr.writeUInt16BE(port, 2);
    addr.writeUInt32BE(0x7f000001, 4);
  } else {
    addr = Buffer.alloc(28);
    addr.writeUInt16LE(AF_INET6, 0);
    addr.writeUInt16BE(port, 2);
    addr[23] = 1; // ::1
  }
  try {
    check('connect', b.connect(fd, addr, addr.length), `${family === 4 ? '127.0.0.1' : '[::1]'}:${port}`);
  } catch (err) {
    require('node:fs').closeSync(fd);
    throw err;
  }
  return fd;
}

/** Sends `fdToSend` over a unix socket with SCM_RIGHTS, `payload` as the data (runc sends the pty name). */
export function sendFd(sock: number, fdToSend: number, payload: string): void {
  const b = libc();
  const data = Buffer.from(payload);
  const iov = Buffer.alloc(16);
  iov.writeBigUInt64LE(b.koffi.address(data), 0);
  iov.writeBigUInt64LE(BigInt(data.length), 8);
  const cmsg = Buffer.alloc(24); // CMSG_SPACE(sizeof(int))
  cmsg.writeBigUInt64LE(20n, 0); // CMSG_LEN(sizeof(int))
  cmsg.writeInt32LE(SOL_SOCKET, 8);
  cmsg.writeInt32LE(SCM_RIGHTS, 12);
  cmsg.writeInt32LE(fdToSend, 16);
  const msg = { msg_name: null, msg_namelen: 0, msg_iov: iov, msg_iovlen: 1, msg_control: cmsg, msg_controllen: cmsg.length, msg_flags: 0 };
  check('sendmsg', b.sendmsg(sock, msg, 0), `fd ${sock}`);
}

/** Replaces the process image. Only returns by throwing. */
export function execve(path: string, argv: string[], envp: string[]): never {
  const b = libc();
  b.execve(path, [...argv, null], [...envp, null]);
  throw new SyscallError('execve', b.koffi.errno(), path);
}

/** Resets every catchable signal (1..31 and the realtime ones) to SIG_DFL and unblocks all. */
export function resetSignals(): void {
  const b = libc();
  for (let sig = 1; sig <= 64; sig++) {
    if (sig === 9 || sig === 19 || sig === 32 || sig === 33) continue; // SIGKILL, SIGSTOP, glibc-internal
    b.signal(sig, null);
  }
  check('sigprocmask', b.sigprocmask(SIG_SETMASK, Buffer.alloc(128), null));
}

export function setrlimit(resource: number, soft: bigint, hard: bigint, name = String(resource)): void {
  const buf = Buffer.alloc(16);
  buf.writeBigUInt64LE(soft, 0);
  buf.writeBigUInt64LE(hard, 8);
  check('setrlimit', libc().prlimit(0, resource, buf, null), name);
}

/** close_range(first, ~0U, flags): with CLOSE_RANGE_CLOEXEC marks instead of closing. */
export function closeRange(first: number, flags: number): void {
  check('close_range', libc().syscall3(SYS.close_range, first, 0xffffffff, flags), String(first));
}

/**
 * Installs a compiled seccomp program (struct sock_filter[], as seccomp_export_bpf
 * writes it) on the calling thread: what seccomp_load does once libseccomp has
 * generated the program, without generating it again.
 */
export function seccompSetFilter(program: Buffer, flags = 0): void {
  if (program.length === 0 || program.length % 8 !== 0 || program.length / 8 > 0xffff) {
    throw new SyscallError('seccomp', 22, `a BPF program of ${program.length} bytes`);
  }
  check('seccomp', libc().seccompSetFilter(SYS.seccomp, SECCOMP_SET_MODE_FILTER, flags, { len: program.length / 8, filter: program }), 'SECCOMP_SET_MODE_FILTER');
}

// Raw credential syscalls: per-thread, unlike glibc's wrappers which broadcast to
// every thread (SIGSETXID). `exec` relies on that: only the spawning thread changes.
export function rawSetgroups(gids: number[]): void {
  const buf = Buffer.alloc(Math.max(4, gids.length * 4));
  gids.forEach((g, i) => buf.writeUInt32LE(g, i * 4));
  check('setgroups', libc().syscallIntPtr(SYS.setgroups, gids.length, buf), gids.join(','));
}

export function rawSetresgid(gid: number): void {
  check('setresgid', libc().syscall3(SYS.setresgid, gid, gid, gid), String(gid));
}

export function rawSetresuid(uid: number): void {
  check('setresuid', libc().syscall3(SYS.setresuid, uid, uid, uid), String(uid));
}

/** Capability sets as 64-bit masks. */
export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

export function capset(sets: CapSets): void {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(0x20080522, 0); // _LINUX_CAPABILITY_VERSION_3
  header.writeInt32LE(0, 4);
  const data = Buffer.alloc(24);
  const lo = (v: bigint) => Number(v & 0xffffffffn);
  const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
  data.writeUInt32LE(lo(sets.effective), 0);
  data.writeUInt32LE(lo(sets.permitted), 4);
  data.writeUInt32LE(lo(sets.inheritable), 8);
  data.writeUInt32LE(hi(sets.effective), 12);
  data.writeUInt32LE(hi(sets.permitted), 16);
  data.writeUInt32LE(hi(sets.inheritable), 20);
  check('capset', libc().syscallPtr2(SYS.capset, header, data));
}

/** The calling thread's id (what v1 `tasks` files take). */
export function gettid(): number {
  return libc().gettid() as number;
}
