import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errors } from '../../../src/common/errors';
import { RequestCache, type StreamingRequest } from '../../../src/streaming/tokens';

const exec: StreamingRequest = { kind: 'exec', request: { containerId: 'c1', cmd: ['ls'], tty: false, stdin: false, stdout: true, stderr: true } };

test('tokens are random URL-safe strings and single use', () => {
  const cache = new RequestCache();
  const a = cache.insert(exec);
  const b = cache.insert(exec);
  assert.match(a, /^[A-Za-z0-9_-]{22}$/);
  assert.notEqual(a, b);
  assert.deepEqual(cache.consume(a), exec);
  assert.equal(cache.consume(a), undefined, 'second use');
  assert.equal(cache.consume('nope'), undefined);
});

test('tokens expire after the TTL', () => {
  let now = 1000;
  const cache = new RequestCache({ ttlMs: 60_000, now: () => now });
  const token = cache.insert(exec);
  now += 59_999;
  const fresh = cache.insert(exec);
  now += 1;
  assert.equal(cache.consume(token), undefined);
  assert.deepEqual(cache.consume(fresh), exec);
});

test('at most maxInFlight requests wait; expired ones free their slot', () => {
  let now = 0;
  const cache = new RequestCache({ maxInFlight: 2, ttlMs: 10, now: () => now });
  cache.insert(exec);
  cache.insert(exec);
  assert.throws(() => cache.insert(exec), (err: unknown) => errors.resourceExhausted.is(err) && /2 exec requests/.test((err as Error).message));
  now = 10;
  assert.equal(cache.size, 0);
  cache.insert(exec);
});
