// A minimal, synchronous D-Bus client for the systemd cgroup driver: method calls
// on a blocking unix socket, EXTERNAL authentication, the little-endian wire format
// for the basic types, strings, arrays, structs, dict entries and variants. No fd
// passing, no signals, no introspection. Synchronous because the runtime's cgroup
// managers are (the D-Bus npm clients are asynchronous only), and a call to systemd
// answers at once.
import * as fs from 'node:fs';
import { connectUnix } from './libc';
import { setSocketTimeout } from './unix-socket';

/** How long a call waits for its reply (libdbus's default): a hung peer fails the call instead of the caller. */
export const DEFAULT_CALL_TIMEOUT_MS = 25_000;

/** A value of a signature: numbers (64-bit ones as bigint), strings, booleans, arrays (also of struct fields), variants. */
export type DBusValue = number | bigint | string | boolean | DBusValue[] | Variant;
export interface Variant {
  signature: string;
  value: DBusValue;
}
export const variant = (signature: string, value: DBusValue): Variant => ({ signature, value });

/** An error reply: name as org.freedesktop.systemd1.NoSuchUnit, message from its body. */
export class DBusError extends Error {
  constructor(override readonly name: string, message: string) {
    super(`${name}: ${message}`);
  }
}

const ALIGN: Record<string, number> = { y: 1, g: 1, v: 1, n: 2, q: 2, b: 4, i: 4, u: 4, h: 4, s: 4, o: 4, a: 4, x: 8, t: 8, d: 8, '(': 8, '{': 8 };

/** The end (exclusive) of the single complete type starting at sig[i]. */
function typeEnd(sig: string, i: number): number {
  const c = sig[i];
  if (c === 'a') return typeEnd(sig, i + 1);
  if (c === '(' || c === '{') {
    const close = c === '(' ? ')' : '}';
    let j = i + 1;
    while (sig[j] !== close) {
      if (j >= sig.length) throw new Error(`D-Bus signature ${JSON.stringify(sig)}: unclosed ${c}`);
      j = typeEnd(sig, j);
    }
    return j + 1;
  }
  if (c === undefined || ALIGN[c] === undefined) throw new Error(`D-Bus signature ${JSON.stringify(sig)}: unsupported type at ${i}`);
  return i + 1;
}

/** The complete types of a signature: "sa(sv)" → ["s", "a(sv)"]. */
export function splitSignature(sig: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < sig.length;) {
    const end = typeEnd(sig, i);
    out.push(sig.slice(i, end));
    i = end;
  }
  return out;
}

