// SPDY/3.1 frame codec (draft 3.1, section 2): pure encoding and decoding of
// frames, no session state. Header blocks stay opaque (compressed) here; the
// session owns the zlib contexts (see header-block.ts).

export const SPDY_VERSION = 3;
/** Frame headers are 8 bytes: control bit/version/type or stream id, then flags and a 24-bit length. */
export const FRAME_HEADER_LENGTH = 8;
export const MAX_FRAME_PAYLOAD = 0xffffff;

export const ControlType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;
export const FLAG_SETTINGS_CLEAR = 0x01;

/** RST_STREAM status codes. */
export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const;

/** GOAWAY status codes. */
export const GoAwayStatus = { OK: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2 } as const;

/** SETTINGS ids. */
export const SettingId = {
  MAX_CONCURRENT_STREAMS: 4,
  INITIAL_WINDOW_SIZE: 7,
} as const;

export interface SettingEntry { flags: number; id: number; value: number }

export type Frame =
  | { type: 'data'; streamId: number; fin: boolean; data: Buffer }
  | { type: 'syn_stream'; streamId: number; associatedStreamId: number; priority: number; slot: number;
      fin: boolean; unidirectional: boolean; headerBlock: Buffer }
  | { type: 'syn_reply'; streamId: number; fin: boolean; headerBlock: Buffer }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; clear: boolean; entries: SettingEntry[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'headers'; streamId: number; fin: boolean; headerBlock: Buffer }
  | { type: 'window_update'; streamId: number; delta: number }
  /** A control frame of a type SPDY/3.1 does not define; receivers ignore it. */
  | { type: 'unknown'; controlType: number; flags: number; payload: Buffer };

/** A frame that violates the framing rules; the session answers with GOAWAY PROTOCOL_ERROR. */
export class SpdyFrameError extends Error {
  /** The stream the bad frame was about, when known (0 otherwise). */
  readonly streamId: number;
  constructor(message: string, streamId = 0) {
    super(message);
    this.name = 'SpdyFrameError';
    this.streamId = streamId;
  }
}

const STREAM_ID_MASK = 0x7fffffff;

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD) throw new RangeError(`SPDY frame payload of ${payload.length} bytes is too large`);
  const out = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + payload.length);
  out.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  out.writeUInt16BE(type, 2);
  out.writeUInt32BE(((flags & 0xff) << 24 | payload.length) >>> 0, 4);
  payload.copy(out, FRAME_HEADER_LENGTH);
  return out;
}

function u32s(...values: number[]): Buffer {
  const out = Buffer.allocUnsafe(values.length * 4);
  values.forEach((v, i) => out.writeUInt32BE(v >>> 0, i * 4));
  return out;
}

