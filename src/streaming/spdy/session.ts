// A server-side SPDY/3.1 session over an upgraded HTTP connection: stream
// lifecycle, header compression contexts, PING, GOAWAY and flow control.
//
// Flow control: we announce and account windows as SPDY/3.1 requires and send
// WINDOW_UPDATE (per stream and for the session) as data is consumed. Our own
// sending honours the peer's windows once the peer shows it does flow control
// (a WINDOW_UPDATE or a SETTINGS INITIAL_WINDOW_SIZE). Go's spdystream, which
// every Kubernetes client (kubectl, kubelet, crictl) uses, never sends either:
// enforcing a 64 KiB window against it would stall every exec after 64 KiB of
// output, so for such peers TCP backpressure is the only limit, as with the kubelet.
import { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';
import type { Logger } from '../../common/logger';
import {
  FrameDecoder, GoAwayStatus, RstStatus, SettingId, SpdyFrameError, encodeFrame, type Frame,
} from './frames';
import {
  HeaderCompressor, HeaderDecompressor, decodeHeaderBlock, encodeHeaderBlock, type SpdyHeaders,
} from './header-block';

export const DEFAULT_INITIAL_WINDOW = 64 * 1024;
/** Largest DATA payload we send in one frame. */
const MAX_DATA_CHUNK = 32 * 1024;
/** Streams a peer may have open at once (announced as MAX_CONCURRENT_STREAMS). */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 1000;
/** Frames parsed but not handled yet beyond which we stop reading the connection. */
const MAX_QUEUED_FRAMES = 256;

export interface SpdySessionOptions {
  logger: Logger;
  /** Called for every stream the peer opens; the handler replies (stream.reply()) or resets it. */
  onStream: (stream: SpdyStream) => void;
  /** Our receive window per stream, announced in SETTINGS (default 64 KiB). */
  initialWindow?: number;
  /** Streams the peer may have open at once; more are refused (default 1000). */
  maxConcurrentStreams?: number;
}

export interface SpdySessionEvents {
  close: [];
}

export class SpdySession extends EventEmitter<SpdySessionEvents> {
  readonly logger: Logger;
  private readonly socket: Duplex;
  private readonly onStream: (stream: SpdyStream) => void;
  private readonly decoder = new FrameDecoder();
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor = new HeaderDecompressor();
  private readonly streams = new Map<number, SpdyStream>();
  private readonly queue: Frame[] = [];
  private draining = false;
  private lastRemoteStreamId = 0;
  private goAwaySent = false;
  private closed = false;
  private pausedBy = 0;
  private queuePaused = false;
  private readonly maxConcurrentStreams: number;

  /** Flow control state. */
  readonly receiveWindow: number;
  private peerInitialWindow = DEFAULT_INITIAL_WINDOW;
  private sessionSendWindow = DEFAULT_INITIAL_WINDOW;
  private sessionUnacked = 0;
  /** True once the peer has shown it does flow control (see the file comment). */
  private peerDoesFlowControl = false;
  private readonly windowWaiters = new Set<() => void>();

  constructor(socket: Duplex, options: SpdySessionOptions, head?: Buffer) {
    super();
    this.socket = socket;
    this.logger = options.logger;
    this.onStream = options.onStream;
    this.receiveWindow = options.initialWindow ?? DEFAULT_INITIAL_WINDOW;
    this.maxConcurrentStreams = options.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err: Error) => this.logger.debug({ err }, 'spdy: connection error'));
    socket.on('close', () => this.teardown());
    socket.on('end', () => this.teardown());
    socket.on('drain', () => this.notifyWindow());
    this.writeFrame({
      type: 'settings', clear: false,
      entries: [
        { flags: 0, id: SettingId.MAX_CONCURRENT_STREAMS, value: this.maxConcurrentStreams },
        { flags: 0, id: SettingId.INITIAL_WINDOW_SIZE, value: this.receiveWindow },
      ],
    });
    if (head && head.length > 0) this.receive(head);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get activeStreams(): number {
    return this.streams.size;
  }

  /** Graceful close: GOAWAY, then the connection ends once queued frames are written. */
  close(): void {
    if (this.closed) return;
    this.sendGoAway(GoAwayStatus.OK);
    this.socket.end();
    this.teardown();
  }

  /** Closes the connection at once (abandoning queued output). */
  destroy(): void {
    this.socket.destroy();
    this.teardown();
  }

  // ---- output ----

  /** @internal */
  writeFrame(frame: Frame): boolean {
    if (this.closed || this.socket.destroyed || !this.socket.writable) return false;
    return this.socket.write(encodeFrame(frame));
  }

  /** @internal */
  writeHeadersFrame(kind: 'syn_reply' | 'headers', streamId: number, headers: SpdyHeaders, fin: boolean): void {
    const headerBlock = this.compressor.compress(encodeHeaderBlock(headers));
    this.writeFrame({ type: kind, streamId, fin, headerBlock });
  }

  /** @internal How many bytes stream may send now (Infinity while the peer does no flow control). */
  sendAllowance(stream: SpdyStream): number {
    if (!this.peerDoesFlowControl) return Infinity;
    return Math.max(0, Math.min(stream.sendWindow, this.sessionSendWindow));
  }

  /** @internal */
  consumeSendWindow(stream: SpdyStream, bytes: number): void {
    stream.sendWindow -= bytes;
    this.sessionSendWindow -= bytes;
  }

  /** @internal Calls fn once the socket has drained and/or a window opened. */
  waitForWindow(fn: () => void): void {
    this.windowWaiters.add(fn);
  }

  /** @internal */
  get socketNeedsDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  /** @internal Acknowledges consumed bytes with WINDOW_UPDATE frames. */
  acknowledge(stream: SpdyStream, bytes: number): void {
    stream.unacked += bytes;
    if (stream.unacked >= this.receiveWindow / 2 && !stream.remoteClosed) {
      this.writeFrame({ type: 'window_update', streamId: stream.id, delta: stream.unacked });
      stream.unacked = 0;
    }
    this.sessionUnacked += bytes;
    if (this.sessionUnacked >= DEFAULT_INITIAL_WINDOW / 2) {
      this.writeFrame({ type: 'window_update', streamId: 0, delta: this.sessionUnacked });
      this.sessionUnacked = 0;
    }
  }

  /** @internal A stream's consumer is slow: stop reading the connection. */
  pauseFor(): void {
    if (this.pausedBy++ === 0) this.socket.pause();
  }

  /** @internal */
  resumeFor(): void {
    if (this.pausedBy > 0 && --this.pausedBy === 0 && !this.closed) this.socket.resume();
  }

  /** @internal */
  forget(stream: SpdyStream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
  }

  /**
   * The peer has shown it does flow control. Windows we overran while it had
   * not (it evidently did not enforce them) restart from the initial size
   * rather than stalling us until the peer acknowledges data it never counted.
   */
  private startFlowControl(): void {
    if (this.peerDoesFlowControl) return;
    this.peerDoesFlowControl = true;
    if (this.sessionSendWindow < 0) this.sessionSendWindow = DEFAULT_INITIAL_WINDOW;
    for (const stream of this.streams.values()) {
      if (stream.sendWindow < 0) stream.sendWindow = this.peerInitialWindow;
    }
  }

  private notifyWindow(): void {
    const waiters = [...this.windowWaiters];
    this.windowWaiters.clear();
    for (const fn of waiters) fn();
  }

  private sendGoAway(status: number): void {
    if (this.goAwaySent) return;
    this.goAwaySent = true;
    this.writeFrame({ type: 'goaway', lastGoodStreamId: this.lastRemoteStreamId, status });
  }

  private protocolError(err: unknown): void {
    this.logger.warn({ err }, 'spdy: protocol error, closing the connection');
    this.sendGoAway(GoAwayStatus.PROTOCOL_ERROR);
    this.socket.end();
    this.teardown();
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    this.decompressor.close();
    for (const stream of [...this.streams.values()]) stream.destroy();
    this.streams.clear();
    this.queue.length = 0;
    this.notifyWindow();
    // The socket may still flush a GOAWAY; make sure it goes away eventually.
    if (!this.socket.destroyed) {
      const timer = setTimeout(() => this.socket.destroy(), 5000);
      timer.unref();
      this.socket.once('close', () => clearTimeout(timer));
    }
    this.emit('close');
  }

  // ---- input ----

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.protocolError(err);
      return;
    }
    if (frames.length === 0) return;
    this.queue.push(...frames);
    if (this.queue.length > MAX_QUEUED_FRAMES && !this.queuePaused) {
      this.queuePaused = true;
      this.pauseFor();
    }
    if (!this.draining) void this.drain();
  }

  // Frames are handled strictly in order: header blocks must be inflated in
  // order, and a stream's DATA must follow its SYN_STREAM.
  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const frame = this.queue.shift()!;
        if (this.queuePaused && this.queue.length < MAX_QUEUED_FRAMES / 2) {
          this.queuePaused = false;
          this.resumeFor();
        }
        try {
          await this.handle(frame);
        } catch (err) {
          this.protocolError(err);
          return;
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async handle(frame: Frame): Promise<void> {
    if (this.logger.isLevelEnabled('trace')) {
      this.logger.trace({ frame: frame.type, streamId: 'streamId' in frame ? frame.streamId : undefined }, 'spdy: frame received');
    }
    switch (frame.type) {
      case 'syn_stream': {
        // Inflate first, whatever happens to the stream: the zlib context must follow every block.
        const headers = decodeHeaderBlock(await this.decompressor.decompress(frame.headerBlock), frame.streamId);
        this.logger.trace({ headers, streamId: frame.streamId }, 'spdy: SYN_STREAM');
        if (this.closed) return;
        const id = frame.streamId;
        if (id === 0 || id % 2 === 0) {
          this.writeFrame({ type: 'rst_stream', streamId: id, status: RstStatus.PROTOCOL_ERROR });
          return;
        }
        if (this.streams.has(id)) {
          this.writeFrame({ type: 'rst_stream', streamId: id, status: RstStatus.STREAM_IN_USE });
          return;
        }
        if (id <= this.lastRemoteStreamId) {
          throw new SpdyFrameError(`SYN_STREAM for stream ${id} after stream ${this.lastRemoteStreamId}`, id);
        }
        this.lastRemoteStreamId = id;
        if (this.goAwaySent || this.streams.size >= this.maxConcurrentStreams) {
          this.writeFrame({ type: 'rst_stream', streamId: id, status: RstStatus.REFUSED_STREAM });
          return;
        }
        const stream = new SpdyStream(this, id, headers, this.peerInitialWindow);
        this.streams.set(id, stream);
        if (frame.unidirectional) stream.markLocalClosed();
        if (frame.fin) stream.remoteFinished();
        this.onStream(stream);
        return;
      }
      case 'syn_reply':
      case 'headers': {
        const headers = decodeHeaderBlock(await this.decompressor.decompress(frame.headerBlock), frame.streamId);
        const stream = this.streams.get(frame.streamId);
        if (!stream || frame.type === 'syn_reply') {
          // We never open streams, so a SYN_REPLY is always for an unknown one.
          this.writeFrame({ type: 'rst_stream', streamId: frame.streamId, status: RstStatus.INVALID_STREAM });
          return;
        }
        stream.emit('headers', headers);
        if (frame.fin) stream.remoteFinished();
        return;
      }
      case 'data': {
        const stream = this.streams.get(frame.streamId);
        if (!stream) {
          this.writeFrame({ type: 'rst_stream', streamId: frame.streamId, status: RstStatus.INVALID_STREAM });
          return;
        }
        if (stream.remoteClosed) {
          stream.resetWith(RstStatus.STREAM_ALREADY_CLOSED);
          return;
        }
        stream.receiveData(frame.data);
        if (frame.fin) stream.remoteFinished();
        return;
      }
      case 'rst_stream': {
        const stream = this.streams.get(frame.streamId);
        if (stream) stream.peerReset(frame.status);
        return;
      }
      case 'settings': {
        for (const entry of frame.entries) {
          if (entry.id === SettingId.INITIAL_WINDOW_SIZE) {
            this.startFlowControl();
            const delta = entry.value - this.peerInitialWindow;
            this.peerInitialWindow = entry.value;
            for (const stream of this.streams.values()) stream.sendWindow += delta;
          }
        }
        this.notifyWindow();
        return;
      }
      case 'ping':
        // Client-initiated pings have odd ids: echo them. Even ones would answer ours; we send none.
        if (frame.id % 2 === 1) this.writeFrame(frame);
        return;
      case 'goaway':
        this.logger.debug({ lastGoodStreamId: frame.lastGoodStreamId, status: frame.status }, 'spdy: peer sent GOAWAY');
        this.goAwaySent = true; // accept no new streams either
        return;
      case 'window_update': {
        this.startFlowControl();
        if (frame.streamId === 0) this.sessionSendWindow += frame.delta;
        else {
          const stream = this.streams.get(frame.streamId);
          if (stream) stream.sendWindow += frame.delta;
        }
        this.notifyWindow();
        return;
      }
      case 'unknown':
        return; // SPDY: ignore control frames of unknown types
    }
  }
}

