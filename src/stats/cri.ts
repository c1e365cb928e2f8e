// Samples → CRI messages (the generated input types: int64/uint64 as decimal strings,
// UInt64Value as { value }, timestamps in nanoseconds).
import type { ContainerAttributes } from '../generated/runtime/v1/ContainerAttributes';
import type { ContainerStats } from '../generated/runtime/v1/ContainerStats';
import type { CpuUsage } from '../generated/runtime/v1/CpuUsage';
import type { FilesystemUsage } from '../generated/runtime/v1/FilesystemUsage';
import type { IoUsage } from '../generated/runtime/v1/IoUsage';
import type { MemoryUsage } from '../generated/runtime/v1/MemoryUsage';
import type { NetworkInterfaceUsage } from '../generated/runtime/v1/NetworkInterfaceUsage';
import type { NetworkUsage } from '../generated/runtime/v1/NetworkUsage';
import type { PodSandboxAttributes } from '../generated/runtime/v1/PodSandboxAttributes';
import type { PodSandboxStats } from '../generated/runtime/v1/PodSandboxStats';
import type { PsiStats } from '../generated/runtime/v1/PsiStats';
import type { SwapUsage } from '../generated/runtime/v1/SwapUsage';
import type { UInt64Value } from '../generated/runtime/v1/UInt64Value';
import { defaultInterfaceName } from './network';
import type { CgroupSample, ContainerStatsSample, FilesystemSample, NetworkInterfaceStats, NetworkSample, PodSandboxStatsSample, Psi } from './types';

export function u64(v: bigint): UInt64Value {
  return { value: v.toString() };
}

const optU64 = (v: bigint | undefined): UInt64Value | null => (v === undefined ? null : u64(v));

export function toCriPsi(psi: Psi | undefined): PsiStats | null {
  if (!psi) return null;
  const data = (d: Psi['some']) => ({ Total: d.totalNs.toString(), Avg10: d.avg10, Avg60: d.avg60, Avg300: d.avg300 });
  return { Full: data(psi.full), Some: data(psi.some) };
}

export function toCriCpuUsage(s: CgroupSample): CpuUsage {
  return {
    timestamp: s.timestampNs,
    usageCoreNanoSeconds: u64(s.cpu.usageCoreNanoSeconds),
    usageNanoCores: optU64(s.cpu.usageNanoCores),
    psi: toCriPsi(s.cpu.psi),
  };
}

export function toCriMemoryUsage(s: CgroupSample): MemoryUsage {
  const m = s.memory;
  return {
    timestamp: s.timestampNs,
    workingSetBytes: u64(m.workingSetBytes),
    availableBytes: optU64(m.availableBytes),
    usageBytes: u64(m.usageBytes),
    rssBytes: u64(m.rssBytes),
    pageFaults: u64(m.pageFaults),
    majorPageFaults: u64(m.majorPageFaults),
    psi: toCriPsi(m.psi),
  };
}

export function toCriSwapUsage(s: CgroupSample): SwapUsage {
  return { timestamp: s.timestampNs, swapUsageBytes: u64(s.swap.swapUsageBytes), swapAvailableBytes: optU64(s.swap.swapAvailableBytes) };
}

export function toCriIoUsage(s: CgroupSample): IoUsage | null {
  return s.ioPsi ? { timestamp: s.timestampNs, psi: toCriPsi(s.ioPsi) } : null;
}

export function toCriFilesystemUsage(fsSample: FilesystemSample, timestampNs: string): FilesystemUsage {
  return { timestamp: timestampNs, fsId: { mountpoint: fsSample.mountpoint }, usedBytes: u64(fsSample.usedBytes), inodesUsed: u64(fsSample.inodesUsed) };
}

export function toCriContainerStats(s: ContainerStatsSample, attributes: ContainerAttributes): ContainerStats {
  return {
    attributes,
    cpu: toCriCpuUsage(s),
    memory: toCriMemoryUsage(s),
    swap: toCriSwapUsage(s),
    writableLayer: s.writableLayer ? toCriFilesystemUsage(s.writableLayer, s.timestampNs) : null,
    io: toCriIoUsage(s),
  };
}

function toCriInterface(i: NetworkInterfaceStats): NetworkInterfaceUsage {
  return { name: i.name, rxBytes: u64(i.rxBytes), rxErrors: u64(i.rxErrors), txBytes: u64(i.txBytes), txErrors: u64(i.txErrors) };
}

/** default_interface = eth0 (or the first non-loopback); interfaces = the other non-loopback ones (cAdvisor ignores lo). */
export function toCriNetworkUsage(n: NetworkSample): NetworkUsage {
  const name = defaultInterfaceName(n.interfaces);
  const def = n.interfaces.find((i) => i.name === name);
  return {
    timestamp: n.timestampNs,
    defaultInterface: def ? toCriInterface(def) : null,
    interfaces: n.interfaces.filter((i) => i.name !== 'lo' && i.name !== name).map(toCriInterface),
  };
}

export function toCriPodSandboxStats(s: PodSandboxStatsSample, attributes: PodSandboxAttributes, containers: ContainerStats[]): PodSandboxStats {
  return {
    attributes,
    linux: {
      cpu: toCriCpuUsage(s),
      memory: toCriMemoryUsage(s),
      network: s.network ? toCriNetworkUsage(s.network) : null,
      process: s.pids ? { timestamp: s.timestampNs, processCount: u64(s.pids.current) } : null,
      containers,
      io: toCriIoUsage(s),
    },
  };
}
