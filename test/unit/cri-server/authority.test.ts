// The CRI socket serves clients whatever :authority they send: the socket path
// (grpc-go's kubelet <= 1.29, crictl and critest 1.26), "localhost", or none.
// Node's HTTP/2 layer alone resets a stream whose authority holds a "/".
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CriServer } from '../../../src/cri-server/server';
import { createLogger, silentLogger, type Logger } from '../../../src/common/logger';
import { CriClient } from '../../helpers/cri-client';
import { AuthorityRewriter } from '../../../src/cri-server/http2/authority-rewriter';
import { ServerErrorWatcher, type SentError } from '../../../src/cri-server/http2/error-watcher';
import { CLIENT_PREFACE, FrameFlag, FrameType, frameHeader, parseFrameHeader } from '../../../src/cri-server/http2/frames';
import { encodeHeaderBlock, HpackDecoder, type HeaderField } from '../../../src/cri-server/http2/hpack';

interface LogLine { level: string; msg: string; peer?: { pid: number }; [key: string]: unknown }

async function startServer(t: TestContext, log: Logger = silentLogger()): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-authority-'));
  const socket = path.join(dir, 'cradle.sock');
  const server = new CriServer({
    listen: `unix://${socket}`, maxMessageSize: 16 << 20, socketMode: 0o660, log, interceptors: [], image: {},
    runtime: { Version: async () => ({ version: '0.1.0', runtimeName: 'cradle', runtimeVersion: 'test', runtimeApiVersion: 'v1' }) },
  });
  await server.start();
  t.after(async () => { await server.shutdown(1000); fs.rmSync(dir, { recursive: true, force: true }); });
  return socket;
}

function capturingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = createLogger({ level: 'debug', format: 'json', destination: { write: (line: string) => { lines.push(JSON.parse(line) as LogLine); } } });
  return { log, lines };
}

/** A Version call made with Node's own HTTP/2 client, with the :authority given (or none). */
async function rawVersionCall(socket: string, authority: string | undefined): Promise<{ status: number | undefined; grpcStatus: string | undefined; body: Buffer }> {
  const session = http2.connect('http://localhost', { createConnection: () => net.connect(socket) });
  try {
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST', ':path': '/runtime.v1.RuntimeService/Version', 'content-type': 'application/grpc', te: 'trailers',
    };
    if (authority !== undefined) headers[':authority'] = authority;
    const stream = session.request(headers);
    const chunks: Buffer[] = [];
    let status: number | undefined;
    let grpcStatus: string | undefined;
    stream.on('response', (h) => { status = h[':status']; grpcStatus ??= h['grpc-status'] as string | undefined; });
    stream.on('trailers', (h) => { grpcStatus = h['grpc-status'] as string | undefined; });
    stream.on('data', (c: Buffer) => chunks.push(c));
    // An empty VersionRequest: a 5-byte gRPC frame prefix with length 0.
    stream.end(Buffer.alloc(5));
    await new Promise<void>((resolve, reject) => { stream.on('close', resolve); stream.on('error', reject); });
    return { status, grpcStatus, body: Buffer.concat(chunks) };
  } finally {
    session.close();
  }
}

test('a grpc-js client whose authority is the socket path is served', async (t) => {
  const socket = await startServer(t);
  const cri = new CriClient(`unix://${socket}`, { 'grpc.default_authority': socket });
  t.after(() => cri.close());
  // Many calls on one connection: the client's HPACK table fills and is followed.
  for (let i = 0; i < 50; i++) assert.equal((await cri.runtime.Version({})).runtimeName, 'cradle');
});

for (const [label, authority] of [['the socket path', '/run/cradle/cradle.sock'], ['localhost', 'localhost'], ['an empty authority', ''], ['no authority', undefined]] as const) {
  test(`Node's HTTP/2 client with ${label} as :authority gets a gRPC answer`, async (t) => {
    const socket = await startServer(t);
    const res = await rawVersionCall(socket, authority);
    assert.equal(res.status, 200);
    assert.equal(res.grpcStatus, '0');
    assert.ok(res.body.includes(Buffer.from('cradle')), 'the VersionResponse names the runtime');
  });
}

test('header blocks larger than a frame pass as HEADERS plus CONTINUATION', async (t) => {
  const socket = await startServer(t);
  const cri = new CriClient(`unix://${socket}`, { 'grpc.default_authority': socket });
  t.after(() => cri.close());
  const client = (cri as unknown as { clients: grpc.Client[] }).clients[0] as unknown as Record<string, (...args: unknown[]) => unknown>;
  const metadata = new grpc.Metadata();
  metadata.set('x-large', 'v'.repeat(40_000));
  const res = await new Promise<{ runtimeName: string }>((resolve, reject) => {
    client.Version!.call(client, {}, metadata, (err: Error | null, r: { runtimeName: string }) => (err ? reject(err) : resolve(r)));
  });
  assert.equal(res.runtimeName, 'cradle');
});

test('a client that does not speak HTTP/2 is logged once with its pid', async (t) => {
  const { log, lines } = capturingLogger();
  const socket = await startServer(t, log);
  const conn = net.connect(socket);
  conn.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise<void>((resolve) => { conn.on('close', () => resolve()); conn.on('error', () => resolve()); conn.resume(); });
  const warnings = lines.filter((l) => l.level === 'warn');
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.match(warnings[0].msg, /HTTP\/2 preface/);
  assert.equal(warnings[0].peer?.pid, process.pid);
});

