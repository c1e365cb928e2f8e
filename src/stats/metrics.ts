// cAdvisor-style metrics for ListMetricDescriptors / ListPodSandboxMetrics, with the
// names, help texts and label keys of cri-o's statsserver (which copies cAdvisor), so
// the kubelet's /metrics/cadvisor looks the same whichever runtime serves it.
// Label keys: id, image, namespace, pod, container (+ one per-metric key such as
// interface or cpu). Network metrics are pod-level (container label "POD").
// Only what a cgroup read, statfs and /proc/net/dev give cheaply is offered:
// no blkio per device, hugetlb, fd/socket counts or ulimits.
import type { ContainerMetrics } from '../generated/runtime/v1/ContainerMetrics';
import type { Metric } from '../generated/runtime/v1/Metric';
import type { MetricDescriptor } from '../generated/runtime/v1/MetricDescriptor';
import type { PodSandboxMetrics } from '../generated/runtime/v1/PodSandboxMetrics';
import type { ContainerStatsSample, NetworkInterfaceStats, NetworkSample } from './types';

export type MetricGroup = 'cpu' | 'memory' | 'network' | 'oom' | 'process' | 'spec' | 'disk' | 'pressure';
export const ALL_METRIC_GROUPS: readonly MetricGroup[] = ['cpu', 'memory', 'network', 'oom', 'process', 'spec', 'disk', 'pressure'];

export const BASE_LABEL_KEYS = ['id', 'image', 'namespace', 'pod', 'container'] as const;

type Kind = 'COUNTER' | 'GAUGE';
interface Value {
  value: bigint;
  /** Values of the descriptor's extra label keys, in order. */
  labels?: string[];
}

export interface ContainerMetricsInput {
  id: string;
  /** ContainerMetadata.name. */
  name: string;
  /** The image as the user named it (or its id). */
  image: string;
  stats: ContainerStatsSample;
  /** Creation time in ns, for container_start_time_seconds. */
  createdAtNs?: string | bigint;
}

export interface PodSandboxMetricsInput {
  id: string;
  /** PodSandboxMetadata.name and .namespace. */
  name: string;
  namespace: string;
  network?: NetworkSample;
  containers: readonly ContainerMetricsInput[];
  /** Which groups to report (cri-o's included_pod_metrics); default all. container_last_seen is always on. */
  groups?: readonly MetricGroup[];
}

interface ContainerMetricDef {
  name: string;
  help: string;
  group: MetricGroup | 'always';
  kind: Kind;
  extraLabels?: string[];
  values: (c: ContainerMetricsInput, nowSeconds: bigint) => Value[];
}

const NS = 1_000_000_000n;
const one = (value: bigint): Value[] => [{ value }];

