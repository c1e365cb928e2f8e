// The pull workers' lifetime: they exit once idle, and when the last one is gone
// the memory its malloc arenas freed is handed back (malloc_trim).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PullWorkers } from '../../../src/image/pull-workers';
import { mallocTrim } from '../../../src/sys/malloc-trim';
import { silentLogger } from '../../../src/common/logger';

test('once the last idle worker has exited, its freed memory is released, once', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-workers-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'blob');
  fs.writeFileSync(file, 'cradle');
  let released = 0;
  const workers = new PullWorkers({ size: 2, idleMs: 50, log: silentLogger(), onAllExited: async () => { released++; } });
  t.after(() => workers.close());
  const digests = await Promise.all([1, 2, 3].map(() => workers.hashFile(file, 'sha256', 'blob')));
  assert.deepEqual(digests, Array(3).fill(createHash('sha256').update('cradle').digest('hex')));
  assert.equal(released, 0, 'nothing is released while workers live');
  const deadline = Date.now() + 20_000;
  while ((workers.threads > 0 || released === 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(workers.threads, 0);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(released, 1);
});

test('prewarmed workers start up to the pool size and take the jobs that follow', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-workers-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'blob');
  fs.writeFileSync(file, 'warm');
  const workers = new PullWorkers({ size: 2, idleMs: 60_000, log: silentLogger(), onAllExited: async () => undefined });
  t.after(() => workers.close());
  workers.prewarm(5);
  assert.equal(workers.threads, 2);
  assert.equal(await workers.hashFile(file, 'sha256', 'blob'), createHash('sha256').update('warm').digest('hex'));
  assert.equal(workers.threads, 2, 'the job ran on a prewarmed worker');
});

test('malloc_trim runs', async () => {
  assert.equal(typeof await mallocTrim(), 'boolean');
});
