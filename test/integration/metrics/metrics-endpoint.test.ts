// Scrapes a real cradled's /metrics and checks that the counters moved exactly as
// the calls made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { startCradled, type Cradled } from '../../helpers/daemon';

async function metricsPort(daemon: Cradled): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const line = daemon.logRecords().find((r) => r.msg === 'metrics server listening');
    if (line) return Number(String(line.address).split(':').pop());
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('metrics server did not report its address');
}

function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('operations, errors and latency per RPC, plus Node process metrics', async (t) => {
  const daemon = await startCradled({ args: ['--metrics-enable', '--metrics-port', '0'] });
  t.after(() => daemon.stop());
  const port = await metricsPort(daemon);
  const cri = daemon.client();
  for (let i = 0; i < 3; i++) await cri.runtime.Version({});
  await cri.runtime.UpdateRuntimeConfig({}).catch(() => undefined);
  await cri.runtime.CheckpointContainer({ containerId: 'x' }).catch(() => undefined);

  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  const text = await res.text();
  const p = 'container_runtime_cradle_';
  assert.equal(sample(text, `${p}operations_total`, '{operation="Version"}'), 3);
  assert.equal(sample(text, `${p}operations_errors_total`, '{operation="Version"}'), undefined, 'no Version errors');
  assert.equal(sample(text, `${p}operations_total`, '{operation="UpdateRuntimeConfig"}'), 1);
  assert.equal(sample(text, `${p}operations_errors_total`, '{operation="UpdateRuntimeConfig"}'), 1);
  assert.equal(sample(text, `${p}operations_errors_total`, '{operation="CheckpointContainer"}'), 1);
  for (const q of ['0.5', '0.9', '0.99']) {
    const v = sample(text, `${p}operations_latency_seconds_total`, `{quantile="${q}",operation="Version"}`);
    assert.ok(v !== undefined && v > 0 && v < 5, `quantile ${q}: ${v}`);
  }
  assert.equal(sample(text, `${p}operations_latency_seconds_total_count`, '{operation="Version"}'), 3);
  assert.equal(sample(text, `${p}default_runtime`, '{runtime="cradle"}'), 1);
  assert.ok((sample(text, 'nodejs_heap_size_used_bytes') ?? 0) > 0, 'Node heap metric');
  assert.ok(text.includes('nodejs_eventloop_lag_seconds'), 'event loop lag');

  const notFound = await fetch(`http://127.0.0.1:${port}/nope`);
  assert.equal(notFound.status, 404);
});

test('the collectors filter leaves out disabled metrics', async (t) => {
  const daemon = await startCradled({ args: ['--metrics-enable', '--metrics-port', '0', '--metrics-collectors', 'operations_total,default_runtime'] });
  t.after(() => daemon.stop());
  const port = await metricsPort(daemon);
  await daemon.client().runtime.Version({});
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.equal(sample(text, 'container_runtime_cradle_operations_total', '{operation="Version"}'), 1);
  assert.ok(!text.includes('operations_latency_seconds'), 'latency collector disabled');
  assert.ok(!text.includes('nodejs_'), 'process collector disabled');
});

test('metrics are also served on a unix socket when configured', async (t) => {
  const other = await startCradled({ args: ['--metrics-enable', '--metrics-port', '0', '--metrics-socket', '/run/cradle-test-metrics-' + process.pid + '.sock'] });
  t.after(() => other.stop());
  await other.client().runtime.Version({});
  const body = await new Promise<string>((resolve, reject) => {
    http.get({ socketPath: `/run/cradle-test-metrics-${process.pid}.sock`, path: '/metrics' }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
  assert.equal(sample(body, 'container_runtime_cradle_operations_total', '{operation="Version"}'), 1);
});

test('metrics are off by default', async (t) => {
  const daemon = await startCradled();
  t.after(() => daemon.stop());
  await daemon.client().runtime.Version({});
  assert.ok(!daemon.logRecords().some((r) => r.msg === 'metrics server listening'));
});