const CONTAINER_METRICS: ContainerMetricDef[] = [
  { name: 'container_last_seen', help: 'Last time a container was seen by the exporter', group: 'always', kind: 'GAUGE', values: (_c, now) => one(now) },

  { name: 'container_cpu_user_seconds_total', help: 'Cumulative user CPU time consumed in seconds.', group: 'cpu', kind: 'COUNTER', values: (c) => one(c.stats.cpu.userNanoSeconds / NS) },
  { name: 'container_cpu_system_seconds_total', help: 'Cumulative system CPU time consumed in seconds.', group: 'cpu', kind: 'COUNTER', values: (c) => one(c.stats.cpu.systemNanoSeconds / NS) },
  { name: 'container_cpu_usage_seconds_total', help: 'Cumulative CPU time consumed in seconds.', group: 'cpu', kind: 'COUNTER', extraLabels: ['cpu'], values: (c) => [{ value: c.stats.cpu.usageCoreNanoSeconds / NS, labels: ['total'] }] },
  { name: 'container_cpu_cfs_periods_total', help: 'Number of elapsed enforcement period intervals.', group: 'cpu', kind: 'COUNTER', values: (c) => one(c.stats.cpu.periods) },
  { name: 'container_cpu_cfs_throttled_periods_total', help: 'Number of throttled period intervals.', group: 'cpu', kind: 'COUNTER', values: (c) => one(c.stats.cpu.throttledPeriods) },
  { name: 'container_cpu_cfs_throttled_seconds_total', help: 'Total time duration the container has been throttled.', group: 'cpu', kind: 'COUNTER', values: (c) => one(c.stats.cpu.throttledNanoSeconds / NS) },

  { name: 'container_memory_cache', help: 'Number of bytes of page cache memory.', group: 'memory', kind: 'GAUGE', values: (c) => one(c.stats.memory.cacheBytes) },
  { name: 'container_memory_rss', help: 'Size of RSS in bytes.', group: 'memory', kind: 'GAUGE', values: (c) => one(c.stats.memory.rssBytes) },
  { name: 'container_memory_kernel_usage', help: 'Size of kernel memory allocated in bytes.', group: 'memory', kind: 'GAUGE', values: (c) => one(c.stats.memory.kernelBytes) },
  { name: 'container_memory_mapped_file', help: 'Size of memory mapped files in bytes.', group: 'memory', kind: 'GAUGE', values: (c) => one(c.stats.memory.mappedFileBytes) },
  { name: 'container_memory_swap', help: 'Container swap usage in bytes.', group: 'memory', kind: 'GAUGE', values: (c) => one(c.stats.swap.swapUsageBytes) },
  { name: 'container_memory_failcnt', help: 'Number of memory usage hits limits', group: 'memory', kind: 'COUNTER', values: (c) => one(c.stats.memory.failcnt) },
  { name: 'container_memory_usage_bytes', help: 'Current memory usage in bytes, including all memory regardless of when it was accessed', group: 'memory', kind: 'GAUGE', values: (c) => one(c.stats.memory.usageBytes) },
  { name: 'container_memory_max_usage_bytes', help: 'Maximum memory usage recorded in bytes', group: 'memory', kind: 'GAUGE', values: (c) => one(c.stats.memory.maxUsageBytes) },
  { name: 'container_memory_working_set_bytes', help: 'Current working set in bytes.', group: 'memory', kind: 'GAUGE', values: (c) => one(c.stats.memory.workingSetBytes) },
  { name: 'container_memory_total_active_file_bytes', help: 'Current total active file in bytes.', group: 'memory', kind: 'GAUGE', values: (c) => one(c.stats.memory.activeFileBytes) },
  { name: 'container_memory_total_inactive_file_bytes', help: 'Current total inactive file in bytes.', group: 'memory', kind: 'GAUGE', values: (c) => one(c.stats.memory.inactiveFileBytes) },
  {
    name: 'container_memory_failures_total', help: 'Cumulative count of memory allocation failures.', group: 'memory', kind: 'COUNTER', extraLabels: ['failure_type', 'scope'],
    values: (c) => [
      { value: c.stats.memory.pageFaults, labels: ['pgfault', 'container'] },
      { value: c.stats.memory.pageFaults, labels: ['pgfault', 'hierarchy'] },
      { value: c.stats.memory.majorPageFaults, labels: ['pgmajfault', 'container'] },
      { value: c.stats.memory.majorPageFaults, labels: ['pgmajfault', 'hierarchy'] },
    ],
  },

  { name: 'container_oom_events_total', help: 'Count of out of memory events observed for the container', group: 'oom', kind: 'COUNTER', values: (c) => one(c.stats.memory.oomKills) },

  { name: 'container_processes', help: 'Number of processes running inside the container.', group: 'process', kind: 'GAUGE', values: (c) => (c.stats.pids ? one(c.stats.pids.current) : []) },
  { name: 'container_threads_max', help: 'Maximum number of threads allowed inside the container, infinity if value is zero', group: 'process', kind: 'GAUGE', values: (c) => (c.stats.pids ? one(c.stats.pids.limit ?? 0n) : []) },

  { name: 'container_spec_memory_limit_bytes', help: 'Memory limit for the container in bytes.', group: 'spec', kind: 'GAUGE', values: (c) => one(c.stats.memory.limitBytes ?? 0n) },
  { name: 'container_spec_memory_swap_limit_bytes', help: 'Memory swap limit for the container.', group: 'spec', kind: 'GAUGE', values: (c) => one(c.stats.swap.swapLimitBytes ?? 0n) },
  { name: 'container_spec_memory_reservation_limit_bytes', help: 'Memory reservation limit for the container.', group: 'spec', kind: 'GAUGE', values: (c) => one(c.stats.memory.reservationBytes ?? 0n) },
  { name: 'container_spec_cpu_shares', help: 'CPU share of the container.', group: 'spec', kind: 'GAUGE', values: (c) => one(c.stats.cpuSpec.shares ?? 0n) },
  { name: 'container_spec_cpu_period', help: 'CPU period of the container.', group: 'spec', kind: 'GAUGE', values: (c) => one(c.stats.cpuSpec.periodMicros ?? 0n) },
  { name: 'container_spec_cpu_quota', help: 'CPU quota of the container.', group: 'spec', kind: 'GAUGE', values: (c) => (c.stats.cpuSpec.quotaMicros !== undefined ? one(c.stats.cpuSpec.quotaMicros) : []) },
  { name: 'container_start_time_seconds', help: 'Start time of the container since unix epoch in seconds.', group: 'spec', kind: 'GAUGE', values: (c) => (c.createdAtNs !== undefined ? one(BigInt(c.createdAtNs) / NS) : []) },

  { name: 'container_fs_usage_bytes', help: 'Current filesystem usage in bytes.', group: 'disk', kind: 'GAUGE', values: (c) => (c.stats.writableLayer ? one(c.stats.writableLayer.usedBytes) : []) },
  { name: 'container_fs_limit_bytes', help: 'Filesystem limit in bytes.', group: 'disk', kind: 'GAUGE', values: (c) => (c.stats.writableLayer?.capacityBytes !== undefined ? one(c.stats.writableLayer.capacityBytes) : []) },
  { name: 'container_fs_inodes_total', help: 'Total number of inodes.', group: 'disk', kind: 'GAUGE', values: (c) => (c.stats.writableLayer?.inodesTotal !== undefined ? one(c.stats.writableLayer.inodesTotal) : []) },
  { name: 'container_fs_inodes_free', help: 'Number of free inodes.', group: 'disk', kind: 'GAUGE', values: (c) => (c.stats.writableLayer?.inodesFree !== undefined ? one(c.stats.writableLayer.inodesFree) : []) },

  { name: 'container_pressure_cpu_stalled_seconds_total', help: 'Total time duration no tasks in the container could make progress due to CPU congestion.', group: 'pressure', kind: 'COUNTER', values: (c) => (c.stats.cpu.psi ? one(c.stats.cpu.psi.full.totalNs / NS) : []) },
  { name: 'container_pressure_cpu_waiting_seconds_total', help: 'Total time duration tasks in the container have waited due to CPU congestion.', group: 'pressure', kind: 'COUNTER', values: (c) => (c.stats.cpu.psi ? one(c.stats.cpu.psi.some.totalNs / NS) : []) },
  { name: 'container_pressure_memory_stalled_seconds_total', help: 'Total time duration no tasks in the container could make progress due to memory congestion.', group: 'pressure', kind: 'COUNTER', values: (c) => (c.stats.memory.psi ? one(c.stats.memory.psi.full.totalNs / NS) : []) },
  { name: 'container_pressure_memory_waiting_seconds_total', help: 'Total time duration tasks in the container have waited due to memory congestion.', group: 'pressure', kind: 'COUNTER', values: (c) => (c.stats.memory.psi ? one(c.stats.memory.psi.some.totalNs / NS) : []) },
  { name: 'container_pressure_io_stalled_seconds_total', help: 'Total time duration no tasks in the container could make progress due to IO congestion.', group: 'pressure', kind: 'COUNTER', values: (c) => (c.stats.ioPsi ? one(c.stats.ioPsi.full.totalNs / NS) : []) },
  { name: 'container_pressure_io_waiting_seconds_total', help: 'Total time duration tasks in the container have waited due to IO congestion.', group: 'pressure', kind: 'COUNTER', values: (c) => (c.stats.ioPsi ? one(c.stats.ioPsi.some.totalNs / NS) : []) },
];