/** Serialises one frame (header blocks must already be compressed). */
export function encodeFrame(frame: Frame): Buffer {
  switch (frame.type) {
    case 'data': {
      if (frame.data.length > MAX_FRAME_PAYLOAD) throw new RangeError(`SPDY DATA payload of ${frame.data.length} bytes is too large`);
      const out = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + frame.data.length);
      out.writeUInt32BE(frame.streamId & STREAM_ID_MASK, 0);
      out.writeUInt32BE(((frame.fin ? FLAG_FIN : 0) << 24 | frame.data.length) >>> 0, 4);
      frame.data.copy(out, FRAME_HEADER_LENGTH);
      return out;
    }
    case 'syn_stream': {
      const fixed = Buffer.allocUnsafe(10);
      fixed.writeUInt32BE(frame.streamId & STREAM_ID_MASK, 0);
      fixed.writeUInt32BE(frame.associatedStreamId & STREAM_ID_MASK, 4);
      fixed.writeUInt8((frame.priority & 0x7) << 5, 8);
      fixed.writeUInt8(frame.slot & 0xff, 9);
      const flags = (frame.fin ? FLAG_FIN : 0) | (frame.unidirectional ? FLAG_UNIDIRECTIONAL : 0);
      return controlFrame(ControlType.SYN_STREAM, flags, Buffer.concat([fixed, frame.headerBlock]));
    }
    case 'syn_reply':
      return controlFrame(ControlType.SYN_REPLY, frame.fin ? FLAG_FIN : 0,
        Buffer.concat([u32s(frame.streamId & STREAM_ID_MASK), frame.headerBlock]));
    case 'headers':
      return controlFrame(ControlType.HEADERS, frame.fin ? FLAG_FIN : 0,
        Buffer.concat([u32s(frame.streamId & STREAM_ID_MASK), frame.headerBlock]));
    case 'rst_stream':
      return controlFrame(ControlType.RST_STREAM, 0, u32s(frame.streamId & STREAM_ID_MASK, frame.status));
    case 'settings': {
      const payload = Buffer.allocUnsafe(4 + frame.entries.length * 8);
      payload.writeUInt32BE(frame.entries.length, 0);
      frame.entries.forEach((e, i) => {
        payload.writeUInt32BE((((e.flags & 0xff) << 24) | (e.id & 0xffffff)) >>> 0, 4 + i * 8);
        payload.writeUInt32BE(e.value >>> 0, 8 + i * 8);
      });
      return controlFrame(ControlType.SETTINGS, frame.clear ? FLAG_SETTINGS_CLEAR : 0, payload);
    }
    case 'ping':
      return controlFrame(ControlType.PING, 0, u32s(frame.id));
    case 'goaway':
      return controlFrame(ControlType.GOAWAY, 0, u32s(frame.lastGoodStreamId & STREAM_ID_MASK, frame.status));
    case 'window_update':
      return controlFrame(ControlType.WINDOW_UPDATE, 0, u32s(frame.streamId & STREAM_ID_MASK, frame.delta & STREAM_ID_MASK));
    case 'unknown':
      return controlFrame(frame.controlType, frame.flags, frame.payload);
  }
}

function need(payload: Buffer, min: number, what: string, exact = false): void {
  if (payload.length < min || (exact && payload.length !== min)) {
    throw new SpdyFrameError(`${what} frame has a payload of ${payload.length} bytes, expected ${exact ? '' : 'at least '}${min}`);
  }
}

/** Decodes the payload of one control frame whose header was already read. */
export function decodeControlFrame(version: number, type: number, flags: number, payload: Buffer): Frame {
  if (version !== SPDY_VERSION) throw new SpdyFrameError(`unsupported SPDY version ${version} in a control frame`);
  const fin = (flags & FLAG_FIN) !== 0;
  switch (type) {
    case ControlType.SYN_STREAM: {
      need(payload, 10, 'SYN_STREAM');
      return {
        type: 'syn_stream',
        streamId: payload.readUInt32BE(0) & STREAM_ID_MASK,
        associatedStreamId: payload.readUInt32BE(4) & STREAM_ID_MASK,
        priority: payload.readUInt8(8) >> 5,
        slot: payload.readUInt8(9),
        fin,
        unidirectional: (flags & FLAG_UNIDIRECTIONAL) !== 0,
        headerBlock: payload.subarray(10),
      };
    }
    case ControlType.SYN_REPLY:
      need(payload, 4, 'SYN_REPLY');
      return { type: 'syn_reply', streamId: payload.readUInt32BE(0) & STREAM_ID_MASK, fin, headerBlock: payload.subarray(4) };
    case ControlType.HEADERS:
      need(payload, 4, 'HEADERS');
      return { type: 'headers', streamId: payload.readUInt32BE(0) & STREAM_ID_MASK, fin, headerBlock: payload.subarray(4) };
    case ControlType.RST_STREAM:
      need(payload, 8, 'RST_STREAM', true);
      return { type: 'rst_stream', streamId: payload.readUInt32BE(0) & STREAM_ID_MASK, status: payload.readUInt32BE(4) };
    case ControlType.SETTINGS: {
      need(payload, 4, 'SETTINGS');
      const count = payload.readUInt32BE(0);
      if (payload.length !== 4 + count * 8) {
        throw new SpdyFrameError(`SETTINGS frame announces ${count} entries but has a payload of ${payload.length} bytes`);
      }
      const entries: SettingEntry[] = [];
      for (let i = 0; i < count; i++) {
        const word = payload.readUInt32BE(4 + i * 8);
        entries.push({ flags: word >>> 24, id: word & 0xffffff, value: payload.readUInt32BE(8 + i * 8) });
      }
      return { type: 'settings', clear: (flags & FLAG_SETTINGS_CLEAR) !== 0, entries };
    }
    case ControlType.PING:
      need(payload, 4, 'PING', true);
      return { type: 'ping', id: payload.readUInt32BE(0) };
    case ControlType.GOAWAY:
      need(payload, 8, 'GOAWAY', true);
      return { type: 'goaway', lastGoodStreamId: payload.readUInt32BE(0) & STREAM_ID_MASK, status: payload.readUInt32BE(4) };
    case ControlType.WINDOW_UPDATE: {
      need(payload, 8, 'WINDOW_UPDATE', true);
      const streamId = payload.readUInt32BE(0) & STREAM_ID_MASK;
      const delta = payload.readUInt32BE(4) & STREAM_ID_MASK;
      if (delta === 0) throw new SpdyFrameError('WINDOW_UPDATE with a delta of 0', streamId);
      return { type: 'window_update', streamId, delta };
    }
    default:
      return { type: 'unknown', controlType: type, flags, payload };
  }
}

