// Readiness of file descriptors Node cannot wrap in a stream (conmon's SOCK_SEQPACKET
// attach socket): one epoll set, waited on by a single blocking epoll_wait on koffi's
// worker thread while anyone waits, so any number of attach sessions hold one thread
// between them instead of one blocking read each. Each wait arms its fd once
// (EPOLLONESHOT): an fd whose reader is busy elsewhere does not wake the loop.
import { koffi, loadLibc, errnoError } from './libc-handle';

const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
const EPOLLIN = 0x001;
const EPOLLERR = 0x008;
const EPOLLHUP = 0x010;
const EPOLLRDHUP = 0x2000;
const EPOLLONESHOT = 1 << 30;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const RETRY_MS = 100;
const MAX_EVENTS = 16;
/** struct epoll_event is packed on x86-64 (events, then data at offset 4), naturally aligned elsewhere (data at 8). */
const EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
const DATA_OFFSET = process.arch === 'x64' ? 4 : 8;

type Fn = ReturnType<ReturnType<typeof loadLibc>['func']>;
let fns: { epollCreate: Fn; epollCtl: Fn; epollWait: Fn; eventfd: Fn; write: Fn; read: Fn } | undefined;

function libc() {
  if (!fns) {
    const lib = loadLibc();
    fns = {
      epollCreate: lib.func('int epoll_create1(int)'),
      epollCtl: lib.func('int epoll_ctl(int, int, int, void *)'),
      epollWait: lib.func('int epoll_wait(int, void *, int, int)'),
      eventfd: lib.func('int eventfd(unsigned int, int)'),
      write: lib.func('long write(int, const void *, size_t)'),
      read: lib.func('long read(int, void *, size_t)'),
    };
  }
  return fns;
}

function event(events: number, fd: number): Buffer {
  const buffer = Buffer.alloc(EVENT_SIZE);
  buffer.writeUInt32LE(events >>> 0, 0);
  buffer.writeInt32LE(fd, DATA_OFFSET);
  return buffer;
}

export class FdPoller {
  private readonly epfd: number;
  private readonly wakeFd: number;
  /** fd → the wait for it to become readable. */
  private readonly waiters = new Map<number, () => void>();
  /** fds in the epoll set (armed or not). */
  private readonly registered = new Set<number>();
  private waiting = false;
  private readonly events = Buffer.alloc(EVENT_SIZE * MAX_EVENTS);

  constructor() {
    const c = libc();
    this.epfd = c.epollCreate(EPOLL_CLOEXEC) as number;
    if (this.epfd < 0) throw errnoError(koffi().errno(), 'epoll_create1');
    this.wakeFd = c.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) as number;
    if (this.wakeFd < 0) throw errnoError(koffi().errno(), 'eventfd');
    this.control(EPOLL_CTL_ADD, this.wakeFd, EPOLLIN);
  }

  /** Resolves once `fd` has data, end of file or an error to read (a read then does not block). */
  readable(fd: number): Promise<void> {
    if (this.waiters.has(fd)) return Promise.reject(new Error(`fd ${fd} already has a reader waiting`));
    return new Promise((resolve, reject) => {
      try {
        const events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
        if (this.registered.has(fd)) this.control(EPOLL_CTL_MOD, fd, events);
        else this.control(EPOLL_CTL_ADD, fd, events);
        this.registered.add(fd);
      } catch (err) {
        reject(err as Error);
        return;
      }
      this.waiters.set(fd, resolve);
      this.wait();
    });
  }

  /** Takes `fd` out of the set (before it is closed); a wait for it resolves. */
  forget(fd: number): void {
    const waiter = this.waiters.get(fd);
    this.waiters.delete(fd);
    if (this.registered.delete(fd)) {
      try {
        this.control(EPOLL_CTL_DEL, fd, 0);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    waiter?.();
    // Nobody left: let the blocked epoll_wait return so its thread is free again.
    if (this.waiters.size === 0 && this.waiting) this.wake();
  }

  /** Threads held now: 1 while some fd is waited for, else 0. */
  get threads(): number {
    return this.waiting ? 1 : 0;
  }

  private control(op: number, fd: number, events: number): void {
    if ((libc().epollCtl(this.epfd, op, fd, event(events, fd)) as number) < 0) throw errnoError(koffi().errno(), 'epoll_ctl');
  }

  private wake(): void {
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n, 0);
    libc().write(this.wakeFd, one, 8);
  }

  private wait(): void {
    if (this.waiting || this.waiters.size === 0) return;
    this.waiting = true;
    libc().epollWait.async(this.epfd, this.events, MAX_EVENTS, -1, (err: unknown, count: number) => {
      this.waiting = false;
      if (err || count < 0) {
        // Interrupted, or the set failed: every waiter tries its read (and waits again
        // if there is nothing), a little later so that a broken set does not spin.
        setTimeout(() => {
          for (const fd of [...this.waiters.keys()]) this.ready(fd);
          this.wait();
        }, RETRY_MS);
        return;
      }
      for (let i = 0; i < count; i++) {
        const fd = this.events.readInt32LE(i * EVENT_SIZE + DATA_OFFSET);
        const mask = this.events.readUInt32LE(i * EVENT_SIZE);
        if (fd === this.wakeFd) {
          libc().read(this.wakeFd, Buffer.alloc(8), 8);
          continue;
        }
        if (mask & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) this.ready(fd);
      }
      this.wait();
    });
  }

  private ready(fd: number): void {
    const waiter = this.waiters.get(fd);
    this.waiters.delete(fd);
    waiter?.();
  }
}

let shared: FdPoller | undefined;

/** The daemon's one poller (made at the first attach). */
export function fdPoller(): FdPoller {
  shared ??= new FdPoller();
  return shared;
}