interface NetworkMetricDef {
  name: string;
  help: string;
  value: (i: NetworkInterfaceStats) => bigint;
}

const NETWORK_METRICS: NetworkMetricDef[] = [
  { name: 'container_network_receive_bytes_total', help: 'Cumulative count of bytes received', value: (i) => i.rxBytes },
  { name: 'container_network_receive_packets_total', help: 'Cumulative count of packets received', value: (i) => i.rxPackets },
  { name: 'container_network_receive_packets_dropped_total', help: 'Cumulative count of packets dropped while receiving', value: (i) => i.rxDropped },
  { name: 'container_network_receive_errors_total', help: 'Cumulative count of errors encountered while receiving', value: (i) => i.rxErrors },
  { name: 'container_network_transmit_bytes_total', help: 'Cumulative count of bytes transmitted', value: (i) => i.txBytes },
  { name: 'container_network_transmit_packets_total', help: 'Cumulative count of packets transmitted', value: (i) => i.txPackets },
  { name: 'container_network_transmit_packets_dropped_total', help: 'Cumulative count of packets dropped while transmitting', value: (i) => i.txDropped },
  { name: 'container_network_transmit_errors_total', help: 'Cumulative count of errors encountered while transmitting', value: (i) => i.txErrors },
];

function enabled(group: MetricGroup | 'always', groups: readonly MetricGroup[]): boolean {
  return group === 'always' || groups.includes(group);
}

