import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { SPDY3_HEADER_DICTIONARY } from '../../../src/streaming/spdy/dictionary';
import {
  HeaderCompressor, HeaderDecompressor, decodeHeaderBlock, encodeHeaderBlock,
} from '../../../src/streaming/spdy/header-block';
import { SpdyFrameError } from '../../../src/streaming/spdy/frames';

test('the SPDY/3 dictionary is the 1423 bytes of the draft, starting with "options"', () => {
  assert.equal(SPDY3_HEADER_DICTIONARY.length, 1423);
  assert.deepEqual([...SPDY3_HEADER_DICTIONARY.subarray(0, 11)], [0, 0, 0, 7, ...Buffer.from('options')]);
  assert.ok(SPDY3_HEADER_DICTIONARY.toString('latin1').endsWith(',enq=0.'));
});

test('name/value blocks round-trip, with NUL-joined multi-values', () => {
  const headers = { streamtype: 'stdout', port: '8080', 'x-multi': 'a\0b' };
  const block = encodeHeaderBlock(headers);
  assert.equal(block.readUInt32BE(0), 3);
  assert.deepEqual(decodeHeaderBlock(block), headers);
  assert.deepEqual(decodeHeaderBlock(Buffer.alloc(0)), {});
});

test('invalid name/value blocks are rejected', () => {
  const dup = Buffer.concat([encodeHeaderBlock({ a: '1' }).subarray(0, 4), encodeHeaderBlock({ a: '1' }).subarray(4), encodeHeaderBlock({ a: '2' }).subarray(4)]);
  dup.writeUInt32BE(2, 0);
  assert.throws(() => decodeHeaderBlock(dup), /appears twice/);
  const upper = encodeHeaderBlock({ x: '1' });
  upper[8] = 'X'.charCodeAt(0);
  assert.throws(() => decodeHeaderBlock(upper), /not lowercase/);
  const truncated = encodeHeaderBlock({ streamtype: 'error' }).subarray(0, 10);
  assert.throws(() => decodeHeaderBlock(truncated), SpdyFrameError);
  const trailing = Buffer.concat([encodeHeaderBlock({ a: 'b' }), Buffer.from([0])]);
  assert.throws(() => decodeHeaderBlock(trailing), /trailing/);
});

test('our compressed blocks form ONE zlib stream that a dictionary inflater reads block by block', async () => {
  const compressor = new HeaderCompressor();
  const inflate = zlib.createInflate({ dictionary: SPDY3_HEADER_DICTIONARY });
  const out: Buffer[] = [];
  inflate.on('data', (c: Buffer) => out.push(c));
  const big = { big: 'v'.repeat(70_000) }; // more than one stored block
  const blocks: Record<string, string>[] = [{ streamtype: 'error' }, big, {}];
  for (const headers of blocks) {
    const wire = compressor.compress(encodeHeaderBlock(headers));
    await new Promise<void>((resolve) => { inflate.write(wire); inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()); });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(decodeHeaderBlock(Buffer.concat(out.splice(0))), headers);
  }
  inflate.destroy();
});

test('the decompressor follows a real deflate stream (context kept across blocks)', async () => {
  const deflate = zlib.createDeflate({ dictionary: SPDY3_HEADER_DICTIONARY, level: 9 });
  const chunks: Buffer[] = [];
  deflate.on('data', (c: Buffer) => chunks.push(c));
  const decompressor = new HeaderDecompressor();
  for (let i = 0; i < 5; i++) {
    const headers = { streamtype: i % 2 ? 'data' : 'error', port: '80', requestid: String(i) };
    const wire = await new Promise<Buffer>((resolve) => {
      deflate.write(encodeHeaderBlock(headers));
      deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => setImmediate(() => resolve(Buffer.concat(chunks.splice(0)))));
    });
    if (i > 0) assert.ok(wire.length < 20, 'later blocks reuse the context and are tiny');
    assert.deepEqual(decodeHeaderBlock(await decompressor.decompress(wire)), headers);
  }
  deflate.destroy();
  decompressor.close();
});

test('garbage header blocks fail the decompressor, for good', async () => {
  const decompressor = new HeaderDecompressor();
  await assert.rejects(decompressor.decompress(Buffer.from('definitely not zlib')), SpdyFrameError);
  await assert.rejects(decompressor.decompress(Buffer.from([1])), SpdyFrameError);
  decompressor.close();
});
