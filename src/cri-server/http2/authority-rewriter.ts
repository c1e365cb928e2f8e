// Makes a client's request headers acceptable to Node's HTTP/2 layer.
//
// grpc-go clients that dial a bare socket path (the kubelet up to 1.29, crictl and
// critest 1.26, CSI-style sidecars) send that path as :authority. nghttp2, under
// Node's http2 module, resets such a stream (PROTOCOL_ERROR) before grpc-js sees
// it, and Node has no option to relax the check. A unix-socket server has no use
// for the authority, so cradle replaces one that is not a valid RFC 3986
// authority (or an empty one) with "localhost" (what Kubernetes 1.30 clients send).
//
// The rewriter sits on the client-to-server bytes of one connection. Every
// header block is decoded (following the client's HPACK table) and re-encoded
// without indexing, so the server's decoder needs no table state of the client's;
// every other frame passes through untouched. Anything it cannot parse is handed
// on unchanged from that point (passthrough): the HTTP/2 layer then reports the
// error to the client as it would have without cradle in between.
import { Http2HeaderError } from './errors';
import {
  CLIENT_PREFACE, FRAME_HEADER_LENGTH, FrameFlag, FrameType, MIN_MAX_FRAME_SIZE,
  frameHeader, parseFrameHeader, type FrameHeader,
} from './frames';
import { encodeHeaderBlock, HpackDecoder, type HeaderField } from './hpack';

export const REPLACEMENT_AUTHORITY = 'localhost';

/** A header block larger than this is left to the HTTP/2 layer (it refuses far smaller ones). */
const MAX_HEADER_BLOCK = 1 << 20;

/**
 * RFC 3986 authority characters (unreserved, pct-encoded, sub-delims, ":", "@",
 * "[", "]"), as nghttp2 checks them; it refuses an empty pseudo-header too.
 */
