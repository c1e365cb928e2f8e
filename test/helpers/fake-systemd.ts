// A stand-in for systemd's private socket, for hosts where systemd is not PID 1: it
// speaks the D-Bus wire protocol (EXTERNAL authentication, little-endian messages)
// and answers the Manager calls of the systemd cgroup driver's create as systemd
// does: StartTransientUnit makes the scope's cgroup under a real cgroup2 mount and
// moves the given pids into it, SetUnitProperties is taken, StopUnit removes the scope. Each call is recorded; a test
// may have a call answered with an error reply instead.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { decodeMessage, messageLength, type Message, type Variant } from '../../src/sys/dbus';
import { expandSlice } from '../../src/common/systemd-units';

export interface RecordedCall {
  member: string;
  body: Message['body'];
}

/** A D-Bus reply: a method return with one object path, or an error with its text. */
function encodeReply(serial: number, replySerial: number, error?: { name: string; text: string }): Buffer {
  const bytes: number[] = [];
  const align = (n: number) => { while (bytes.length % n !== 0) bytes.push(0); };
  const u32 = (v: number) => { align(4); bytes.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff); };
  const str = (s: string) => { const b = Buffer.from(s); u32(b.length); bytes.push(...b, 0); };
  const sig = (s: string) => { bytes.push(s.length, ...Buffer.from(s), 0); };
  const body = error ? error.text : '/org/freedesktop/systemd1/job/1';
  bytes.push('l'.charCodeAt(0), error ? 3 : 2, 0, 1);
  u32(0); // body length, below
  u32(serial);
  u32(0); // header fields length, below
  const fieldsStart = bytes.length;
  const field = (code: number, type: string, write: () => void) => { align(8); bytes.push(code); sig(type); write(); };
  field(5, 'u', () => u32(replySerial));
  if (error) field(4, 's', () => str(error.name));
  field(8, 'g', () => sig(error ? 's' : 'o'));
  const fieldsLength = bytes.length - fieldsStart;
  align(8);
  const bodyStart = bytes.length;
  str(body);
  const out = Buffer.from(bytes);
  out.writeUInt32LE(out.length - bodyStart, 4);
  out.writeUInt32LE(fieldsLength, 12);
  return out;
}

export class FakeSystemd {
  readonly calls: RecordedCall[] = [];
  /** An error reply for the next call of a member, once. */
  readonly failNext = new Map<string, { name: string; text: string }>();
  private readonly server: net.Server;
  private serial = 0;

  private constructor(readonly socket: string, readonly cgroupRoot: string) {
    this.server = net.createServer((conn) => this.serve(conn));
  }

  static async start(socket: string, cgroupRoot: string): Promise<FakeSystemd> {
    fs.rmSync(socket, { force: true });
    const fake = new FakeSystemd(socket, cgroupRoot);
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject);
      fake.server.listen(socket, resolve);
    });
    return fake;
  }

  /** The scope's cgroup directory, as systemd lays units out. */
  scopeDir(slice: string, unit: string): string {
    return path.join(this.cgroupRoot, expandSlice(slice), unit);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.socket, { force: true });
  }

  private serve(conn: net.Socket): void {
    let authenticated = false;
    let pending = Buffer.alloc(0);
    conn.on('error', () => undefined);
    conn.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (!authenticated) {
        const end = pending.indexOf('\r\n');
        if (end < 0) return;
        const line = pending.subarray(0, end).toString('latin1').replace(/^\0/, '');
        pending = pending.subarray(end + 2);
        if (line.startsWith('AUTH EXTERNAL ')) conn.write('OK 0123456789abcdef0123456789abcdef\r\n');
        else if (line === 'BEGIN') authenticated = true;
        else conn.write('ERROR\r\n');
      }
      for (;;) {
        const length = messageLength(pending);
        if (length === undefined || pending.length < length) return;
        const message = decodeMessage(pending.subarray(0, length));
        pending = pending.subarray(length);
        conn.write(this.answer(message));
      }
    });
  }

  private answer(message: Message): Buffer {
    const member = String(message.fields.get(3));
    this.calls.push({ member, body: message.body });
    const failure = this.failNext.get(member);
    if (failure) {
      this.failNext.delete(member);
      return encodeReply(++this.serial, message.serial, failure);
    }
    if (member === 'StartTransientUnit') {
      const [unit, , props] = message.body as [string, string, [string, Variant][]];
      const prop = (key: string) => props.find((p) => p[0] === key)?.[1].value;
      const dir = this.scopeDir(String(prop('Slice')), unit);
      fs.mkdirSync(dir, { recursive: true });
      for (const pid of prop('PIDs') as number[]) fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
      return encodeReply(++this.serial, message.serial);
    }
    if (member === 'SetUnitProperties') return encodeReply(++this.serial, message.serial);
    if (member === 'StopUnit') {
      const [unit] = message.body as [string];
      const dir = this.findScope(unit);
      if (!dir) return encodeReply(++this.serial, message.serial, { name: 'org.freedesktop.systemd1.NoSuchUnit', text: `Unit ${unit} not loaded.` });
      fs.rmdirSync(dir);
      return encodeReply(++this.serial, message.serial);
    }
    return encodeReply(++this.serial, message.serial, { name: 'org.freedesktop.DBus.Error.UnknownMethod', text: `${member} is not faked` });
  }

  private findScope(unit: string): string | undefined {
    for (const call of this.calls) {
      if (call.member !== 'StartTransientUnit' || call.body[0] !== unit) continue;
      const props = call.body[2] as [string, Variant][];
      const dir = this.scopeDir(String(props.find((p) => p[0] === 'Slice')?.[1].value), unit);
      if (fs.existsSync(dir)) return dir;
    }
    return undefined;
  }
}
