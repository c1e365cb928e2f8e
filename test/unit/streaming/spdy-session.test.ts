// The SPDY session against the test client over an in-memory socket pair.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duplexPair } from 'node:stream';
import { createLogger } from '../../../src/common/logger';
import { GoAwayStatus, RstStatus, SettingId } from '../../../src/streaming/spdy/frames';
import { SpdySession, type SpdyStream } from '../../../src/streaming/spdy/session';
import { SpdyTestClient } from '../../helpers/spdy-test-client';

const logger = createLogger({ level: 'fatal', format: 'json' });

function pair(onStream: (s: SpdyStream) => void = (s) => s.reply(), maxConcurrentStreams?: number): { session: SpdySession; client: SpdyTestClient } {
  const [serverSide, clientSide] = duplexPair();
  const session = new SpdySession(serverSide, { logger, onStream, ...(maxConcurrentStreams ? { maxConcurrentStreams } : {}) });
  const client = new SpdyTestClient(clientSide, Buffer.alloc(0));
  return { session, client };
}

test('the server announces its window, echoes client PINGs and ignores unknown control frames', async (t) => {
  const { session, client } = pair();
  t.after(() => { client.close(); session.destroy(); });
  await client.until(() => client.frames.some((f) => f.type === 'settings'), 'SETTINGS');
  const settings = client.frames.find((f) => f.type === 'settings');
  assert.deepEqual(settings?.type === 'settings' && settings.entries, [
    { flags: 0, id: SettingId.MAX_CONCURRENT_STREAMS, value: 1000 },
    { flags: 0, id: SettingId.INITIAL_WINDOW_SIZE, value: 65536 },
  ]);
  client.write({ type: 'unknown', controlType: 0x77, flags: 0, payload: Buffer.from('?') });
  client.write({ type: 'ping', id: 7 });
  await client.until(() => client.frames.some((f) => f.type === 'ping'), 'PING reply');
  assert.deepEqual(client.frames.find((f) => f.type === 'ping'), { type: 'ping', id: 7 });
  assert.equal(session.isClosed, false);
});

test('streams: headers reach the handler, data flows both ways, FIN half-closes', async (t) => {
  const seen: SpdyStream[] = [];
  const { session, client } = pair((s) => {
    seen.push(s);
    s.reply({ ok: 'yes' });
    s.setEncoding('utf8');
    let text = '';
    s.on('data', (c: string) => { text += c; });
    s.on('end', () => s.end(`got ${text}`));
  });
  t.after(() => { client.close(); session.destroy(); });
  const stream = await client.open({ streamtype: 'stdin', port: '80' });
  assert.equal(stream.replied, true);
  assert.deepEqual(seen[0]?.headers, { streamtype: 'stdin', port: '80' });
  client.send(stream, 'abc');
  client.send(stream, 'def', true);
  await client.until(() => stream.fin, 'FIN from the server');
  assert.equal(client.text(stream), 'got abcdef');
  await client.until(() => session.activeStreams === 0, 'the stream to be forgotten');
});

test('received data is acknowledged with WINDOW_UPDATE for the stream and the session', async (t) => {
  const { session, client } = pair((s) => { s.reply(); s.resume(); });
  t.after(() => { client.close(); session.destroy(); });
  const stream = await client.open({ streamtype: 'stdin' });
  for (let i = 0; i < 5; i++) client.send(stream, Buffer.alloc(16 * 1024));
  await client.until(() => client.frames.filter((f) => f.type === 'window_update').length >= 2, 'WINDOW_UPDATEs');
  const updates = client.frames.filter((f) => f.type === 'window_update');
  assert.ok(updates.some((f) => f.type === 'window_update' && f.streamId === stream.id && f.delta >= 32 * 1024));
  assert.ok(updates.some((f) => f.type === 'window_update' && f.streamId === 0));
});

test('a peer that does flow control gets no more than its window until it sends WINDOW_UPDATE', async (t) => {
  let server: SpdyStream | undefined;
  const { session, client } = pair((s) => { s.reply(); server = s; });
  t.after(() => { client.close(); session.destroy(); });
  client.write({ type: 'settings', clear: false, entries: [{ flags: 0, id: SettingId.INITIAL_WINDOW_SIZE, value: 1000 }] });
  const stream = await client.open({ streamtype: 'stdout' });
  server!.write(Buffer.alloc(2500, 1));
  await client.until(() => Buffer.concat(stream.data).length >= 1000, 'the first window');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(Buffer.concat(stream.data).length, 1000, 'stops at the window');
  client.write({ type: 'window_update', streamId: stream.id, delta: 1000 });
  await client.until(() => Buffer.concat(stream.data).length >= 2000, 'the second window');
  client.write({ type: 'window_update', streamId: stream.id, delta: 5000 });
  await client.until(() => Buffer.concat(stream.data).length === 2500, 'the rest');
});