/**
 * Incremental frame reader: push bytes as they arrive, take whole frames out.
 * Throws SpdyFrameError on a malformed frame; the stream is unusable after that.
 */
export class FrameDecoder {
  private buffered: Buffer[] = [];
  private length = 0;
  private readonly maxPayload: number;

  constructor(options: { maxPayload?: number } = {}) {
    this.maxPayload = options.maxPayload ?? MAX_FRAME_PAYLOAD;
  }

  /** Appends bytes and returns every frame now complete, in order. */
  push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.buffered.push(chunk);
      this.length += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.length < FRAME_HEADER_LENGTH) break;
      const head = this.peek(FRAME_HEADER_LENGTH);
      const payloadLength = head.readUInt32BE(4) & 0xffffff;
      if (payloadLength > this.maxPayload) {
        throw new SpdyFrameError(`frame payload of ${payloadLength} bytes exceeds the limit of ${this.maxPayload}`);
      }
      if (this.length < FRAME_HEADER_LENGTH + payloadLength) break;
      const whole = this.take(FRAME_HEADER_LENGTH + payloadLength);
      const payload = whole.subarray(FRAME_HEADER_LENGTH);
      const flags = whole.readUInt8(4);
      const first = whole.readUInt32BE(0);
      if ((first & 0x80000000) !== 0) {
        frames.push(decodeControlFrame((first >>> 16) & 0x7fff, first & 0xffff, flags, payload));
      } else {
        frames.push({ type: 'data', streamId: first & STREAM_ID_MASK, fin: (flags & FLAG_FIN) !== 0, data: payload });
      }
    }
    return frames;
  }

  get bufferedBytes(): number {
    return this.length;
  }

  private peek(n: number): Buffer {
    if (this.buffered[0]!.length >= n) return this.buffered[0]!.subarray(0, n);
    const joined = Buffer.concat(this.buffered);
    this.buffered = [joined];
    return joined.subarray(0, n);
  }

  private take(n: number): Buffer {
    let first = this.buffered[0]!;
    if (first.length < n) {
      first = Buffer.concat(this.buffered);
      this.buffered = [first];
    }
    const out = first.subarray(0, n);
    if (first.length === n) this.buffered.shift();
    else this.buffered[0] = first.subarray(n);
    this.length -= n;
    return out;
  }
}
