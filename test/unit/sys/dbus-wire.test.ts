// The D-Bus wire format of the systemd driver's client (src/sys/dbus.ts): a method
// call byte for byte as the specification lays it out, and decoding what it encodes.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { decodeMessage, encodeMethodCall, messageLength, splitSignature, variant } from '../../../src/sys/dbus';

test('signatures split into complete types', () => {
  assert.deepEqual(splitSignature('ssa(sv)a(sa(sv))'), ['s', 's', 'a(sv)', 'a(sa(sv))']);
  assert.deepEqual(splitSignature('a{sv}u'), ['a{sv}', 'u']);
  assert.throws(() => splitSignature('a(sv'), /unclosed/);
  assert.throws(() => splitSignature('z'), /unsupported/);
});

test('a method call: fixed header, padded header fields, body aligned to 8', () => {
  const msg = encodeMethodCall(7, { path: '/o', interface: 'i.f', member: 'M', signature: 'su', body: ['ab', 5] });
  assert.equal(msg.toString('latin1', 0, 4), 'l\x01\x00\x01', 'little-endian, method call, no flags, version 1');
  assert.equal(msg.readUInt32LE(4), 12, 'body: "ab" (4+2+1), pad 1, u32');
  assert.equal(msg.readUInt32LE(8), 7, 'serial');
  assert.equal(messageLength(msg), msg.length);
  const body = msg.subarray(msg.length - 12);
  assert.deepEqual([...body], [2, 0, 0, 0, 0x61, 0x62, 0, 0, 5, 0, 0, 0]);
  assert.equal((msg.length - 12) % 8, 0, 'the body starts on an 8-byte boundary');
});

test('what is encoded decodes to the same values: arrays of structs, variants, 64-bit values', () => {
  const props = [['Slice', variant('s', 'kubepods.slice')], ['PIDs', variant('au', [1, 4242])], ['Delegate', variant('b', true)], ['MemoryMax', variant('t', (1n << 64n) - 1n)]];
  const msg = encodeMethodCall(1, {
    destination: 'org.freedesktop.systemd1', path: '/org/freedesktop/systemd1', interface: 'org.freedesktop.systemd1.Manager',
    member: 'StartTransientUnit', signature: 'ssa(sv)a(sa(sv))', body: ['cradle-x.scope', 'replace', props, []],
  });
  const decoded = decodeMessage(msg);
  assert.equal(decoded.serial, 1);
  assert.equal(decoded.fields.get(3), 'StartTransientUnit');
  assert.equal(decoded.fields.get(6), 'org.freedesktop.systemd1');
  assert.deepEqual(decoded.body, ['cradle-x.scope', 'replace', props, []]);
  // An empty array of 8-aligned elements still pads to the element boundary.
  const empty = decodeMessage(encodeMethodCall(2, { path: '/', interface: 'a.b', member: 'M', signature: 'ya(tt)y', body: [1, [], 2] }));
  assert.deepEqual(empty.body, [1, [], 2]);
});

test('a truncated message is refused, not misread', () => {
  const msg = encodeMethodCall(1, { path: '/', interface: 'a.b', member: 'M', signature: 's', body: ['hello'] });
  assert.equal(messageLength(msg.subarray(0, 10)), undefined);
  assert.throws(() => decodeMessage(msg.subarray(0, msg.length - 3)), /truncated/);
});
