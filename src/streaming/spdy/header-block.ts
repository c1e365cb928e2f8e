// SPDY/3 name/value header blocks and their compression. Each direction of a
// session is ONE continuous zlib stream primed with the SPDY dictionary; every
// header block ends at a sync-flush point, so its bytes can be inflated as soon
// as its frame arrives, but only in order and with the context of all earlier blocks.
import zlib from 'node:zlib';
import { SPDY3_HEADER_DICTIONARY } from './dictionary';
import { SpdyFrameError } from './frames';

/** Header names are lowercase; a value with several parts joins them with NUL, as on the wire. */
export type SpdyHeaders = Record<string, string>;

/** Largest decompressed header block accepted (protects against zlib bombs). */
export const MAX_HEADER_BLOCK_BYTES = 256 * 1024;

export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const entries = Object.entries(headers);
  const parts: Buffer[] = [];
  const count = Buffer.allocUnsafe(4);
  count.writeUInt32BE(entries.length);
  parts.push(count);
  for (const [name, value] of entries) {
    for (const text of [name.toLowerCase(), value]) {
      const bytes = Buffer.from(text, 'utf8');
      const len = Buffer.allocUnsafe(4);
      len.writeUInt32BE(bytes.length);
      parts.push(len, bytes);
    }
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(block: Buffer, streamId = 0): SpdyHeaders {
  const headers: SpdyHeaders = {};
  if (block.length === 0) return headers;
  let offset = 0;
  const readU32 = (what: string): number => {
    if (offset + 4 > block.length) throw new SpdyFrameError(`header block truncated reading ${what}`, streamId);
    const v = block.readUInt32BE(offset);
    offset += 4;
    return v;
  };
  const readString = (what: string): string => {
    const len = readU32(`the length of ${what}`);
    if (offset + len > block.length) throw new SpdyFrameError(`header block truncated reading ${what}`, streamId);
    const s = block.toString('utf8', offset, offset + len);
    offset += len;
    return s;
  };
  const count = readU32('the number of headers');
  for (let i = 0; i < count; i++) {
    const name = readString('a header name');
    if (name.length === 0) throw new SpdyFrameError('header block has an empty header name', streamId);
    if (name !== name.toLowerCase()) throw new SpdyFrameError(`header name ${JSON.stringify(name)} is not lowercase`, streamId);
    if (Object.hasOwn(headers, name)) throw new SpdyFrameError(`header ${JSON.stringify(name)} appears twice`, streamId);
    headers[name] = readString(`the value of header ${name}`);
  }
  if (offset !== block.length) throw new SpdyFrameError(`header block has ${block.length - offset} trailing bytes`, streamId);
  return headers;
}

function adler32(data: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

const EMPTY_STORED_BLOCK = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);

/**
 * Our outgoing zlib stream. It is made of stored (uncompressed) deflate blocks,
 * which every inflater accepts and which need no compression context: our header
 * blocks are tiny, and this keeps frame encoding synchronous.
 */
export class HeaderCompressor {
  private started = false;

  compress(block: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.started) {
      this.started = true;
      // CMF: deflate, 32 KiB window. FLG: FDICT set, FCHECK makes the pair a multiple of 31.
      const cmf = 0x78;
      const flgBase = 0x20;
      const flg = flgBase + ((31 - ((cmf * 256 + flgBase) % 31)) % 31);
      const head = Buffer.allocUnsafe(6);
      head.writeUInt8(cmf, 0);
      head.writeUInt8(flg, 1);
      head.writeUInt32BE(adler32(SPDY3_HEADER_DICTIONARY), 2);
      parts.push(head);
    }
    let offset = 0;
    do {
      const len = Math.min(0xffff, block.length - offset);
      const stored = Buffer.allocUnsafe(5);
      stored.writeUInt8(0, 0); // BFINAL=0, BTYPE=00 (stored), padding to the byte boundary
      stored.writeUInt16LE(len, 1);
      stored.writeUInt16LE(~len & 0xffff, 3);
      parts.push(stored, block.subarray(offset, offset + len));
      offset += len;
    } while (offset < block.length);
    // End like a zlib SYNC_FLUSH, with an empty stored block: inflaters (Go's
    // compress/flate) hand out buffered output at that marker, and would
    // otherwise read on into the next frame looking for the next block.
    parts.push(EMPTY_STORED_BLOCK);
    return Buffer.concat(parts);
  }
}

/** The peer's incoming zlib stream: header blocks must be passed in arrival order. */
export class HeaderDecompressor {
  private readonly inflate: zlib.Inflate;
  private output: Buffer[] = [];
  private outputBytes = 0;
  private failure: Error | undefined;
  private pending: ((err: Error) => void) | undefined;

  constructor() {
    this.inflate = zlib.createInflate({ dictionary: SPDY3_HEADER_DICTIONARY });
    this.inflate.on('data', (chunk: Buffer) => {
      this.outputBytes += chunk.length;
      if (this.outputBytes > MAX_HEADER_BLOCK_BYTES) {
        this.fail(new SpdyFrameError(`header block inflates to more than ${MAX_HEADER_BLOCK_BYTES} bytes`));
        return;
      }
      this.output.push(chunk);
    });
    this.inflate.on('error', (err: Error) => this.fail(new SpdyFrameError(`header block does not inflate: ${err.message}`)));
  }

  /** Inflates one header block; resolves with its name/value bytes. */
  decompress(block: Buffer): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    if (block.length === 0) return Promise.resolve(Buffer.alloc(0));
    return new Promise<Buffer>((resolve, reject) => {
      this.pending = reject;
      this.inflate.write(block);
      this.inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        this.pending = undefined;
        if (this.failure) {
          reject(this.failure);
          return;
        }
        const out = Buffer.concat(this.output);
        this.output = [];
        this.outputBytes = 0;
        resolve(out);
      });
    });
  }

  close(): void {
    this.inflate.destroy();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.pending?.(err);
    this.pending = undefined;
    this.inflate.destroy();
  }
}
