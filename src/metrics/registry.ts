// cradle's Prometheus metrics (prom-client). Names follow cri-o's set with the
// container_runtime_cradle_ prefix. Subsystems record through the typed methods
// here; a metric whose collector is filtered out is never registered, and its
// recording methods do nothing. prom-client loads only when a collector is on
// (metrics are off by default), keeping it off a default daemon's start.
import type { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import * as fs from 'node:fs';
import { COLLECTORS, METRIC_PREFIX, type CollectorName } from './collectors';


/** A metric that may be disabled by the collector filter. */
class Optional<M> {
  constructor(readonly metric: M | undefined) {}
  with(fn: (m: M) => void): void {
    if (this.metric) fn(this.metric);
  }
}

function promClient(): typeof import('prom-client') {
  return require('prom-client') as typeof import('prom-client');
}

export class CradleMetrics {
  private promRegistry: Registry | undefined;
  readonly enabled: ReadonlySet<CollectorName>;

  private readonly operations: Optional<Counter<'operation'>>;
  private readonly operationLatency: Optional<Gauge<'operation'>>;
  private readonly operationLatencySummary: Optional<Summary<'operation'>>;
  private readonly operationErrors: Optional<Counter<'operation'>>;
  private readonly pullBytes: Optional<Counter<'mediatype' | 'size'>>;
  private readonly pullSkippedBytes: Optional<Counter<'size'>>;
  private readonly pullSuccess: Optional<Counter<string>>;
  private readonly pullFailure: Optional<Counter<'error'>>;
  private readonly pullLayerSize: Optional<Histogram<string>>;
  private readonly layerReuse: Optional<Counter<'name'>>;
  private readonly oomTotal: Optional<Counter<string>>;
  private readonly oomByName: Optional<Counter<'name'>>;
  private readonly eventsDropped: Optional<Counter<string>>;
  private readonly stoppedMonitor: Optional<Counter<'name'>>;
  private readonly cleanupRetries: Optional<Counter<'kind' | 'outcome'>>;
  private countPendingCleanups: (() => number) | undefined;
  private readonly processesDefunct: Optional<Gauge<string>>;
  private readonly stalledAtStage: Optional<Counter<'stage'>>;
  private readonly defaultRuntime: Optional<Gauge<'runtime'>>;
  private readonly cniOperations: Optional<Counter<'operation'>>;
  private readonly cniErrors: Optional<Counter<'operation'>>;
  private readonly cniDuration: Optional<Histogram<'operation'>>;
  private readonly streamSessions: Optional<Gauge<'kind'>>;
  private readonly streamSessionsTotal: Optional<Counter<'kind' | 'protocol'>>;

  /** A sink that records nothing, for a daemon with metrics off. */
  static disabled(): CradleMetrics {
    return new CradleMetrics(null);
  }

  /** collectors: names to enable; empty means all; null means none. Unknown names are rejected by config validation. */
  constructor(collectors: readonly string[] | null = []) {
    this.enabled = new Set(collectors === null ? [] : collectors.length === 0 ? COLLECTORS : COLLECTORS.filter((c) => collectors.includes(c)));
    type PromClient = typeof import('prom-client');
    const on = <M>(name: CollectorName, make: (prom: PromClient) => M) => new Optional(this.enabled.has(name) ? make(promClient()) : undefined);
    const r = this.enabled.size > 0 ? [this.registry] : [];
    const name = (n: CollectorName) => `${METRIC_PREFIX}${n}`;

    this.operations = on('operations_total', (p) => new p.Counter({ name: name('operations_total'), help: 'CRI calls handled, by RPC.', labelNames: ['operation'], registers: r }));
    this.operationLatency = on('operations_latency_seconds', (p) => new p.Gauge({ name: name('operations_latency_seconds'), help: 'Latency of the latest call, by RPC, in seconds.', labelNames: ['operation'], registers: r }));
    this.operationLatencySummary = on('operations_latency_seconds_total', (p) => new p.Summary({
      name: name('operations_latency_seconds_total'), help: 'Latency of CRI calls, by RPC, in seconds (quantiles 0.5, 0.9, 0.99 over 10 minutes).',
      labelNames: ['operation'], percentiles: [0.5, 0.9, 0.99], maxAgeSeconds: 600, ageBuckets: 5, registers: r,
    }));
    this.operationErrors = on('operations_errors_total', (p) => new p.Counter({ name: name('operations_errors_total'), help: 'CRI calls that returned an error, by RPC.', labelNames: ['operation'], registers: r }));
    this.pullBytes = on('image_pulls_bytes_total', (p) => new p.Counter({ name: name('image_pulls_bytes_total'), help: 'Bytes downloaded by image pulls, by media type and size class.', labelNames: ['mediatype', 'size'], registers: r }));
    this.pullSkippedBytes = on('image_pulls_skipped_bytes_total', (p) => new p.Counter({ name: name('image_pulls_skipped_bytes_total'), help: 'Bytes not downloaded because the blob was already in the store, by size class.', labelNames: ['size'], registers: r }));
    this.pullSuccess = on('image_pulls_success_total', (p) => new p.Counter({ name: name('image_pulls_success_total'), help: 'Successful image pulls.', registers: r }));
    this.pullFailure = on('image_pulls_failure_total', (p) => new p.Counter({ name: name('image_pulls_failure_total'), help: 'Failed image pulls, by error code.', labelNames: ['error'], registers: r }));
    this.pullLayerSize = on('image_pulls_layer_size', (p) => new p.Histogram({ name: name('image_pulls_layer_size'), help: 'Sizes of downloaded layers, in bytes.', buckets: p.exponentialBuckets(1024, 4, 12), registers: r }));
    this.layerReuse = on('image_layer_reuse_total', (p) => new p.Counter({ name: name('image_layer_reuse_total'), help: 'Layers not unpacked again because an image already had them, by layer digest.', labelNames: ['name'], registers: r }));
    this.oomTotal = on('containers_oom_total', (p) => new p.Counter({ name: name('containers_oom_total'), help: 'Containers killed by the OOM killer.', registers: r }));
    this.oomByName = on('containers_oom_count_total', (p) => new p.Counter({ name: name('containers_oom_count_total'), help: 'Containers killed by the OOM killer, by container name.', labelNames: ['name'], registers: r }));
    this.eventsDropped = on('containers_events_dropped_total', (p) => new p.Counter({ name: name('containers_events_dropped_total'), help: 'Container events dropped because a GetContainerEvents client was too slow.', registers: r }));
    this.stoppedMonitor = on('containers_stopped_monitor_count', (p) => new p.Counter({ name: name('containers_stopped_monitor_count'), help: 'Containers whose monitor (conmon) died while they ran, by container name.', labelNames: ['name'], registers: r }));
    this.processesDefunct = on('processes_defunct', (p) => new p.Gauge({ name: name('processes_defunct'), help: 'Zombie processes on the node.', registers: r, collect() { this.set(countZombies()); } }));
    this.stalledAtStage = on('resources_stalled_at_stage', (p) => new p.Counter({ name: name('resources_stalled_at_stage'), help: 'Sandbox or container creations whose caller timed out, by the stage they were at.', labelNames: ['stage'], registers: r }));
    this.defaultRuntime = on('default_runtime', (p) => new p.Gauge({ name: name('default_runtime'), help: 'The default runtime handler (value 1).', labelNames: ['runtime'], registers: r }));
    this.cniOperations = on('cni_operations_total', (p) => new p.Counter({ name: name('cni_operations_total'), help: 'CNI plugin invocations, by verb (ADD, DEL, CHECK, STATUS, GC).', labelNames: ['operation'], registers: r }));
    this.cniErrors = on('cni_operations_errors_total', (p) => new p.Counter({ name: name('cni_operations_errors_total'), help: 'Failed CNI plugin invocations, by verb.', labelNames: ['operation'], registers: r }));
    this.cniDuration = on('cni_operations_duration_seconds', (p) => new p.Histogram({ name: name('cni_operations_duration_seconds'), help: 'Duration of CNI network list operations, by verb, in seconds.', labelNames: ['operation'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: r }));
    this.streamSessions = on('stream_sessions', (p) => new p.Gauge({ name: name('stream_sessions'), help: 'Open exec/attach/port-forward streaming sessions, by kind.', labelNames: ['kind'], registers: r }));
    this.streamSessionsTotal = on('stream_sessions_total', (p) => new p.Counter({ name: name('stream_sessions_total'), help: 'Streaming sessions started, by kind and protocol.', labelNames: ['kind', 'protocol'], registers: r }));
    this.cleanupRetries = on('cleanup_retries_total', (p) => new p.Counter({ name: name('cleanup_retries_total'), help: 'Background retries of a failed resource release, by kind and outcome.', labelNames: ['kind', 'outcome'], registers: r }));
    const metrics = this;
    on('cleanups_pending', (p) => new p.Gauge({
      name: name('cleanups_pending'), help: 'Resource releases that failed and are still being retried in the background.', registers: r,
      collect() { if (metrics.countPendingCleanups) this.set(metrics.countPendingCleanups()); },
    }));
    on('conmon_processes', (p) => new p.Gauge({
      name: name('conmon_processes'), help: 'Running conmon monitor processes started by cradle.', registers: r,
      collect() { if (metrics.countConmon) this.set(metrics.countConmon()); },
    }));
    if (this.enabled.has('process')) promClient().collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
  }

  // ---- recording -------------------------------------------------------------

  recordOperation(operation: string, seconds: number, failed: boolean): void {
    const l = { operation };
    this.operations.with((m) => m.inc(l));
    this.operationLatency.with((m) => m.set(l, seconds));
    this.operationLatencySummary.with((m) => m.observe(l, seconds));
    if (failed) this.operationErrors.with((m) => m.inc(l));
  }

  recordPullBytes(mediaType: string, bytes: number): void {
    this.pullBytes.with((m) => m.inc({ mediatype: mediaType, size: sizeClass(bytes) }, bytes));
  }

  recordPullSkippedBytes(bytes: number): void {
    this.pullSkippedBytes.with((m) => m.inc({ size: sizeClass(bytes) }, bytes));
  }

  recordPullResult(errorCode?: string): void {
    if (errorCode === undefined) this.pullSuccess.with((m) => m.inc());
    else this.pullFailure.with((m) => m.inc({ error: errorCode }));
  }

  recordLayerSize(bytes: number): void {
    this.pullLayerSize.with((m) => m.observe(bytes));
  }

  recordLayerReuse(layerDigest: string): void {
    this.layerReuse.with((m) => m.inc({ name: layerDigest }));
  }

  recordOom(containerName: string): void {
    this.oomTotal.with((m) => m.inc());
    this.oomByName.with((m) => m.inc({ name: containerName }));
  }

  recordEventDropped(): void {
    this.eventsDropped.with((m) => m.inc());
  }

  recordMonitorStopped(containerName: string): void {
    this.stoppedMonitor.with((m) => m.inc({ name: containerName }));
  }

  setDefunctProcesses(count: number): void {
    this.processesDefunct.with((m) => m.set(count));
  }

  recordCleanupRetry(kind: string, succeeded: boolean): void {
    this.cleanupRetries.with((m) => m.inc({ kind, outcome: succeeded ? 'succeeded' : 'failed' }));
  }

  countPendingCleanupsWith(count: () => number): void {
    this.countPendingCleanups = count;
  }

  recordStalledAtStage(stage: string): void {
    this.stalledAtStage.with((m) => m.inc({ stage }));
  }

  setDefaultRuntime(runtime: string): void {
    this.defaultRuntime.with((m) => {
      m.reset();
      m.set({ runtime }, 1);
    });
  }

  recordCniOperation(operation: string, seconds: number, failed: boolean): void {
    const l = { operation };
    this.cniOperations.with((m) => m.inc(l));
    this.cniDuration.with((m) => m.observe(l, seconds));
    if (failed) this.cniErrors.with((m) => m.inc(l));
  }

  streamSessionStarted(kind: string, protocol: string): () => void {
    this.streamSessionsTotal.with((m) => m.inc({ kind, protocol }));
    this.streamSessions.with((m) => m.inc({ kind }));
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.streamSessions.with((m) => m.dec({ kind }));
    };
  }

  /** Where the enabled metrics are registered (made on first use: an empty one for a daemon with metrics off). */
  get registry(): Registry {
    this.promRegistry ??= new (promClient().Registry)();
    return this.promRegistry;
  }

  /** Counted at scrape time. */
  private countConmon: (() => number) | undefined;

  countConmonWith(count: () => number): void {
    this.countConmon = count;
  }

  /** The text exposition format. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Zombie processes visible in /proc (state Z). */
function countZombies(): number {
  let zombies = 0;
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat[stat.lastIndexOf(')') + 2] === 'Z') zombies++;
    } catch { /* gone */ }
  }
  return zombies;
}

/** Size classes for byte counters, as cri-o labels them. */
export function sizeClass(bytes: number): string {
  const MiB = 1024 * 1024;
  if (bytes < MiB) return '<1m';
  if (bytes < 10 * MiB) return '<10m';
  if (bytes < 50 * MiB) return '<50m';
  if (bytes < 100 * MiB) return '<100m';
  if (bytes < 200 * MiB) return '<200m';
  return '>200m';
}

