// Names of cradle's metric collectors, for the [metrics] collectors filter (as
// cri-o's metrics_collectors). Each name is a metric name without the
// container_runtime_cradle_ prefix; "process" is Node's process and runtime metrics.
export const METRIC_PREFIX = 'container_runtime_cradle_';

export const COLLECTORS = [
  'operations_total',
  'operations_latency_seconds',
  'operations_latency_seconds_total',
  'operations_errors_total',
  'image_pulls_bytes_total',
  'image_pulls_skipped_bytes_total',
  'image_pulls_success_total',
  'image_pulls_failure_total',
  'image_pulls_layer_size',
  'image_layer_reuse_total',
  'containers_oom_total',
  'containers_oom_count_total',
  'containers_events_dropped_total',
  'containers_stopped_monitor_count',
  'processes_defunct',
  'resources_stalled_at_stage',
  'default_runtime',
  'cni_operations_total',
  'cni_operations_errors_total',
  'cni_operations_duration_seconds',
  'stream_sessions',
  'stream_sessions_total',
  'conmon_processes',
  'cleanup_retries_total',
  'cleanups_pending',
  'process',
] as const;

export type CollectorName = (typeof COLLECTORS)[number];

export function isCollectorName(name: string): name is CollectorName {
  return (COLLECTORS as readonly string[]).includes(name);
}
