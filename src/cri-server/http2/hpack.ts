// HPACK (RFC 7541): a decoder that follows the client's dynamic table, and an
// encoder that uses none (every field a literal, names indexed only from the
// static table). A block re-encoded this way needs no table state on the
// receiving side, so cradle can rewrite a field and hand the block on.
import { Http2HeaderError } from './errors';
import { huffmanDecode } from './huffman';

/** A header field; strings are latin1 so that every octet survives. */
export interface HeaderField {
  name: string;
  value: string;
  /** Sent as "never indexed" (a sensitive value): kept that way when re-encoded. */
  sensitive: boolean;
}

const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''],
  ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''],
  ['if-modified-since', ''], ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''],
  ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''],
  ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''], ['retry-after', ''],
  ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''], ['transfer-encoding', ''],
  ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];

/** First static index of each name (1-based), for the encoder. */
const STATIC_NAME_INDEX = new Map<string, number>();
STATIC_TABLE.forEach(([name], i) => { if (!STATIC_NAME_INDEX.has(name)) STATIC_NAME_INDEX.set(name, i + 1); });

/** RFC 7541 §4.1: an entry's size is its octets plus 32. */
const ENTRY_OVERHEAD = 32;
/** The default SETTINGS_HEADER_TABLE_SIZE, which the server side never raises. */
export const DEFAULT_TABLE_SIZE = 4096;

export class HpackDecoder {
  /** Newest first, as HPACK indexes it. */
  private readonly entries: Array<readonly [string, string]> = [];
  private size = 0;
  private maxSize: number;

  /** @param sizeLimit the largest table size a client may ask for in a size update. */
  constructor(private readonly sizeLimit = DEFAULT_TABLE_SIZE) {
    this.maxSize = Math.min(DEFAULT_TABLE_SIZE, sizeLimit);
  }

  decode(block: Buffer): HeaderField[] {
    const fields: HeaderField[] = [];
    const reader = { buf: block, pos: 0 };
    let fieldSeen = false;
    while (reader.pos < block.length) {
      const first = block[reader.pos];
      if (first & 0x80) {
        const [name, value] = this.lookup(readInteger(reader, 7));
        fields.push({ name, value, sensitive: false });
      } else if (first & 0x40) {
        const field = this.readLiteral(reader, 6, false);
        this.insert(field.name, field.value);
        fields.push(field);
      } else if (first & 0x20) {
        // §4.2: size updates only at the start of a block.
        if (fieldSeen) throw new Http2HeaderError('dynamic table size update after a header field');
        const size = readInteger(reader, 5);
        if (size > this.sizeLimit) throw new Http2HeaderError(`dynamic table size ${size} above ${this.sizeLimit}`);
        this.maxSize = size;
        this.evict(0);
        continue;
      } else {
        fields.push(this.readLiteral(reader, 4, (first & 0x10) !== 0));
      }
      fieldSeen = true;
    }
    return fields;
  }

  private readLiteral(reader: Reader, prefixBits: number, sensitive: boolean): HeaderField {
    const nameIndex = readInteger(reader, prefixBits);
    const name = nameIndex === 0 ? readString(reader) : this.lookup(nameIndex)[0];
    return { name, value: readString(reader), sensitive };
  }

  private lookup(index: number): readonly [string, string] {
    if (index === 0) throw new Http2HeaderError('header index 0');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1];
    const entry = this.entries[index - STATIC_TABLE.length - 1];
    if (!entry) throw new Http2HeaderError(`header index ${index} beyond the dynamic table`);
    return entry;
  }

  private insert(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    this.evict(entrySize);
    // §4.4: an entry larger than the table empties it and is not added.
    if (entrySize > this.maxSize) return;
    this.entries.unshift([name, value]);
    this.size += entrySize;
  }

  /** Evicts the oldest entries until `incoming` more octets fit. */
  private evict(incoming: number): void {
    while (this.entries.length > 0 && this.size + incoming > this.maxSize) {
      const [name, value] = this.entries.pop()!;
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }
}

interface Reader {
  buf: Buffer;
  pos: number;
}

function readInteger(reader: Reader, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  let value = reader.buf[reader.pos++] & max;
  if (value < max) return value;
  let shift = 0;
  for (;;) {
    if (reader.pos >= reader.buf.length) throw new Http2HeaderError('truncated integer');
    const byte = reader.buf[reader.pos++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return value;
    if (shift > 28) throw new Http2HeaderError('integer too large');
  }
}

function readString(reader: Reader): string {
  if (reader.pos >= reader.buf.length) throw new Http2HeaderError('truncated string');
  const huffman = (reader.buf[reader.pos] & 0x80) !== 0;
  const length = readInteger(reader, 7);
  if (reader.pos + length > reader.buf.length) throw new Http2HeaderError('truncated string');
  const raw = reader.buf.subarray(reader.pos, reader.pos + length);
  reader.pos += length;
  return (huffman ? huffmanDecode(raw) : raw).toString('latin1');
}

/** Encodes fields as literals without indexing (never-indexed where sensitive), no Huffman. */
export function encodeHeaderBlock(fields: readonly HeaderField[]): Buffer {
  const parts: number[] = [];
  const pushInteger = (value: number, prefixBits: number, pattern: number) => {
    const max = (1 << prefixBits) - 1;
    if (value < max) {
      parts.push(pattern | value);
      return;
    }
    parts.push(pattern | max);
    let rest = value - max;
    while (rest >= 0x80) {
      parts.push((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    parts.push(rest);
  };
  const pushString = (s: string) => {
    pushInteger(s.length, 7, 0);
    for (let i = 0; i < s.length; i++) parts.push(s.charCodeAt(i) & 0xff);
  };
  for (const field of fields) {
    const pattern = field.sensitive ? 0x10 : 0x00;
    const nameIndex = STATIC_NAME_INDEX.get(field.name);
    if (nameIndex !== undefined) {
      pushInteger(nameIndex, 4, pattern);
    } else {
      pushInteger(0, 4, pattern);
      pushString(field.name);
    }
    pushString(field.value);
  }
  return Buffer.from(parts);
}