test('a peer without flow control (Go spdystream) is not stalled by the 64 KiB window', async (t) => {
  let server: SpdyStream | undefined;
  const { session, client } = pair((s) => { s.reply(); server = s; });
  t.after(() => { client.close(); session.destroy(); });
  const stream = await client.open({ streamtype: 'stdout' });
  server!.end(Buffer.alloc(300 * 1024, 2));
  await client.until(() => stream.fin, 'all data and FIN');
  assert.equal(Buffer.concat(stream.data).length, 300 * 1024);
});

test('stream-level errors reset the stream; the session goes on', async (t) => {
  const { session, client } = pair();
  t.after(() => { client.close(); session.destroy(); });
  client.write({ type: 'data', streamId: 99, fin: false, data: Buffer.from('x') });
  await client.until(() => client.frames.some((f) => f.type === 'rst_stream'), 'RST_STREAM');
  assert.deepEqual(client.frames.find((f) => f.type === 'rst_stream'), { type: 'rst_stream', streamId: 99, status: RstStatus.INVALID_STREAM });
  const ok = await client.open({ streamtype: 'error' });
  assert.equal(ok.replied, true);
  client.send(ok, 'bye', true);
  client.send(ok, 'again');
  await client.until(() => ok.reset !== undefined, 'RST after data past FIN');
  assert.equal(ok.reset, RstStatus.STREAM_ALREADY_CLOSED);
  assert.equal(session.isClosed, false);
});

test('a malformed frame ends the session with GOAWAY PROTOCOL_ERROR', async (t) => {
  const { session, client } = pair();
  t.after(() => { client.close(); session.destroy(); });
  await client.open({ streamtype: 'error' });
  // RST_STREAM with a 4-byte payload.
  client.socket.write(Buffer.from([0x80, 0x03, 0x00, 0x03, 0, 0, 0, 4, 0, 0, 0, 1]));
  await client.until(() => client.goAway !== undefined, 'GOAWAY');
  assert.deepEqual(client.goAway, { lastGoodStreamId: 1, status: GoAwayStatus.PROTOCOL_ERROR });
  assert.equal(session.isClosed, true);
});

test('a SYN_STREAM with an id going backwards is a session error; an even or reused id is refused', async (t) => {
  const { session, client } = pair();
  t.after(() => { client.close(); session.destroy(); });
  client.write({ type: 'syn_stream', streamId: 2, associatedStreamId: 0, priority: 0, slot: 0, fin: false, unidirectional: false, headerBlock: Buffer.alloc(0) });
  await client.until(() => client.frames.some((f) => f.type === 'rst_stream'), 'RST for an even id');
  const a = await client.open({ streamtype: 'a' });
  await client.open({ streamtype: 'b' });
  const ids = client as unknown as { nextId: number };
  // Stream 3 again while it is open: STREAM_IN_USE.
  ids.nextId = 3;
  const again = await client.open({ streamtype: 'c' });
  assert.equal(again.reset, RstStatus.STREAM_IN_USE);
  // Stream 1 again after it was closed: ids must only grow.
  client.write({ type: 'rst_stream', streamId: a.id, status: RstStatus.CANCEL });
  ids.nextId = 1;
  await client.open({ streamtype: 'd' }, { wait: false });
  await client.until(() => client.goAway !== undefined, 'GOAWAY');
  assert.equal(client.goAway?.status, GoAwayStatus.PROTOCOL_ERROR);
});

test('streams beyond the concurrency limit are refused; closing one makes room', async (t) => {
  const { session, client } = pair((s) => s.reply(), 2);
  t.after(() => { client.close(); session.destroy(); });
  const a = await client.open({ n: '1' });
  await client.open({ n: '2' });
  const third = await client.open({ n: '3' });
  assert.equal(third.reset, RstStatus.REFUSED_STREAM);
  client.write({ type: 'rst_stream', streamId: a.id, status: RstStatus.CANCEL });
  const fourth = await client.open({ n: '4' });
  assert.equal(fourth.replied, true);
});

test('a peer that starts flow control late is not stalled by data sent before', async (t) => {
  let server: SpdyStream | undefined;
  const { session, client } = pair((s) => { s.reply(); server = s; });
  t.after(() => { client.close(); session.destroy(); });
  const stream = await client.open({ streamtype: 'stdout' });
  server!.write(Buffer.alloc(200 * 1024));
  await client.until(() => Buffer.concat(stream.data).length === 200 * 1024, 'the unmetered data');
  client.write({ type: 'window_update', streamId: stream.id, delta: 100 });
  server!.write(Buffer.alloc(1000));
  await client.until(() => Buffer.concat(stream.data).length >= 200 * 1024 + 1000, 'data after the first WINDOW_UPDATE');
});
