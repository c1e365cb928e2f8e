import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedOperations } from '../../../src/image/shared-operation';
import { errors } from '../../../src/common/errors';

test('concurrent callers with one key share one run', async () => {
  const ops = new SharedOperations<number>();
  let runs = 0;
  const work = async () => { runs++; await new Promise((r) => setTimeout(r, 10)); return 42; };
  const results = await Promise.all([ops.run('k', work), ops.run('k', work), ops.run('other', work)]);
  assert.deepEqual(results, [42, 42, 42]);
  assert.equal(runs, 2);
  assert.equal(ops.has('k'), false, 'finished operations are forgotten');
});

test('one caller cancelling leaves the others running; the last one leaving aborts the work', async () => {
  const ops = new SharedOperations<string>();
  let aborted = false;
  let finish!: (v: string) => void;
  const work = (signal: AbortSignal) => new Promise<string>((resolve, reject) => {
    finish = resolve;
    signal.addEventListener('abort', () => { aborted = true; reject(new Error('aborted')); });
  });
  const a = new AbortController();
  const b = new AbortController();
  const first = ops.run('k', work, a.signal);
  const second = ops.run('k', work, b.signal);
  a.abort();
  await assert.rejects(first, (err: unknown) => errors.cancelled.is(err));
  assert.equal(aborted, false);
  finish('done');
  assert.equal(await second, 'done');

  const c = new AbortController();
  const third = ops.run('k2', work, c.signal);
  await new Promise((r) => setImmediate(r));
  c.abort();
  await assert.rejects(third, (err: unknown) => errors.cancelled.is(err));
  assert.equal(aborted, true);
});
