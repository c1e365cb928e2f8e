// HPACK decoding against RFC 7541's examples and Node's own encoder, and the
// literal-only encoder cradle re-encodes with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeHeaderBlock, HpackDecoder, type HeaderField } from '../../../src/cri-server/http2/hpack';
import { huffmanDecode } from '../../../src/cri-server/http2/huffman';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const pairs = (fields: HeaderField[]) => fields.map((f) => [f.name, f.value]);

test('RFC 7541 C.4: three requests with Huffman coding share one dynamic table', () => {
  const decoder = new HpackDecoder();
  assert.deepEqual(pairs(decoder.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'))), [
    [':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'],
  ]);
  assert.deepEqual(pairs(decoder.decode(hex('8286 84be 5886 a8eb 1064 9cbf'))), [
    [':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache'],
  ]);
  assert.deepEqual(pairs(decoder.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'))), [
    [':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value'],
  ]);
});

test('RFC 7541 C.3.1: a request without Huffman coding', () => {
  assert.deepEqual(pairs(new HpackDecoder().decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'))), [
    [':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'],
  ]);
});

test('a dynamic table size update evicts, and an index beyond the table is refused', () => {
  const decoder = new HpackDecoder();
  // Literal with incremental indexing, new name "a" = "b" (34 octets in the table), then index 62.
  const insert = hex('40 0161 0162');
  assert.deepEqual(pairs(decoder.decode(Buffer.concat([insert, hex('be')]))), [['a', 'b'], ['a', 'b']]);
  // Size 0 empties the table: index 62 no longer resolves.
  assert.throws(() => decoder.decode(hex('20 be')), /beyond the dynamic table/);
  // A size update after a field is a decoding error (RFC 7541 §4.2).
  assert.throws(() => new HpackDecoder().decode(hex('82 20')), /size update after a header field/);
  // 4097: above the table size the server side allows.
  assert.throws(() => new HpackDecoder().decode(hex('3fe21f')), /4097 above 4096/);
});

test('never-indexed fields stay never-indexed through re-encoding', () => {
  const fields: HeaderField[] = [
    { name: ':authority', value: 'localhost', sensitive: false },
    { name: 'authorization', value: 'Bearer secret', sensitive: true },
    { name: 'x-custom', value: 'v'.repeat(300), sensitive: false },
    { name: 'bin-bytes', value: '\u00ff\u0000\u0080', sensitive: false },
  ];
  const encoded = encodeHeaderBlock(fields);
  assert.equal(encoded[encoded.indexOf(Buffer.from('localhost')) - 2] & 0xf0, 0x00, 'authority: literal without indexing');
  assert.deepEqual(new HpackDecoder().decode(encoded), fields);
  // A fresh decoder every time: the encoding left no table state behind.
  assert.deepEqual(new HpackDecoder().decode(encodeHeaderBlock(fields)), fields);
});

test('huffman decoding refuses bad padding and EOS', () => {
  assert.equal(huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff')).toString(), 'www.example.com');
  // "0" is 00000; padding with zeros instead of ones is invalid.
  assert.throws(() => huffmanDecode(hex('00')), /padding/);
  // Eight or more bits of padding are invalid.
  assert.throws(() => huffmanDecode(hex('ff')), /padding/);
  // The 30-bit EOS code inside a string.
  assert.throws(() => huffmanDecode(hex('ffff ffff')), /EOS/);
});