/** One SPDY stream opened by the peer, as a Node Duplex (readable: peer's DATA; writable: ours). */
export class SpdyStream extends Duplex {
  readonly id: number;
  /** The headers of the peer's SYN_STREAM. */
  readonly headers: SpdyHeaders;
  /** Set when the peer reset the stream (RST_STREAM status). */
  resetStatus: number | undefined;
  /** @internal */ sendWindow: number;
  /** @internal */ unacked = 0;
  /** @internal */ remoteClosed = false;
  private readonly session: SpdySession;
  private replied = false;
  private localClosed = false;
  private blocked = false;
  private pendingAck = 0;

  constructor(session: SpdySession, id: number, headers: SpdyHeaders, sendWindow: number) {
    super({ allowHalfOpen: true, highWaterMark: session.receiveWindow });
    this.session = session;
    this.id = id;
    this.headers = headers;
    this.sendWindow = sendWindow;
  }

  /** Accepts the stream (SYN_REPLY). Writing before replying replies implicitly. */
  reply(headers: SpdyHeaders = {}): void {
    if (this.replied || this.destroyed) return;
    this.replied = true;
    this.session.writeHeadersFrame('syn_reply', this.id, headers, false);
  }

  /** Resets the stream (RST_STREAM) and destroys it. */
  resetWith(status: number): void {
    if (!this.destroyed) {
      this.session.writeFrame({ type: 'rst_stream', streamId: this.id, status });
      this.localClosed = true;
      this.remoteClosed = true;
      this.destroy();
    }
  }

