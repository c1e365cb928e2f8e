// HTTP/2 framing (RFC 9113 §4, §6): what the connection layer needs to find
// header blocks in the client's bytes and errors in the server's.

export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME_HEADER_LENGTH = 9;
/** The smallest SETTINGS_MAX_FRAME_SIZE a peer may announce, so always allowed. */
export const MIN_MAX_FRAME_SIZE = 16384;

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  RST_STREAM: 0x3,
  GOAWAY: 0x7,
  CONTINUATION: 0x9,
} as const;

export const FrameFlag = {
  END_STREAM: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** RFC 9113 §7 error codes, by value. */
export const ERROR_CODE_NAMES: readonly string[] = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED',
  'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];

export function errorCodeName(code: number): string {
  return ERROR_CODE_NAMES[code] ?? `0x${code.toString(16)}`;
}

export interface FrameHeader {
  length: number;
  type: number;
  flags: number;
  streamId: number;
}

export function parseFrameHeader(buf: Buffer): FrameHeader {
  return {
    length: buf.readUIntBE(0, 3),
    type: buf[3],
    flags: buf[4],
    streamId: buf.readUInt32BE(5) & 0x7fffffff,
  };
}

export function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const buf = Buffer.alloc(FRAME_HEADER_LENGTH);
  buf.writeUIntBE(length, 0, 3);
  buf[3] = type;
  buf[4] = flags;
  buf.writeUInt32BE(streamId, 5);
  return buf;
}
