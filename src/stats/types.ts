// Samples read from cgroups, the writable layer and the pod's network namespace.
// Counters are bigint: cgroup and /proc/net/dev values are u64 and some (an
// unlimited v1 memory limit, long-lived byte counters) do not fit a double.
// Timestamps are wall-clock nanoseconds as decimal strings (the CRI int64 form).

export type CgroupDriver = 'cgroupfs' | 'systemd';

export interface PsiData {
  /** Total stall time, nanoseconds. */
  totalNs: bigint;
  avg10: number;
  avg60: number;
  avg300: number;
}

export interface Psi {
  some: PsiData;
  full: PsiData;
}

export interface CpuSample {
  /** Cumulative CPU time over all cores. */
  usageCoreNanoSeconds: bigint;
  /** Average rate over the last sample window (core-nanoseconds per second); needs a CpuRateTracker and a previous sample. */
  usageNanoCores?: bigint;
  userNanoSeconds: bigint;
  systemNanoSeconds: bigint;
  /** CFS throttling (cpu.stat). */
  periods: bigint;
  throttledPeriods: bigint;
  throttledNanoSeconds: bigint;
  psi?: Psi;
}

export interface MemorySample {
  /** usage − inactive file (as the kubelet and cAdvisor compute it), floored at 0. */
  workingSetBytes: bigint;
  usageBytes: bigint;
  /** v1 total_rss, v2 anon. */
  rssBytes: bigint;
  /** v1 total_pgfault, v2 pgfault. */
  pageFaults: bigint;
  majorPageFaults: bigint;
  /** limit − working set; absent when the cgroup has no memory limit. */
  availableBytes?: bigint;
  /** Absent when unlimited. */
  limitBytes?: bigint;
  maxUsageBytes: bigint;
  cacheBytes: bigint;
  mappedFileBytes: bigint;
  kernelBytes: bigint;
  activeFileBytes: bigint;
  inactiveFileBytes: bigint;
  /** v1 memory.failcnt, v2 memory.events "max". */
  failcnt: bigint;
  oomKills: bigint;
  /** v1 memory.soft_limit_in_bytes, v2 memory.low; absent when unlimited or 0. */
  reservationBytes?: bigint;
  psi?: Psi;
}

export interface SwapSample {
  swapUsageBytes: bigint;
  /** swap limit − swap usage; absent when swap is unlimited or not accounted. */
  swapAvailableBytes?: bigint;
  /** Swap-only limit (v1: memsw limit − memory limit); absent when unlimited. */
  swapLimitBytes?: bigint;
}

export interface PidsSample {
  current: bigint;
  /** Absent when "max". */
  limit?: bigint;
}

export interface CpuSpec {
  shares?: bigint;
  /** Absent when unlimited. */
  quotaMicros?: bigint;
  periodMicros?: bigint;
}

export interface FilesystemSample {
  /** The directory measured (the container's writable layer). */
  mountpoint: string;
  usedBytes: bigint;
  inodesUsed: bigint;
  /** From statfs of the filesystem holding it. */
  capacityBytes?: bigint;
  inodesTotal?: bigint;
  inodesFree?: bigint;
}

/** One reading of a cgroup (a container's or a pod's). */
export interface CgroupSample {
  version: 1 | 2;
  timestampNs: string;
  cpu: CpuSample;
  memory: MemorySample;
  swap: SwapSample;
  pids?: PidsSample;
  cpuSpec: CpuSpec;
  ioPsi?: Psi;
}

export interface ContainerStatsSample extends CgroupSample {
  /** Present when a writableLayerDir was given. */
  writableLayer?: FilesystemSample;
}

export interface NetworkInterfaceStats {
  name: string;
  rxBytes: bigint;
  rxPackets: bigint;
  rxErrors: bigint;
  rxDropped: bigint;
  txBytes: bigint;
  txPackets: bigint;
  txErrors: bigint;
  txDropped: bigint;
}

export interface NetworkSample {
  timestampNs: string;
  /** Every interface of the namespace, lo included, in /proc/net/dev order. */
  interfaces: NetworkInterfaceStats[];
}

export interface PodSandboxStatsSample extends CgroupSample {
  network?: NetworkSample;
}
