// The benchmark's statistics and its verdicts: what the results table says must
// follow from the samples (nearest-rank percentiles, ratio of medians, a target
// missed when cradle failed outright).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { median, p90, percentile, mapLimit } from '../../../bench/lib/stats';
import { markdownTable, summarize, type WorkloadResult } from '../../../bench/lib/report';

function workload(cradle: number[], containerd: number[], target?: number, cradleErrors: Record<string, number> = {}): WorkloadResult {
  const w: WorkloadResult = { key: 'RunPodSandbox', unit: 'ms', samples: { cradle, containerd }, errors: { cradle: cradleErrors, containerd: {} } };
  if (target !== undefined) w.target = target;
  return w;
}

test('percentiles are nearest-rank over the sorted samples', () => {
  const values = [50, 10, 40, 20, 30, 60, 70, 80, 90, 100];
  assert.equal(median(values), 50);
  assert.equal(p90(values), 90);
  assert.equal(percentile(values, 100), 100);
  assert.equal(percentile([7], 90), 7);
  assert.ok(Number.isNaN(median([])));
});

test('the ratio compares medians and the target is met only at or below it', () => {
  const met = summarize(workload([40, 50, 60], [100, 100, 100], 0.5));
  assert.equal(met.ratio, 0.5);
  assert.equal(met.met, true);
  const missed = summarize(workload([60, 60, 60], [100, 100, 100], 0.5));
  assert.equal(missed.met, false);
  assert.equal(summarize(workload([1], [2])).met, undefined);
});

test('a workload cradle failed every time is missed and shown as FAILED with the message', () => {
  const row = summarize(workload([], [100], 1.0, { 'RunPodSandbox: gRPC 2 boom': 3 }));
  assert.equal(row.met, false);
  const table = markdownTable([row]);
  assert.match(table, /\| RunPodSandbox \| 0\/1 \| FAILED \| 100 \/ 100 ms \| – \| ≤ 1\.0 \| \*\*missed\*\* \|/);
});

test('mapLimit keeps order and never runs more than the limit at once', async () => {
  let running = 0;
  let peak = 0;
  const out = await mapLimit([5, 1, 3, 2, 4], 2, async (n) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, n));
    running--;
    return n * 10;
  });
  assert.deepEqual(out, [50, 10, 30, 20, 40]);
  assert.equal(peak, 2);
});
