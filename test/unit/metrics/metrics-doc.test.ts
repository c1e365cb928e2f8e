import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { renderMetricsReference } from '../../../src/metrics/reference';
import { CradleMetrics, sizeClass } from '../../../src/metrics/registry';

test('docs/metrics.md lists exactly the metrics the registry exports', async () => {
  const doc = fs.readFileSync(path.resolve(__dirname, '../../../../docs/metrics.md'), 'utf8');
  assert.equal(doc, await renderMetricsReference(), 'run `npm run build && npm run docs:metrics`');
});

test('collector filter registers only the chosen metrics; disabled records nothing', async () => {
  const some = new CradleMetrics(['operations_total']);
  some.recordOperation('Version', 0.01, true);
  const names = (await some.registry.getMetricsAsJSON()).map((m) => m.name);
  assert.deepEqual(names, ['container_runtime_cradle_operations_total']);
  const none = CradleMetrics.disabled();
  none.recordOperation('Version', 0.01, false);
  none.recordOom('c');
  assert.equal(await none.render(), '\n');
});

test('size classes', () => {
  assert.equal(sizeClass(10), '<1m');
  assert.equal(sizeClass(5 * 1024 * 1024), '<10m');
  assert.equal(sizeClass(300 * 1024 * 1024), '>200m');
});