  /** @internal */
  markLocalClosed(): void {
    this.localClosed = true;
    this.replied = true;
  }

  /** @internal */
  receiveData(data: Buffer): void {
    if (data.length === 0) return;
    const accepted = this.push(data);
    this.pendingAck += data.length;
    if (accepted) this.ack();
    else if (!this.blocked) {
      this.blocked = true;
      this.session.pauseFor();
    }
  }

  /** @internal */
  remoteFinished(): void {
    if (this.remoteClosed) return;
    this.remoteClosed = true;
    this.push(null);
    this.maybeForget();
  }

  /** @internal */
  peerReset(status: number): void {
    this.resetStatus = status;
    this.localClosed = true;
    this.remoteClosed = true;
    this.destroy();
  }

  override _read(): void {
    if (this.blocked) {
      this.blocked = false;
      this.session.resumeFor();
    }
    this.ack();
  }

  private ack(): void {
    if (this.pendingAck > 0) {
      const n = this.pendingAck;
      this.pendingAck = 0;
      this.session.acknowledge(this, n);
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.localClosed) {
      callback(new Error(`SPDY stream ${this.id} is closed for writing`));
      return;
    }
    this.reply();
    this.sendChunks(chunk, callback);
  }

  private sendChunks(chunk: Buffer, callback: (error?: Error | null) => void): void {
    let offset = 0;
    const step = (): void => {
      if (this.destroyed || this.session.isClosed) {
        callback(new Error(`SPDY stream ${this.id} was closed`));
        return;
      }
      while (offset < chunk.length) {
        const allowance = this.session.sendAllowance(this);
        if (allowance <= 0) {
          this.session.waitForWindow(step);
          return;
        }
        const n = Math.min(MAX_DATA_CHUNK, chunk.length - offset, allowance);
        this.session.consumeSendWindow(this, n);
        this.session.writeFrame({ type: 'data', streamId: this.id, fin: false, data: chunk.subarray(offset, offset + n) });
        offset += n;
      }
      if (this.session.socketNeedsDrain) this.session.waitForWindow(() => callback());
      else callback();
    };
    step();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.localClosed) {
      this.reply();
      this.localClosed = true;
      this.session.writeFrame({ type: 'data', streamId: this.id, fin: true, data: Buffer.alloc(0) });
    }
    this.maybeForget();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.blocked) {
      this.blocked = false;
      this.session.resumeFor();
    }
    if (!this.localClosed || !this.remoteClosed) {
      // Abandoned half-way: tell the peer, unless the whole session is gone.
      if (!this.session.isClosed) this.session.writeFrame({ type: 'rst_stream', streamId: this.id, status: RstStatus.CANCEL });
      this.localClosed = true;
      this.remoteClosed = true;
    }
    this.session.forget(this);
    callback(error);
  }

  private maybeForget(): void {
    if (this.localClosed && this.remoteClosed) this.session.forget(this);
  }
}