test('a stream the HTTP/2 layer refuses is logged with the peer pid', async (t) => {
  const { log, lines } = capturingLogger();
  const socket = await startServer(t, log);
  // A request with an uppercase header name: nghttp2 resets the stream (PROTOCOL_ERROR).
  const block = encodeHeaderBlock([
    { name: ':method', value: 'POST', sensitive: false }, { name: ':scheme', value: 'http', sensitive: false },
    { name: ':path', value: '/runtime.v1.RuntimeService/Version', sensitive: false }, { name: ':authority', value: 'localhost', sensitive: false },
    { name: 'Bad-Name', value: 'x', sensitive: false },
  ]);
  const conn = net.connect(socket);
  conn.write(Buffer.concat([
    CLIENT_PREFACE, frameHeader(0, 0x4 /* SETTINGS */, 0, 0),
    frameHeader(block.length, FrameType.HEADERS, FrameFlag.END_HEADERS | FrameFlag.END_STREAM, 1), block,
  ]));
  const received: Buffer[] = [];
  conn.on('data', (c: Buffer) => received.push(c));
  await waitFor(() => lines.some((l) => l.level === 'warn'));
  conn.destroy();
  const warning = lines.find((l) => l.level === 'warn')!;
  assert.equal(warning.msg, 'HTTP/2 stream refused');
  assert.equal(warning.errorCode, 'PROTOCOL_ERROR');
  assert.equal(warning.peer?.pid, process.pid);
});

test('the rewriter re-encodes every header block, in any chunking, and leaves other frames alone', () => {
  const requestFields = (authority: string): HeaderField[] => [
    { name: ':method', value: 'POST', sensitive: false }, { name: ':authority', value: authority, sensitive: false },
    { name: ':path', value: '/runtime.v1.RuntimeService/Version', sensitive: false },
  ];
  const block = encodeHeaderBlock(requestFields('/run/cradle/cradle.sock'));
  const data = Buffer.from([0, 0, 0, 0, 0]);
  // HEADERS with PADDED and PRIORITY, split into a CONTINUATION, then a DATA frame.
  const padded = Buffer.concat([Buffer.from([3]), Buffer.from([0, 0, 0, 0, 15]), block.subarray(0, 10), Buffer.alloc(3)]);
  const input = Buffer.concat([
    CLIENT_PREFACE,
    frameHeader(padded.length, FrameType.HEADERS, FrameFlag.PADDED | FrameFlag.PRIORITY, 1), padded,
    frameHeader(block.length - 10, FrameType.CONTINUATION, FrameFlag.END_HEADERS, 1), block.subarray(10),
    frameHeader(data.length, FrameType.DATA, FrameFlag.END_STREAM, 1), data,
  ]);
  for (const chunkSize of [1, 7, 64, input.length]) {
    const replaced: string[] = [];
    const rewriter = new AuthorityRewriter({ badPreface: () => assert.fail('bad preface'), undecodable: (reason) => assert.fail(reason), authorityReplaced: (a) => replaced.push(a) });
    const out: Buffer[] = [];
    for (let i = 0; i < input.length; i += chunkSize) out.push(...rewriter.push(input.subarray(i, i + chunkSize)));
    const bytes = Buffer.concat(out);
    assert.ok(bytes.subarray(0, CLIENT_PREFACE.length).equals(CLIENT_PREFACE));
    const headers = parseFrameHeader(bytes.subarray(24, 33));
    assert.equal(headers.type, FrameType.HEADERS);
    assert.equal(headers.flags, FrameFlag.PRIORITY | FrameFlag.END_HEADERS, 'padding dropped, priority kept, one frame');
    assert.deepEqual(bytes.subarray(33, 38), Buffer.from([0, 0, 0, 0, 15]));
    const fields = new HpackDecoder().decode(bytes.subarray(38, 33 + headers.length));
    assert.deepEqual(fields, requestFields('localhost'));
    assert.deepEqual(bytes.subarray(33 + headers.length), Buffer.concat([frameHeader(data.length, FrameType.DATA, FrameFlag.END_STREAM, 1), data]));
    assert.deepEqual(replaced, ['/run/cradle/cradle.sock']);
  }
});

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('the server-side watcher finds refusals in any chunking and ignores ordinary stream ends', () => {
  const rst = (streamId: number, code: number) => {
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(code, 0);
    return Buffer.concat([frameHeader(4, FrameType.RST_STREAM, 0, streamId), payload]);
  };
  const goaway = Buffer.concat([frameHeader(8, FrameType.GOAWAY, 0, 0), Buffer.from([0, 0, 0, 5, 0, 0, 0, 9])]);
  const data = Buffer.concat([frameHeader(20, FrameType.DATA, 0, 1), Buffer.alloc(20, 0x61)]);
  const bytes = Buffer.concat([data, rst(1, 8 /* CANCEL */), rst(3, 1 /* PROTOCOL_ERROR */), data, goaway]);
  for (const chunkSize of [1, 5, 13, bytes.length]) {
    const seen: SentError[] = [];
    const watcher = new ServerErrorWatcher((e) => seen.push(e));
    for (let i = 0; i < bytes.length; i += chunkSize) watcher.observe(bytes.subarray(i, i + chunkSize));
    assert.deepEqual(seen, [
      { frame: 'RST_STREAM', streamId: 3, errorCode: 1 },
      { frame: 'GOAWAY', streamId: 5, errorCode: 9 },
    ], `chunks of ${chunkSize}`);
  }
});
