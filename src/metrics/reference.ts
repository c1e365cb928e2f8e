// Renders docs/metrics.md from a registry with every collector enabled, so the
// documentation lists exactly what cradle exports (a test compares the two).
import { CradleMetrics } from './registry';
import { COLLECTORS, METRIC_PREFIX } from './collectors';

interface MetricJson {
  name: string;
  help: string;
  type: string;
  values?: { labels: Record<string, string | number> }[];
}


export async function renderMetricsReference(): Promise<string> {
  const metrics = new CradleMetrics([]);
  const json = (await metrics.registry.getMetricsAsJSON()) as unknown as MetricJson[];
  const labelNames = (m: MetricJson): string[] => {
    const internal = (metrics.registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] } | undefined)?.labelNames ?? [];
    return internal;
  };
  const own = json.filter((m) => m.name.startsWith(METRIC_PREFIX)).sort((a, b) => a.name.localeCompare(b.name));
  const processMetrics = json.filter((m) => !m.name.startsWith(METRIC_PREFIX)).sort((a, b) => a.name.localeCompare(b.name));
  const row = (m: MetricJson) => `| \`${m.name}\` | ${m.type} | ${labelNames(m).map((l) => `\`${l}\``).join(', ') || '–'} | ${m.help} |`;
  return [
    '# Metrics',
    '',
    'cradled serves Prometheus metrics at `GET /metrics` when `[metrics] enable = true` (off by default, as',
    'in cri-o) on `host:port` (default `127.0.0.1:9090`), also on `[metrics] socket` when set, over TLS',
    'when `tls_cert` and `tls_key` are set. `[metrics] collectors` limits what is exported; a collector is',
    'a metric name without the `container_runtime_cradle_` prefix, or `process` for the Node.js process',
    'metrics. Known collectors: ' + COLLECTORS.map((c) => `\`${c}\``).join(', ') + '.',
    '',
    'This file is generated from `src/metrics/registry.ts` (`npm run docs:metrics`); a test checks it is current.',
    '',
    '## cradle',
    '',
    '| metric | type | labels | meaning |',
    '| --- | --- | --- | --- |',
    ...own.map(row),
    '',
    '## process (Node.js runtime, from prom-client)',
    '',
    '| metric | type | labels | meaning |',
    '| --- | --- | --- | --- |',
    ...processMetrics.map(row),
    '',
  ].join('\n');
}
