// The entry points the container and sandbox managers call: typed inputs (what cradle
// recorded when it created the container or sandbox) in, one sample out.
import { containerCgroupPath, podCgroupPath } from './cgroup-path';
import { nowNs, readCgroup } from './cgroup-reader';
import type { CpuRateTracker } from './cpu-rate';
import { readFilesystemUsage } from './disk-usage';
import { readNetworkStats } from './network';
import type { CgroupDriver, CgroupSample, ContainerStatsSample, PodSandboxStatsSample } from './types';

export interface ContainerStatsInput {
  /** The OCI linux.cgroupsPath cradle gave the runtime ("/kubepods/pod1/cradle-<id>" or "slice:cradle:<id>"). */
  cgroupsPath: string;
  cgroupDriver: CgroupDriver;
  /** The container's overlay upper directory; omitted → no writableLayer in the sample. */
  writableLayerDir?: string;
  /** Default /sys/fs/cgroup; a fake tree in tests. */
  cgroupRoot?: string;
  /** With `rateKey` (normally the container id): fills cpu.usageNanoCores from the previous reading. */
  cpuRate?: { tracker: CpuRateTracker; key: string };
}

function withRate(sample: CgroupSample, cpuRate: { tracker: CpuRateTracker; key: string } | undefined): void {
  if (!cpuRate) return;
  const rate = cpuRate.tracker.update(cpuRate.key, sample.cpu.usageCoreNanoSeconds, sample.timestampNs);
  if (rate !== undefined) sample.cpu.usageNanoCores = rate;
}

/** Reads a container's cgroup (v1 or v2) and, if given, its writable layer. Throws errors.cgroupNotFound once the cgroup is gone. */
export async function readContainerStats(input: ContainerStatsInput): Promise<ContainerStatsSample> {
  const sample: ContainerStatsSample = readCgroup(containerCgroupPath(input.cgroupsPath, input.cgroupDriver), input.cgroupRoot ?? '/sys/fs/cgroup', nowNs());
  withRate(sample, input.cpuRate);
  if (input.writableLayerDir !== undefined) sample.writableLayer = await readFilesystemUsage(input.writableLayerDir);
  return sample;
}

export interface PodSandboxStatsInput {
  /** PodSandboxConfig.linux.cgroupParent: the pod cgroup (a path, or a slice name with the systemd driver). */
  cgroupParent: string;
  cgroupDriver: CgroupDriver;
  /** The pinned network namespace; omitted (host network) → no network in the sample. */
  netnsPath?: string;
  cgroupRoot?: string;
  cpuRate?: { tracker: CpuRateTracker; key: string };
  /**
   * Samples of the pod's containers, the pause included. Used instead of the pod
   * cgroup when cgroupParent is empty or "/" (cradle then puts every pod under
   * /cradle, so there is no cgroup of this pod alone to read).
   */
  containers?: readonly CgroupSample[];
}

/** Sums container samples into one pod-level sample (cumulative counters and current usage add up; limits do not). */
export function aggregateSamples(samples: readonly CgroupSample[], timestampNs: string = nowNs()): CgroupSample {
  const sum = (f: (s: CgroupSample) => bigint | undefined): bigint => samples.reduce((acc, s) => acc + (f(s) ?? 0n), 0n);
  const hasPids = samples.some((s) => s.pids !== undefined);
  return {
    version: samples[0]?.version ?? 1,
    timestampNs,
    cpu: {
      usageCoreNanoSeconds: sum((s) => s.cpu.usageCoreNanoSeconds),
      userNanoSeconds: sum((s) => s.cpu.userNanoSeconds),
      systemNanoSeconds: sum((s) => s.cpu.systemNanoSeconds),
      periods: sum((s) => s.cpu.periods),
      throttledPeriods: sum((s) => s.cpu.throttledPeriods),
      throttledNanoSeconds: sum((s) => s.cpu.throttledNanoSeconds),
    },
    memory: {
      workingSetBytes: sum((s) => s.memory.workingSetBytes),
      usageBytes: sum((s) => s.memory.usageBytes),
      rssBytes: sum((s) => s.memory.rssBytes),
      pageFaults: sum((s) => s.memory.pageFaults),
      majorPageFaults: sum((s) => s.memory.majorPageFaults),
      maxUsageBytes: sum((s) => s.memory.maxUsageBytes),
      cacheBytes: sum((s) => s.memory.cacheBytes),
      mappedFileBytes: sum((s) => s.memory.mappedFileBytes),
      kernelBytes: sum((s) => s.memory.kernelBytes),
      activeFileBytes: sum((s) => s.memory.activeFileBytes),
      inactiveFileBytes: sum((s) => s.memory.inactiveFileBytes),
      failcnt: sum((s) => s.memory.failcnt),
      oomKills: sum((s) => s.memory.oomKills),
    },
    swap: { swapUsageBytes: sum((s) => s.swap.swapUsageBytes) },
    pids: hasPids ? { current: sum((s) => s.pids?.current) } : undefined,
    cpuSpec: {},
  };
}

/**
 * Reads a pod: its cgroup (the parent of the pause's and its containers' cgroups), or
 * the sum of `containers` when it has no cgroup of its own, plus the network
 * namespace's counters.
 */
export function readPodSandboxStats(input: PodSandboxStatsInput): PodSandboxStatsSample {
  const timestampNs = nowNs();
  const ownCgroup = input.cgroupParent !== '' && input.cgroupParent !== '/';
  const sample: PodSandboxStatsSample = ownCgroup
    ? readCgroup(podCgroupPath(input.cgroupParent, input.cgroupDriver), input.cgroupRoot ?? '/sys/fs/cgroup', timestampNs)
    : aggregateSamples(input.containers ?? [], timestampNs);
  withRate(sample, input.cpuRate);
  if (input.netnsPath !== undefined && input.netnsPath !== '') sample.network = readNetworkStats(input.netnsPath);
  return sample;
}
