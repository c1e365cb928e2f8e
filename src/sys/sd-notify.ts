// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. Node's dgram
// module has no unix datagram sockets, so the send goes through libc via koffi.
import { koffi, loadLibc } from './libc-handle';

let bound: { socket: (d: number, t: number, p: number) => number; sendto: (fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number) => number; close: (fd: number) => number } | undefined;

function libc() {
  if (!bound) {
    const lib = loadLibc();
    bound = {
      socket: lib.func('int socket(int domain, int type, int protocol)'),
      sendto: lib.func('long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)'),
      close: lib.func('int close(int fd)'),
    };
  }
  return bound;
}

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SUN_PATH_MAX = 108;

/** Encodes a struct sockaddr_un; a leading "@" means the abstract namespace. */
export function sockaddrUn(socketPath: string): Buffer {
  const pathBytes = Buffer.from(socketPath.startsWith('@') ? `\0${socketPath.slice(1)}` : socketPath);
  if (pathBytes.length >= SUN_PATH_MAX) throw new Error(`socket path too long: ${socketPath}`);
  const addr = Buffer.alloc(2 + pathBytes.length + (socketPath.startsWith('@') ? 0 : 1));
  addr.writeUInt16LE(AF_UNIX, 0);
  pathBytes.copy(addr, 2);
  return addr;
}

/**
 * Sends state (e.g. "READY=1") to the service manager. Returns false when
 * NOTIFY_SOCKET is unset; throws with errno when the send fails.
 */
export function sdNotify(state: string, socketPath: string | undefined = process.env.NOTIFY_SOCKET): boolean {
  if (!socketPath) return false;
  const c = libc();
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`sd_notify: socket: errno ${koffi().errno()}`);
  try {
    const message = Buffer.from(state);
    const addr = sockaddrUn(socketPath);
    if (c.sendto(fd, message, message.length, 0, addr, addr.length) < 0) {
      throw new Error(`sd_notify: sendto ${socketPath}: errno ${koffi().errno()}`);
    }
  } finally {
    c.close(fd);
  }
  return true;
}
