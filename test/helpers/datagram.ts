// A unix datagram listener for tests (sd_notify's $NOTIFY_SOCKET). Node's dgram
// has no unix sockets, so it binds through libc with koffi and polls non-blocking.
import koffi from 'koffi';
import * as fs from 'node:fs';
import { sockaddrUn } from '../../src/sys/sd-notify';

const lib = koffi.load('libc.so.6');
const socket = lib.func('int socket(int, int, int)');
const bind = lib.func('int bind(int, const void *, uint32_t)');
const recv = lib.func('long recv(int, _Out_ uint8_t *buf, size_t, int)');
const close = lib.func('int close(int)');
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;

export class DatagramListener {
  private readonly fd: number;

  constructor(readonly path: string) {
    fs.rmSync(path, { force: true });
    this.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) as number;
    if (this.fd < 0) throw new Error(`socket: errno ${koffi.errno()}`);
    const addr = sockaddrUn(path);
    if ((bind(this.fd, addr, addr.length) as number) < 0) throw new Error(`bind ${path}: errno ${koffi.errno()}`);
  }

  async receive(timeoutMs: number): Promise<string> {
    const buf = Buffer.alloc(4096);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const n = recv(this.fd, buf, buf.length, MSG_DONTWAIT) as number;
      if (n >= 0) return buf.subarray(0, n).toString();
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no datagram on ${this.path} within ${timeoutMs} ms`);
  }

  close(): void {
    close(this.fd);
    fs.rmSync(this.path, { force: true });
  }
}
