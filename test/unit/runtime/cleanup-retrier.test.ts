// The cleanup retrier with a controlled clock and timers: a release failing N times
// is retried with doubling delays until it succeeds, listed as pending meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CleanupRetrier } from '../../../src/runtime/cleanup-retrier';
import { UndoStack } from '../../../src/common/undo';

/** Timers the test fires by hand, and a clock it moves. */
function manualTimers() {
  const timers: { fn: () => void; ms: number; cleared: boolean }[] = [];
  let now = 1_000;
  return {
    timers,
    now: () => now,
    setTimer: (fn: () => void, ms: number) => { const t = { fn, ms, cleared: false }; timers.push(t); return t; },
    clearTimer: (t: unknown) => { (t as { cleared: boolean }).cleared = true; },
    /** Fires the latest timer and lets its retry settle. */
    async fire(): Promise<void> {
      const t = timers[timers.length - 1]!;
      now += t.ms;
      t.fn();
      await new Promise((r) => setImmediate(r));
    },
  };
}

/** A release that fails its first `failures` calls. */
function flaky(failures: number) {
  const state = { calls: 0 };
  const release = () => {
    state.calls++;
    if (state.calls <= failures) throw new Error(`umount: device busy (${state.calls})`);
  };
  return { state, release };
}

test('a release failing 3 times is retried with doubling delays until it is clean', async () => {
  const clock = manualTimers();
  const retries: string[] = [];
  const retrier = new CleanupRetrier({ ...clock, initialDelayMs: 500, onRetry: (kind, ok) => retries.push(`${kind}:${ok}`) });
  const { state, release } = flaky(3);

  assert.equal(await retrier.release('pod run directory', 'p1', release), false, 'the first try failed');
  assert.deepEqual(retrier.pending('p1').map((p) => [p.kind, p.attempts, p.lastError]), [['pod run directory', 1, 'umount: device busy (1)']]);
  assert.equal(retrier.pending('p1')[0]!.nextAttemptAt, 1_500);

  await clock.fire();
  await clock.fire();
  assert.deepEqual(clock.timers.map((t) => t.ms), [500, 1000, 2000], 'each delay doubles');
  assert.equal(retrier.pending('p1')[0]!.attempts, 3);

  await clock.fire();
  assert.equal(state.calls, 4);
  assert.deepEqual(retrier.pending(), [], 'clean after the 4th try');
  assert.deepEqual(retries, ['pod run directory:false', 'pod run directory:false', 'pod run directory:true']);
  assert.equal(clock.timers.length, 3, 'no retry after success');
});

test('a release that succeeds at once is not kept; delays stop at the maximum; stop() cancels retries', async () => {
  const clock = manualTimers();
  const retrier = new CleanupRetrier({ ...clock, initialDelayMs: 500, maxDelayMs: 1500 });
  assert.equal(await retrier.release('socket link', 'c1', () => undefined), true);
  assert.deepEqual(retrier.pending(), []);

  const { release } = flaky(100);
  await retrier.release('container directory', 'c2', release);
  assert.equal(await retrier.release('container directory', 'c2', release), false, 'a second request joins the pending one');
  for (let i = 0; i < 3; i++) await clock.fire();
  assert.deepEqual(clock.timers.map((t) => t.ms), [500, 1000, 1500, 1500]);
  retrier.stop();
  assert.equal(clock.timers[clock.timers.length - 1]!.cleared, true);
  assert.equal(retrier.pending('c2').length, 1, 'left for the next start');
});

test('a failed create: the undo steps that fail are retried in the background, each listed with its step, the others run once', async () => {
  const clock = manualTimers();
  const retrier = new CleanupRetrier({ ...clock, initialDelayMs: 500 });
  const undo = new UndoStack();
  const network = flaky(2);
  const runDir = flaky(1);
  let pinsReleased = 0;
  undo.push('unpinning namespaces of p1', () => { pinsReleased++; });
  undo.push('removing the run dir of p1', runDir.release);
  undo.push('tearing down the network of p1', network.release);

  const failures = await undo.unwind(undefined, { owner: 'p1', to: retrier });
  assert.equal(failures.length, 2);
  assert.equal(pinsReleased, 1);
  assert.deepEqual(retrier.pending('p1').map((p) => [p.kind, p.what, p.attempts]).sort(), [
    ['create undo', 'removing the run dir of p1', 1],
    ['create undo', 'tearing down the network of p1', 1],
  ], 'each failed step is kept on its own, not run again at once');
  assert.match(retrier.describePending('p1'), /tearing down the network of p1 \(1 tries: umount: device busy \(1\)\)/);

  for (const t of [...clock.timers]) t.fn();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(retrier.pending('p1').map((p) => p.what), ['tearing down the network of p1'], 'the run dir is clean after one retry');
  await clock.fire();
  assert.deepEqual(retrier.pending(), []);
  assert.equal(network.state.calls, 3);
  assert.equal(runDir.state.calls, 2);
});

test('retryLater after stop() keeps nothing (the next start reclaims it)', () => {
  const clock = manualTimers();
  const retrier = new CleanupRetrier({ ...clock });
  retrier.stop();
  retrier.retryLater('create undo', 'p2', () => undefined, new Error('busy'), 'x');
  assert.deepEqual(retrier.pending(), []);
  assert.equal(clock.timers.length, 0);
});
