import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UndoStack } from '../../src/common/undo';
import * as grpc from '@grpc/grpc-js';
import { errors, withContext, isCradleError } from '../../src/common/errors';
import { toWireError } from '../../src/cri-server/error-codes';

test('undo stack unwinds in reverse order and keeps going past failures', async () => {
  const undone: string[] = [];
  const stack = new UndoStack();
  stack.push('a', () => { undone.push('a'); });
  stack.push('b', () => { throw new Error('boom'); });
  stack.push('c', async () => { undone.push('c'); });
  const failures = await stack.unwind();
  assert.deepEqual(undone, ['c', 'a']);
  assert.deepEqual(failures, ['b: boom']);
  assert.equal(stack.size, 0);
});

test('released undo stack undoes nothing', async () => {
  let ran = false;
  const stack = new UndoStack();
  stack.push('x', () => { ran = true; });
  stack.release();
  await stack.unwind();
  assert.equal(ran, false);
});

test('withContext keeps code and kind of catalogue errors, wraps others as internal', () => {
  const inner = errors.notFound('pod sandbox', 'abc');
  const outer = withContext(inner, 'stopping pod');
  assert.equal(outer.code, 'CRADLE_ERR_NOT_FOUND');
  assert.equal(outer.kind, 'not-found');
  assert.equal(outer.message, 'stopping pod: pod sandbox "abc" not found');
  assert.ok(errors.notFound.is(outer));
  const wrapped = withContext(new Error('disk on fire'), 'writing state');
  assert.equal(wrapped.kind, 'internal');
  assert.ok(isCradleError(wrapped));
  assert.ok(!isCradleError(new Error('x')));
});

test('a full or read-only disk keeps its meaning through withContext and at the edge', () => {
  const sysErr = (code: string) => Object.assign(new Error(`${code}: failed, write`), { code });
  const full = withContext(sysErr('ENOSPC'), 'writing layer');
  assert.equal(full.code, 'CRADLE_ERR_NO_SPACE');
  assert.equal(full.kind, 'resource-exhausted');
  assert.equal(withContext(sysErr('EDQUOT'), 'x').kind, 'resource-exhausted');
  assert.equal(withContext(sysErr('EROFS'), 'x').code, 'CRADLE_ERR_READ_ONLY_FS');
  assert.equal(toWireError(sysErr('ENOSPC')).code, grpc.status.RESOURCE_EXHAUSTED);
  assert.equal(toWireError(sysErr('EROFS')).code, grpc.status.FAILED_PRECONDITION);
  assert.equal(toWireError(sysErr('EIO')).code, grpc.status.INTERNAL);
});
