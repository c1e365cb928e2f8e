import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuRateTracker } from '../../../src/stats';

const S = 1_000_000_000n;

test('rate = Δusage / Δtime in core-nanoseconds per second, per key', () => {
  const t = new CpuRateTracker();
  assert.equal(t.update('a', 10n * S, 100n * S), undefined);
  assert.equal(t.update('b', 0n, 100n * S), undefined);
  assert.equal(t.update('a', 15n * S, 110n * S), S / 2n, 'half a core');
  assert.equal(t.update('b', 40n * S, 120n * S), 2n * S, 'two cores');
});

test('readings closer than the minimum interval reuse the last rate and keep the baseline', () => {
  const t = new CpuRateTracker(S);
  t.update('a', 0n, 100n * S);
  assert.equal(t.update('a', 10n * S, 110n * S), S);
  assert.equal(t.update('a', 10n * S + 1n, 110n * S + 1000n), S, 'tiny window: previous rate');
  assert.equal(t.update('a', 20n * S, 130n * S), S / 2n, 'measured from the 110 s baseline');
});

test('a counter going backwards (a new cgroup under the same key) restarts; forget and retain drop keys', () => {
  const t = new CpuRateTracker(0n);
  t.update('a', 10n * S, 100n * S);
  assert.equal(t.update('a', 1n * S, 101n * S), undefined);
  t.update('b', 0n, 1n);
  t.update('c', 0n, 1n);
  t.forget('a');
  t.retain(['b']);
  assert.equal(t.size, 1);
  assert.equal(t.update('b', S, 1n + S), S);
});