const AUTHORITY_CHAR = /^[A-Za-z0-9\-._~%!$&'()*+,;=:@[\]]+$/;

export function isValidAuthority(value: string): boolean {
  return AUTHORITY_CHAR.test(value);
}

export interface RewriteEvents {
  /** The connection did not start with the HTTP/2 client preface. */
  badPreface(received: Buffer): void;
  /** A header block could not be decoded; the rest of the connection passes through. */
  undecodable(reason: string): void;
  /** The first time this connection's authority was replaced. */
  authorityReplaced(original: string): void;
}

interface OpenBlock {
  streamId: number;
  endStream: boolean;
  /** The PRIORITY fields of the HEADERS frame, kept on the re-encoded one. */
  priority: Buffer | undefined;
  fragments: Buffer[];
  size: number;
  /** The frames as received, handed on unchanged if decoding fails. */
  raw: Buffer[];
}

type State =
  | { kind: 'preface'; received: Buffer }
  | { kind: 'frame-header'; received: Buffer }
  | { kind: 'header-payload'; header: FrameHeader; headerBytes: Buffer; received: Buffer[]; missing: number }
  | { kind: 'pass-payload'; missing: number }
  | { kind: 'passthrough' };

export class AuthorityRewriter {
  private state: State = { kind: 'preface', received: Buffer.alloc(0) };
  private readonly decoder = new HpackDecoder();
  private block: OpenBlock | undefined;
  private replacedOnce = false;

  constructor(private readonly events: RewriteEvents) {}

  /** Feeds bytes from the client; returns the bytes to hand to the server, in order. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let rest = chunk;
    while (rest.length > 0) rest = this.step(rest, out);
    return out;
  }

  private step(input: Buffer, out: Buffer[]): Buffer {
    const state = this.state;
    switch (state.kind) {
      case 'passthrough':
        out.push(input);
        return Buffer.alloc(0);
      case 'preface': {
        const [received, rest] = take(state.received, input, CLIENT_PREFACE.length);
        // A prefix that already differs is reported now, not when the rest arrives.
        if (!CLIENT_PREFACE.subarray(0, received.length).equals(received)) {
          this.events.badPreface(received);
          this.passthroughFrom(out, [received]);
          return rest;
        }
        if (received.length < CLIENT_PREFACE.length) {
          this.state = { kind: 'preface', received };
          return rest;
        }
        out.push(received);
        this.state = { kind: 'frame-header', received: Buffer.alloc(0) };
        return rest;
      }
      case 'frame-header': {
        const [received, rest] = take(state.received, input, FRAME_HEADER_LENGTH);
        if (received.length < FRAME_HEADER_LENGTH) {
          this.state = { kind: 'frame-header', received };
          return rest;
        }
        this.state = { kind: 'frame-header', received: Buffer.alloc(0) };
        this.onFrameHeader(received, out);
        return rest;
      }
      case 'header-payload': {
        const part = input.subarray(0, state.missing);
        state.received.push(part);
        state.missing -= part.length;
        if (state.missing === 0) {
          this.state = { kind: 'frame-header', received: Buffer.alloc(0) };
          this.onHeaderFrame(state.header, state.headerBytes, Buffer.concat(state.received), out);
        }
        return input.subarray(part.length);
      }
      case 'pass-payload': {
        const part = input.subarray(0, state.missing);
        out.push(part);
        state.missing -= part.length;
        if (state.missing === 0) this.state = { kind: 'frame-header', received: Buffer.alloc(0) };
        return input.subarray(part.length);
      }
    }
  }

  private onFrameHeader(headerBytes: Buffer, out: Buffer[]): void {
    const header = parseFrameHeader(headerBytes);
    const isHeaderBlock = header.type === FrameType.HEADERS || header.type === FrameType.CONTINUATION;
    if (this.block && header.type !== FrameType.CONTINUATION) {
      // §6.10: nothing may come between a header block's frames.
      this.undecodable(out, 'a frame interrupted a header block', [headerBytes]);
      return;
    }
    if (isHeaderBlock && (this.block?.size ?? 0) + header.length > MAX_HEADER_BLOCK) {
      this.undecodable(out, `header block above ${MAX_HEADER_BLOCK} bytes`, [headerBytes]);
      return;
    }
    if (isHeaderBlock && header.length > 0) {
      this.state = { kind: 'header-payload', header, headerBytes, received: [], missing: header.length };
      return;
    }
    if (isHeaderBlock) {
      this.onHeaderFrame(header, headerBytes, Buffer.alloc(0), out);
      return;
    }
    out.push(headerBytes);
    if (header.length > 0) this.state = { kind: 'pass-payload', missing: header.length };
  }

  private onHeaderFrame(header: FrameHeader, headerBytes: Buffer, payload: Buffer, out: Buffer[]): void {
    const raw = [headerBytes, payload];
    if (header.type === FrameType.HEADERS) {
      let start = 0;
      let end = payload.length;
      if (header.flags & FrameFlag.PADDED) {
        if (payload.length < 1) return this.undecodable(out, 'HEADERS frame too short for its padding', raw);
        end -= payload[0];
        start = 1;
      }
      let priority: Buffer | undefined;
      if (header.flags & FrameFlag.PRIORITY) {
        priority = payload.subarray(start, start + 5);
        start += 5;
      }
      if (end < start) return this.undecodable(out, 'HEADERS frame padding exceeds its payload', raw);
      const fragment = payload.subarray(start, end);
      this.block = { streamId: header.streamId, endStream: (header.flags & FrameFlag.END_STREAM) !== 0, priority, fragments: [fragment], size: fragment.length, raw };
    } else {
      if (!this.block || this.block.streamId !== header.streamId) return this.undecodable(out, 'CONTINUATION without its HEADERS', raw);
      this.block.fragments.push(payload);
      this.block.size += payload.length;
      this.block.raw.push(...raw);
    }
    if (header.flags & FrameFlag.END_HEADERS) this.finishBlock(out);
  }

  private finishBlock(out: Buffer[]): void {
    const block = this.block!;
    this.block = undefined;
    let fields: HeaderField[];
    try {
      fields = this.decoder.decode(Buffer.concat(block.fragments));
    } catch (err) {
      if (!(err instanceof Http2HeaderError)) throw err;
      this.undecodable(out, err.message, block.raw);
      return;
    }
    for (const field of fields) {
      if ((field.name === ':authority' || field.name === 'host') && !isValidAuthority(field.value)) {
        if (!this.replacedOnce) this.events.authorityReplaced(field.value);
        this.replacedOnce = true;
        field.value = REPLACEMENT_AUTHORITY;
      }
    }
    out.push(...headerFrames(block, encodeHeaderBlock(fields)));
  }

  private undecodable(out: Buffer[], reason: string, pending: Buffer[]): void {
    this.events.undecodable(reason);
    this.passthroughFrom(out, pending);
  }

  /** Stops rewriting: an open block's frames and `pending` go on as received, and so does everything after. */
  private passthroughFrom(out: Buffer[], pending: Buffer[]): void {
    if (this.block) out.push(...this.block.raw);
    this.block = undefined;
    out.push(...pending);
    this.state = { kind: 'passthrough' };
  }
}

/** Appends from `input` to `have` up to `want` bytes; returns what is had and the rest of the input. */
function take(have: Buffer, input: Buffer, want: number): [Buffer, Buffer] {
  const needed = want - have.length;
  const part = input.subarray(0, needed);
  return [have.length === 0 ? part : Buffer.concat([have, part]), input.subarray(part.length)];
}

/** A HEADERS frame (with CONTINUATIONs when the block is large) carrying `encoded`. */
function headerFrames(block: OpenBlock, encoded: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  const firstRoom = MIN_MAX_FRAME_SIZE - (block.priority ? block.priority.length : 0);
  const first = encoded.subarray(0, firstRoom);
  const last = first.length === encoded.length;
  const flags = (block.endStream ? FrameFlag.END_STREAM : 0) | (block.priority ? FrameFlag.PRIORITY : 0) | (last ? FrameFlag.END_HEADERS : 0);
  const payloadLength = first.length + (block.priority ? block.priority.length : 0);
  frames.push(frameHeader(payloadLength, FrameType.HEADERS, flags, block.streamId));
  if (block.priority) frames.push(block.priority);
  frames.push(first);
  for (let offset = first.length; offset < encoded.length; offset += MIN_MAX_FRAME_SIZE) {
    const part = encoded.subarray(offset, offset + MIN_MAX_FRAME_SIZE);
    const end = offset + part.length === encoded.length;
    frames.push(frameHeader(part.length, FrameType.CONTINUATION, end ? FrameFlag.END_HEADERS : 0, block.streamId));
    frames.push(part);
  }
  return frames;
}
