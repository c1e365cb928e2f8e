// A minimal SPDY/3.1 client for tests only, for what kubectl cannot do on
// demand: many sessions in one process, malformed frames, exact frame checks.
// It compresses header blocks with real zlib (node:zlib deflate with the SPDY
// dictionary and SYNC_FLUSH), as Go's framer does.
import net from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';
import type { Duplex } from 'node:stream';
import { FrameDecoder, encodeFrame, type Frame } from '../../src/streaming/spdy/frames';
import { SPDY3_HEADER_DICTIONARY } from '../../src/streaming/spdy/dictionary';
import { HeaderDecompressor, decodeHeaderBlock, encodeHeaderBlock, type SpdyHeaders } from '../../src/streaming/spdy/header-block';

export interface UpgradeResult {
  status: number;
  headers: Record<string, string>;
  body: string;
  socket: Duplex;
  rest: Buffer;
}

/** Sends an HTTP upgrade request to url and reads the response head. */
export async function httpUpgrade(url: string, headers: Record<string, string | string[]>,
  options: { ca?: Buffer; rejectUnauthorized?: boolean } = {}): Promise<UpgradeResult> {
  const u = new URL(url);
  const socket: Duplex = u.protocol === 'https:'
    ? tls.connect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: options.rejectUnauthorized ?? false, ...(options.ca ? { ca: options.ca } : {}) })
    : net.connect({ host: u.hostname, port: Number(u.port) });
  const lines = [`POST ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`];
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  }
  socket.write(lines.join('\r\n') + '\r\n\r\n');
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const [statusLine, ...headerLines] = buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(statusLine ?? '')?.[1] ?? 0);
      const parsed: Record<string, string> = {};
      for (const l of headerLines) {
        const i = l.indexOf(':');
        const name = l.slice(0, i).trim().toLowerCase();
        parsed[name] = parsed[name] ? `${parsed[name]}, ${l.slice(i + 1).trim()}` : l.slice(i + 1).trim();
      }
      const rest = buf.subarray(end + 4);
      if (status === 101) {
        resolve({ status, headers: parsed, body: '', socket, rest });
        return;
      }
      // Read the body (Content-Length) for error responses.
      const length = Number(parsed['content-length'] ?? 0);
      let body = rest;
      const finish = (): void => resolve({ status, headers: parsed, body: body.toString('utf8'), socket, rest: Buffer.alloc(0) });
      if (body.length >= length) { finish(); return; }
      socket.on('data', (c: Buffer) => { body = Buffer.concat([body, c]); if (body.length >= length) finish(); });
      socket.on('end', finish);
      socket.resume();
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

export interface ClientStream {
  id: number;
  replied: boolean;
  data: Buffer[];
  fin: boolean;
  reset?: number;
}

export class SpdyTestClient {
  readonly frames: Frame[] = [];
  readonly streams = new Map<number, ClientStream>();
  goAway: { lastGoodStreamId: number; status: number } | undefined;
  closed = false;
  private readonly decoder = new FrameDecoder();
  private readonly inflater = new HeaderDecompressor();
  private readonly deflate = zlib.createDeflate({ dictionary: SPDY3_HEADER_DICTIONARY });
  private deflated: Buffer[] = [];
  private nextId = 1;
  private waiters: (() => void)[] = [];
  private chain: Promise<void> = Promise.resolve();

  constructor(readonly socket: Duplex, rest: Buffer) {
    this.deflate.on('data', (c: Buffer) => this.deflated.push(c));
    socket.on('data', (c: Buffer) => this.onBytes(c));
    // Frames already read are handled before the client counts as closed.
    socket.on('close', () => { this.chain = this.chain.then(() => { this.closed = true; this.wake(); }); });
    socket.on('error', () => {});
    if (rest.length > 0) this.onBytes(rest);
    socket.resume();
  }

  static async connect(url: string, protocols: string[], options: { ca?: Buffer } = {}): Promise<SpdyTestClient> {
    const r = await httpUpgrade(url, { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': protocols }, options);
    if (r.status !== 101) throw new Error(`upgrade refused: ${r.status} ${r.body}`);
    return new SpdyTestClient(r.socket, r.rest);
  }

  private onBytes(chunk: Buffer): void {
    const frames = this.decoder.push(chunk);
    for (const f of frames) {
      // Header blocks must be inflated in order.
      this.chain = this.chain.then(async () => {
        if (f.type === 'syn_reply' || f.type === 'headers' || f.type === 'syn_stream') {
          decodeHeaderBlock(await this.inflater.decompress(f.headerBlock));
        }
        this.frames.push(f);
        const s = 'streamId' in f ? this.streams.get(f.streamId) : undefined;
        if (f.type === 'syn_reply' && s) s.replied = true;
        if (f.type === 'data' && s) { s.data.push(f.data); if (f.fin) s.fin = true; }
        if (f.type === 'rst_stream' && s) s.reset = f.status;
        if (f.type === 'goaway') this.goAway = { lastGoodStreamId: f.lastGoodStreamId, status: f.status };
        this.wake();
      });
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  /** Resolves once check() holds; rejects after timeoutMs. */
  async until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`SPDY test client: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  private compress(headers: SpdyHeaders): Promise<Buffer> {
    return new Promise((resolve) => {
      this.deflate.write(encodeHeaderBlock(headers));
      this.deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        const out = Buffer.concat(this.deflated);
        this.deflated = [];
        resolve(out);
      });
    });
  }

  /** Opens a stream (SYN_STREAM) and waits for the SYN_REPLY. */
  async open(headers: SpdyHeaders, options: { fin?: boolean; wait?: boolean } = {}): Promise<ClientStream> {
    const id = this.nextId;
    this.nextId += 2;
    const stream: ClientStream = { id, replied: false, data: [], fin: false };
    this.streams.set(id, stream);
    const headerBlock = await this.compress(headers);
    this.write({ type: 'syn_stream', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, fin: options.fin ?? false, unidirectional: false, headerBlock });
    if (options.wait ?? true) await this.until(() => stream.replied || stream.reset !== undefined || this.closed, `SYN_REPLY for stream ${id}`);
    return stream;
  }

  write(frame: Frame): void {
    this.socket.write(encodeFrame(frame));
  }

  send(stream: ClientStream, data: Buffer | string, fin = false): void {
    this.write({ type: 'data', streamId: stream.id, fin, data: Buffer.from(data) });
  }

  text(stream: ClientStream): string {
    return Buffer.concat(stream.data).toString('utf8');
  }

  close(): void {
    this.deflate.destroy();
    this.inflater.close();
    this.socket.destroy();
  }
}

/** Runs a v4 exec over SPDY with the test client; returns stdout and the status JSON. */
export async function spdyExec(url: string, options: { stdin?: string; stderr?: boolean } = {}): Promise<{ stdout: string; status: string; client: SpdyTestClient }> {
  const client = await SpdyTestClient.connect(url, ['v4.channel.k8s.io']);
  const error = await client.open({ streamtype: 'error' });
  const stdin = options.stdin !== undefined ? await client.open({ streamtype: 'stdin' }) : undefined;
  const stdout = await client.open({ streamtype: 'stdout' });
  if (options.stderr ?? true) await client.open({ streamtype: 'stderr' });
  if (stdin) client.send(stdin, options.stdin!, true);
  await client.until(() => error.fin || client.closed, 'the status');
  await client.until(() => client.closed, 'the connection to close');
  return { stdout: client.text(stdout), status: client.text(error), client };
}
