// Watches the server's side of a connection for the errors it sends: a stream
// reset or a GOAWAY with an error code is how an HTTP/2-level refusal reaches a
// client, and cradled would otherwise never hear of it (the refused stream never
// reaches grpc-js). The bytes themselves are not changed.
import { FRAME_HEADER_LENGTH, FrameType, parseFrameHeader, type FrameHeader } from './frames';

export interface SentError {
  frame: 'RST_STREAM' | 'GOAWAY';
  streamId: number;
  errorCode: number;
}

/** Error codes that are ordinary ends of streams, not refusals. */
const ORDINARY_CODES = new Set([0x0 /* NO_ERROR */, 0x8 /* CANCEL */]);
const EMPTY = Buffer.alloc(0);

export class ServerErrorWatcher {
  private headerBytes = EMPTY;
  private header: FrameHeader | undefined;
  private payloadLeft = 0;
  private captured = EMPTY;

  constructor(private readonly onError: (error: SentError) => void) {}

  observe(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (!this.header) {
        const need = FRAME_HEADER_LENGTH - this.headerBytes.length;
        const part = chunk.subarray(pos, pos + need);
        pos += part.length;
        // Every reply passes here: a header inside one chunk is read in place, not copied.
        const bytes = this.headerBytes.length === 0 ? part : Buffer.concat([this.headerBytes, part]);
        if (bytes.length < FRAME_HEADER_LENGTH) {
          this.headerBytes = Buffer.from(bytes);
          return;
        }
        this.header = parseFrameHeader(bytes);
        this.headerBytes = EMPTY;
        this.payloadLeft = this.header.length;
        this.captured = EMPTY;
      }
      const part = chunk.subarray(pos, pos + this.payloadLeft);
      pos += part.length;
      this.payloadLeft -= part.length;
      if (this.wanted(this.header) && this.captured.length < 8) {
        this.captured = Buffer.concat([this.captured, part.subarray(0, 8 - this.captured.length)]);
      }
      if (this.payloadLeft === 0) {
        this.report(this.header);
        this.header = undefined;
      }
    }
  }

  private wanted(header: FrameHeader): boolean {
    return header.type === FrameType.RST_STREAM || header.type === FrameType.GOAWAY;
  }

  private report(header: FrameHeader): void {
    if (header.type === FrameType.RST_STREAM && this.captured.length >= 4) {
      const errorCode = this.captured.readUInt32BE(0);
      if (!ORDINARY_CODES.has(errorCode)) this.onError({ frame: 'RST_STREAM', streamId: header.streamId, errorCode });
    } else if (header.type === FrameType.GOAWAY && this.captured.length >= 8) {
      const errorCode = this.captured.readUInt32BE(4);
      if (errorCode !== 0) this.onError({ frame: 'GOAWAY', streamId: this.captured.readUInt32BE(0) & 0x7fffffff, errorCode });
    }
  }
}
