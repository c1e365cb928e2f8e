// Unix-socket calls Node cannot make: SOCK_SEQPACKET (conmon's attach socket),
// shutdown() to wake a blocked reader, and receiving a file descriptor
// (SCM_RIGHTS) on a console socket. Blocking calls run on koffi's worker threads
// (`.async`), never on the event loop.
import * as fs from 'node:fs';
import { koffi, loadLibc, errnoError } from './libc-handle';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_SEQPACKET = 5;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const SO_PEERCRED = 17;
const SO_RCVTIMEO = 20;
const SO_SNDTIMEO = 21;
const TIOCSWINSZ = 0x5414;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;

type Fn = ReturnType<ReturnType<typeof loadLibc>['func']>;
let fns: { socket: Fn; connect: Fn; bind: Fn; listen: Fn; accept: Fn; shutdown: Fn; recv: Fn; recvmsg: Fn; ioctl: Fn; getsockopt: Fn; setsockopt: Fn } | undefined;

function libc() {
  if (!fns) {
    const lib = loadLibc();
    koffi().struct('cradle_recv_msghdr', {
      msg_name: 'void *', msg_namelen: 'uint32', msg_iov: 'void *', msg_iovlen: 'size_t',
      msg_control: 'void *', msg_controllen: 'size_t', msg_flags: 'int',
    });
    fns = {
      socket: lib.func('int socket(int, int, int)'),
      connect: lib.func('int connect(int, const void *, uint32_t)'),
      bind: lib.func('int bind(int, const void *, uint32_t)'),
      listen: lib.func('int listen(int, int)'),
      accept: lib.func('int accept4(int, void *, void *, int)'),
      shutdown: lib.func('int shutdown(int, int)'),
      recv: lib.func('long recv(int, void *, size_t, int)'),
      recvmsg: lib.func('long recvmsg(int, cradle_recv_msghdr *, int)'),
      ioctl: lib.func('ioctl', 'int', ['int', 'unsigned long', 'void *']),
      getsockopt: lib.func('int getsockopt(int, int, int, void *, void *)'),
      setsockopt: lib.func('int setsockopt(int, int, int, const void *, uint32_t)'),
    };
  }
  return fns;
}

function sockaddr(path: string): Buffer {
  if (Buffer.byteLength(path) > 107) throw errnoError(36, 'sockaddr_un', path);
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  addr.write(path, 2);
  return addr;
}

/** Connects a SOCK_SEQPACKET unix socket (blocking; local sockets answer at once). */
export function connectSeqpacket(path: string): number {
  const c = libc();
  const fd = c.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0) as number;
  if (fd < 0) throw errnoError(koffi().errno(), 'socket');
  const addr = sockaddr(path);
  if ((c.connect(fd, addr, addr.length) as number) < 0) {
    const errno = koffi().errno();
    fs.closeSync(fd);
    throw errnoError(errno, 'connect', path);
  }
  return fd;
}

/**
 * One packet (a datagram of a SEQPACKET socket) into `buffer` without waiting:
 * its length, 0 at end of file, or undefined when none is there yet (see
 * fd-poller.ts for waiting). Other errors throw.
 */
export function receiveNow(fd: number, buffer: Buffer): number | undefined {
  const n = Number(libc().recv(fd, buffer, buffer.length, MSG_DONTWAIT) as number | bigint);
  if (n >= 0) return n;
  const errno = koffi().errno();
  if (errno === EAGAIN) return undefined;
  throw errnoError(errno, 'recv');
}

export function shutdownSocket(fd: number, how: number): void {
  libc().shutdown(fd, how);
}

/** A listening SOCK_STREAM unix socket (for --console-socket). */
export function listenUnix(path: string): number {
  const c = libc();
  const fd = c.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) as number;
  if (fd < 0) throw errnoError(koffi().errno(), 'socket');
  const addr = sockaddr(path);
  if ((c.bind(fd, addr, addr.length) as number) < 0 || (c.listen(fd, 1) as number) < 0) {
    const errno = koffi().errno();
    fs.closeSync(fd);
    throw errnoError(errno, 'bind/listen', path);
  }
  return fd;
}

/** Accepts one connection (on a worker thread). */
export function acceptAsync(fd: number): Promise<number> {
  return new Promise((resolve, reject) => {
    libc().accept.async(fd, null, null, SOCK_CLOEXEC, (err: unknown, res: number) => {
      if (err) reject(err as Error);
      else if (res < 0) reject(errnoError(koffi().errno(), 'accept'));
      else resolve(res);
    });
  });
}

/** Receives one file descriptor sent with SCM_RIGHTS (on a worker thread). */
export function receiveFdAsync(fd: number): Promise<number> {
  const data = Buffer.alloc(4096);
  const iov = Buffer.alloc(16);
  const control = Buffer.alloc(64);
  iov.writeBigUInt64LE(koffi().address(data), 0);
  iov.writeBigUInt64LE(BigInt(data.length), 8);
  const msg = { msg_name: null, msg_namelen: 0, msg_iov: iov, msg_iovlen: 1, msg_control: control, msg_controllen: control.length, msg_flags: 0 };
  return new Promise((resolve, reject) => {
    libc().recvmsg.async(fd, msg, 0, (err: unknown, res: number | bigint) => {
      if (err) return reject(err as Error);
      if (Number(res) < 0) return reject(errnoError(koffi().errno(), 'recvmsg'));
      // struct cmsghdr { size_t len; int level; int type; int fd; }
      const level = control.readInt32LE(8);
      const type = control.readInt32LE(12);
      if (level !== SOL_SOCKET || type !== SCM_RIGHTS) return reject(new Error('console socket: no file descriptor received'));
      resolve(control.readInt32LE(16));
    });
  });
}

/** Sets a terminal's size (TIOCSWINSZ on the pty master). */
export function setWindowSize(fd: number, rows: number, cols: number): void {
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(rows, 0);
  ws.writeUInt16LE(cols, 2);
  libc().ioctl(fd, TIOCSWINSZ, ws);
}

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** The credentials of a connected unix socket's peer, as they were at connect (SO_PEERCRED). */
export function peerCredentials(fd: number): PeerCredentials {
  const ucred = Buffer.alloc(12);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(ucred.length, 0);
  if ((libc().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ucred, length) as number) < 0) throw errnoError(koffi().errno(), 'getsockopt(SO_PEERCRED)');
  return { pid: ucred.readInt32LE(0), uid: ucred.readUInt32LE(4), gid: ucred.readUInt32LE(8) };
}

/**
 * Bounds each blocking read and write on a socket (SO_RCVTIMEO, SO_SNDTIMEO): past
 * it the call fails with EAGAIN instead of waiting for a peer that never answers.
 */
export function setSocketTimeout(fd: number, ms: number): void {
  const timeval = Buffer.alloc(16);
  timeval.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0);
  timeval.writeBigInt64LE(BigInt((ms % 1000) * 1000), 8);
  for (const [option, name] of [[SO_RCVTIMEO, 'SO_RCVTIMEO'], [SO_SNDTIMEO, 'SO_SNDTIMEO']] as const) {
    if ((libc().setsockopt(fd, SOL_SOCKET, option, timeval, timeval.length) as number) < 0) throw errnoError(koffi().errno(), `setsockopt(${name})`);
  }
}