class Writer {
  private buf = Buffer.alloc(256);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
  }
  align(n: number): void {
    const pad = (n - (this.length % n)) % n;
    this.room(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }
  bytes(b: Buffer): void {
    this.room(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }
  u8(v: number): void { this.room(1); this.buf.writeUInt8(v, this.length); this.length += 1; }
  u32(v: number): void { this.align(4); this.room(4); this.buf.writeUInt32LE(v, this.length); this.length += 4; }
  patchU32(at: number, v: number): void { this.buf.writeUInt32LE(v, at); }
  result(): Buffer { return this.buf.subarray(0, this.length); }

  value(type: string, v: DBusValue): void {
    const c = type[0]!;
    switch (c) {
      case 'y': this.u8(Number(v)); return;
      case 'b': this.u32(v ? 1 : 0); return;
      case 'n': case 'q': {
        this.align(2); this.room(2);
        if (c === 'n') this.buf.writeInt16LE(Number(v), this.length); else this.buf.writeUInt16LE(Number(v), this.length);
        this.length += 2; return;
      }
      case 'i': case 'u': case 'h': {
        this.align(4); this.room(4);
        if (c === 'i') this.buf.writeInt32LE(Number(v), this.length); else this.buf.writeUInt32LE(Number(v), this.length);
        this.length += 4; return;
      }
      case 'x': case 't': case 'd': {
        this.align(8); this.room(8);
        if (c === 'd') this.buf.writeDoubleLE(Number(v), this.length);
        else if (c === 'x') this.buf.writeBigInt64LE(BigInt(v as number | bigint), this.length);
        else this.buf.writeBigUInt64LE(BigInt(v as number | bigint), this.length);
        this.length += 8; return;
      }
      case 's': case 'o': {
        const b = Buffer.from(String(v));
        this.u32(b.length); this.bytes(b); this.u8(0); return;
      }
      case 'g': {
        const b = Buffer.from(String(v));
        this.u8(b.length); this.bytes(b); this.u8(0); return;
      }
      case 'v': {
        const inner = v as Variant;
        this.value('g', inner.signature);
        this.value(inner.signature, inner.value);
        return;
      }
      case 'a': {
        const element = type.slice(1);
        this.u32(0);
        const lengthAt = this.length - 4;
        this.align(ALIGN[element[0]!]!);
        const start = this.length;
        for (const e of v as DBusValue[]) this.value(element, e);
        this.patchU32(lengthAt, this.length - start);
        return;
      }
      case '(': case '{': {
        this.align(8);
        const fields = splitSignature(type.slice(1, -1));
        const values = v as DBusValue[];
        if (values.length !== fields.length) throw new Error(`D-Bus struct ${type}: ${values.length} values for ${fields.length} fields`);
        fields.forEach((f, i) => this.value(f, values[i]!));
        return;
      }
    }
    throw new Error(`D-Bus type ${type} is not supported`);
  }
}

class Reader {
  offset = 0;
  constructor(private readonly buf: Buffer) {}

  private align(n: number): void { this.offset += (n - (this.offset % n)) % n; }
  private need(n: number): void {
    if (this.offset + n > this.buf.length) throw new Error('D-Bus message truncated');
  }

  value(type: string): DBusValue {
    const c = type[0]!;
    this.align(ALIGN[c] ?? 1);
    const b = this.buf;
    switch (c) {
      case 'y': this.need(1); return b.readUInt8(this.offset++);
      case 'b': this.need(4); this.offset += 4; return b.readUInt32LE(this.offset - 4) !== 0;
      case 'n': this.need(2); this.offset += 2; return b.readInt16LE(this.offset - 2);
      case 'q': this.need(2); this.offset += 2; return b.readUInt16LE(this.offset - 2);
      case 'i': this.need(4); this.offset += 4; return b.readInt32LE(this.offset - 4);
      case 'u': case 'h': this.need(4); this.offset += 4; return b.readUInt32LE(this.offset - 4);
      case 'x': this.need(8); this.offset += 8; return b.readBigInt64LE(this.offset - 8);
      case 't': this.need(8); this.offset += 8; return b.readBigUInt64LE(this.offset - 8);
      case 'd': this.need(8); this.offset += 8; return b.readDoubleLE(this.offset - 8);
      case 's': case 'o': case 'g': {
        // s and o: u32 length; g: one byte. Then the bytes and a nul.
        const lengthBytes = c === 'g' ? 1 : 4;
        this.need(lengthBytes);
        const n = c === 'g' ? b.readUInt8(this.offset) : b.readUInt32LE(this.offset);
        const start = this.offset + lengthBytes;
        this.need(lengthBytes + n + 1);
        this.offset = start + n + 1;
        return b.toString('utf8', start, start + n);
      }
      case 'v': {
        const signature = this.value('g') as string;
        return { signature, value: this.value(signature) };
      }
      case 'a': {
        this.need(4);
        const n = b.readUInt32LE(this.offset);
        this.offset += 4;
        const element = type.slice(1);
        this.align(ALIGN[element[0]!]!);
        const end = this.offset + n;
        if (end > b.length) throw new Error('D-Bus message truncated');
        const out: DBusValue[] = [];
        while (this.offset < end) out.push(this.value(element));
        return out;
      }
      case '(': case '{':
        return splitSignature(type.slice(1, -1)).map((f) => this.value(f));
    }
    throw new Error(`D-Bus type ${type} is not supported`);
  }
}

const enum MessageType { MethodCall = 1, MethodReturn = 2, Error = 3, Signal = 4 }
const enum Field { Path = 1, Interface = 2, Member = 3, ErrorName = 4, ReplySerial = 5, Destination = 6, Signature = 8 }

export interface MethodCall {
  destination?: string;
  path: string;
  interface: string;
  member: string;
  signature?: string;
  body?: DBusValue[];
}

/** Encodes a method call (exposed for unit tests). */
export function encodeMethodCall(serial: number, call: MethodCall): Buffer {
  const body = new Writer();
  const types = splitSignature(call.signature ?? '');
  const values = call.body ?? [];
  if (values.length !== types.length) throw new Error(`D-Bus ${call.member}: ${values.length} arguments for signature ${call.signature ?? ''}`);
  types.forEach((t, i) => body.value(t, values[i]!));

  const fields: DBusValue[] = [
    [Field.Path, variant('o', call.path)],
    [Field.Interface, variant('s', call.interface)],
    [Field.Member, variant('s', call.member)],
  ];
  if (call.destination) fields.push([Field.Destination, variant('s', call.destination)]);
  if (call.signature) fields.push([Field.Signature, variant('g', call.signature)]);
  const header = new Writer();
  header.u8('l'.charCodeAt(0));
  header.u8(MessageType.MethodCall);
  header.u8(0);
  header.u8(1);
  header.u32(body.length);
  header.u32(serial);
  header.value('a(yv)', fields);
  header.align(8);
  return Buffer.concat([header.result(), body.result()]);
}

export interface Message {
  type: number;
  serial: number;
  fields: Map<number, DBusValue>;
  body: DBusValue[];
}

/** Length of the message at the start of buf, or undefined when its fixed header is not all there. */
export function messageLength(buf: Buffer): number | undefined {
  if (buf.length < 16) return undefined;
  if (buf[0] !== 'l'.charCodeAt(0)) throw new Error('D-Bus: only little-endian messages are supported');
  const fieldsLength = buf.readUInt32LE(12);
  const headerLength = 16 + fieldsLength + ((8 - ((16 + fieldsLength) % 8)) % 8);
  return headerLength + buf.readUInt32LE(4);
}

/** Decodes one complete message (exposed for unit tests). */
export function decodeMessage(buf: Buffer): Message {
  const r = new Reader(buf);
  r.offset = 12;
  const fields = new Map<number, DBusValue>();
  for (const f of r.value('a(yv)') as DBusValue[][]) fields.set(f[0] as number, (f[1] as Variant).value);
  r.offset += (8 - (r.offset % 8)) % 8;
  const bodyReader = new Reader(buf.subarray(r.offset));
  const signature = (fields.get(Field.Signature) as string | undefined) ?? '';
  return { type: buf[1]!, serial: buf.readUInt32LE(8), fields, body: splitSignature(signature).map((t) => bodyReader.value(t)) };
}

/** A connection to a bus (or to systemd's private socket, a direct connection that needs no Hello). */
export class DBusConnection {
  private serial = 0;
  private pending = Buffer.alloc(0);

  private constructor(private readonly fd: number, private readonly timeoutMs: number) {}

  /** Connects and authenticates as this process's uid; bus: true sends the Hello a message bus requires. */
  static open(socketPath: string, bus: boolean, timeoutMs = DEFAULT_CALL_TIMEOUT_MS): DBusConnection {
    const conn = new DBusConnection(connectUnix(socketPath), timeoutMs);
    try {
      setSocketTimeout(conn.fd, timeoutMs);
      conn.authenticate();
      if (bus) conn.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'Hello' });
    } catch (err) {
      conn.close();
      throw new Error(`D-Bus ${socketPath}: ${(err as Error).message}`);
    }
    return conn;
  }

  private authenticate(): void {
    const uid = Buffer.from(String(process.getuid?.() ?? 0)).toString('hex');
    this.write(Buffer.from(`\0AUTH EXTERNAL ${uid}\r\n`));
    let line = '';
    while (!line.includes('\r\n')) line += this.readSome().toString('latin1');
    if (!line.startsWith('OK ')) throw new Error(`authentication refused: ${line.trim()}`);
    this.write(Buffer.from('BEGIN\r\n'));
  }

  private write(b: Buffer): void {
    for (let off = 0; off < b.length;) off += fs.writeSync(this.fd, b, off);
  }

  private readSome(): Buffer {
    const chunk = Buffer.alloc(65536);
    let n: number;
    try {
      n = fs.readSync(this.fd, chunk, 0, chunk.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') throw new Error(`no reply within ${this.timeoutMs} ms`);
      throw err;
    }
    if (n === 0) throw new Error('connection closed by the peer');
    return chunk.subarray(0, n);
  }

  private readMessage(): Message {
    for (;;) {
      const length = messageLength(this.pending);
      if (length !== undefined && this.pending.length >= length) {
        const message = decodeMessage(this.pending.subarray(0, length));
        this.pending = this.pending.subarray(length);
        return message;
      }
      this.pending = Buffer.concat([this.pending, this.readSome()]);
    }
  }

  /** Calls a method and returns its reply's body; an error reply throws DBusError. */
  call(call: MethodCall): DBusValue[] {
    const serial = ++this.serial;
    this.write(encodeMethodCall(serial, call));
    for (;;) {
      const reply = this.readMessage();
      if (reply.fields.get(Field.ReplySerial) !== serial) continue; // signals, other replies
      if (reply.type === MessageType.Error) {
        throw new DBusError(String(reply.fields.get(Field.ErrorName)), typeof reply.body[0] === 'string' ? reply.body[0] : '');
      }
      if (reply.type === MessageType.MethodReturn) return reply.body;
    }
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