/** ListMetricDescriptors: every metric podSandboxMetrics may report for these groups. */
export function metricDescriptors(groups: readonly MetricGroup[] = ALL_METRIC_GROUPS): MetricDescriptor[] {
  const out: MetricDescriptor[] = CONTAINER_METRICS.filter((d) => enabled(d.group, groups)).map((d) => ({
    name: d.name,
    help: d.help,
    labelKeys: [...BASE_LABEL_KEYS, ...(d.extraLabels ?? [])],
  }));
  if (groups.includes('network')) {
    for (const d of NETWORK_METRICS) out.push({ name: d.name, help: d.help, labelKeys: [...BASE_LABEL_KEYS, 'interface'] });
  }
  return out;
}

/** ListPodSandboxMetrics entry for one pod: pod-level network metrics and per-container metrics. */
export function podSandboxMetrics(input: PodSandboxMetricsInput, nowNs: bigint = BigInt(Date.now()) * 1_000_000n): PodSandboxMetrics {
  const groups = input.groups ?? ALL_METRIC_GROUPS;
  const metrics: Metric[] = [];
  if (input.network && groups.includes('network')) {
    const base = [input.id, '', input.namespace, input.name, 'POD'];
    for (const iface of input.network.interfaces) {
      if (iface.name === 'lo') continue;
      for (const d of NETWORK_METRICS) {
        metrics.push({ name: d.name, timestamp: input.network.timestampNs, metricType: 'COUNTER', labelValues: [...base, iface.name], value: { value: d.value(iface).toString() } });
      }
    }
  }
  const containerMetrics: ContainerMetrics[] = input.containers.map((c) => {
    const base = [c.id, c.image, input.namespace, input.name, c.name];
    const out: Metric[] = [];
    for (const d of CONTAINER_METRICS) {
      if (!enabled(d.group, groups)) continue;
      for (const v of d.values(c, nowNs / NS)) {
        out.push({ name: d.name, timestamp: c.stats.timestampNs, metricType: d.kind, labelValues: [...base, ...(v.labels ?? [])], value: { value: v.value.toString() } });
      }
    }
    return { containerId: c.id, metrics: out };
  });
  return { podSandboxId: input.id, metrics, containerMetrics };
}
