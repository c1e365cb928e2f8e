import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ControlType, FrameDecoder, RstStatus, SpdyFrameError, decodeControlFrame, encodeFrame, type Frame,
} from '../../../src/streaming/spdy/frames';

const samples: Frame[] = [
  { type: 'data', streamId: 5, fin: false, data: Buffer.from('hello') },
  { type: 'data', streamId: 0x7fffffff, fin: true, data: Buffer.alloc(0) },
  { type: 'syn_stream', streamId: 1, associatedStreamId: 0, priority: 7, slot: 0, fin: false, unidirectional: true, headerBlock: Buffer.from([1, 2, 3]) },
  { type: 'syn_reply', streamId: 3, fin: true, headerBlock: Buffer.from([9]) },
  { type: 'rst_stream', streamId: 7, status: RstStatus.CANCEL },
  { type: 'settings', clear: true, entries: [{ flags: 1, id: 7, value: 65536 }, { flags: 0, id: 4, value: 100 }] },
  { type: 'ping', id: 0xfffffffe },
  { type: 'goaway', lastGoodStreamId: 11, status: 1 },
  { type: 'headers', streamId: 9, fin: false, headerBlock: Buffer.from('abc') },
  { type: 'window_update', streamId: 0, delta: 0x7fffffff },
  { type: 'unknown', controlType: 0x42, flags: 3, payload: Buffer.from('zz') },
];

test('every frame type survives encode → decode', () => {
  const decoder = new FrameDecoder();
  for (const frame of samples) {
    const [decoded, ...more] = decoder.push(encodeFrame(frame));
    assert.equal(more.length, 0);
    assert.deepEqual(decoded, frame);
  }
});

test('control frames carry version 3 and the control bit; data frames do not', () => {
  const ping = encodeFrame({ type: 'ping', id: 1 });
  assert.deepEqual([...ping.subarray(0, 8)], [0x80, 0x03, 0x00, ControlType.PING, 0, 0, 0, 4]);
  const data = encodeFrame({ type: 'data', streamId: 3, fin: true, data: Buffer.from('x') });
  assert.deepEqual([...data], [0, 0, 0, 3, 1, 0, 0, 1, 0x78]);
});

test('the decoder reassembles frames split at every byte and splits coalesced ones', () => {
  const wire = Buffer.concat(samples.map(encodeFrame));
  const decoder = new FrameDecoder();
  const out: Frame[] = [];
  for (const byte of wire) out.push(...decoder.push(Buffer.from([byte])));
  assert.deepEqual(out, samples);
  assert.deepEqual(new FrameDecoder().push(wire), samples);
  assert.equal(decoder.bufferedBytes, 0);
});

test('malformed control frames are rejected with SpdyFrameError', () => {
  const bad: [string, () => unknown][] = [
    ['wrong version', () => decodeControlFrame(2, ControlType.PING, 0, Buffer.alloc(4))],
    ['short RST_STREAM', () => decodeControlFrame(3, ControlType.RST_STREAM, 0, Buffer.alloc(4))],
    ['long PING', () => decodeControlFrame(3, ControlType.PING, 0, Buffer.alloc(8))],
    ['SETTINGS count mismatch', () => decodeControlFrame(3, ControlType.SETTINGS, 0, Buffer.from([0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 1]))],
    ['short SYN_STREAM', () => decodeControlFrame(3, ControlType.SYN_STREAM, 0, Buffer.alloc(6))],
    ['zero WINDOW_UPDATE', () => decodeControlFrame(3, ControlType.WINDOW_UPDATE, 0, Buffer.alloc(8))],
    ['short GOAWAY', () => decodeControlFrame(3, ControlType.GOAWAY, 0, Buffer.alloc(4))],
  ];
  for (const [what, fn] of bad) assert.throws(fn, SpdyFrameError, what);
});

test('the decoder refuses frames over its payload limit before buffering them', () => {
  const decoder = new FrameDecoder({ maxPayload: 100 });
  const header = Buffer.from([0, 0, 0, 1, 0, 0, 0, 101]);
  assert.throws(() => decoder.push(header), /exceeds the limit/);
});

test('stream ids keep 31 bits; the reserved bit is ignored on decode', () => {
  const frame = encodeFrame({ type: 'rst_stream', streamId: 3, status: 5 });
  frame[8] = frame[8]! | 0x80; // set the reserved bit of the stream id
  const [decoded] = new FrameDecoder().push(frame);
  assert.deepEqual(decoded, { type: 'rst_stream', streamId: 3, status: 5 });
});
