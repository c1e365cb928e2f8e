// Reads one cgroup's usage, limits and pressure (v1 per-controller directories or the
// v2 unified directory). Synchronous: every file is a small kernel-generated read.
// Derived values follow the kubelet/cAdvisor definitions (working set = usage −
// inactive file; v1 swap = memsw − memory; unlimited = above 2^62, as cri-o/cAdvisor).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errors } from '../common/errors';
import { isUnifiedRoot, v1ControllerRoot } from './cgroup-path';
import type { CgroupSample, CpuSample, CpuSpec, MemorySample, PidsSample, Psi, PsiData, SwapSample } from './types';

/** Limits above this are "unlimited" (the kernel rounds LONG_MAX down to a page multiple). */
const UNLIMITED_ABOVE = 1n << 62n;
/** USER_HZ for cpuacct.stat on Linux. */
const NS_PER_TICK = 10_000_000n;

/** Wall-clock nanoseconds since the epoch (microsecond resolution), as a decimal string. */
export function nowNs(): string {
  return (BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n).toString();
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'EOPNOTSUPP' || code === 'ENOTSUP') return undefined;
    throw err;
  }
}

/** A single-value file: a number, or undefined for "max", a missing file or an empty one. */
function readU64(file: string): bigint | undefined {
  const text = readText(file)?.trim();
  if (text === undefined || text === '' || text === 'max') return undefined;
  if (!/^-?\d+$/.test(text)) throw new Error(`unexpected content ${JSON.stringify(text)} in ${file}`);
  return BigInt(text);
}

/** "key value" lines (memory.stat, cpu.stat, memory.events). */
export function parseKeyValues(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(-?\d+)$/.exec(line.trim());
    if (m) out.set(m[1]!, BigInt(m[2]!));
  }
  return out;
}

function readKeyValues(file: string): Map<string, bigint> {
  const text = readText(file);
  return text === undefined ? new Map() : parseKeyValues(text);
}

/** "some avg10=0.00 avg60=0.00 avg300=0.00 total=123" (total in µs) → Psi; undefined when absent. */
export function parsePsi(text: string): Psi | undefined {
  const lines = new Map<string, PsiData>();
  for (const line of text.split('\n')) {
    const [kind, ...fields] = line.trim().split(/\s+/);
    if (kind !== 'some' && kind !== 'full') continue;
    const kv = new Map(fields.map((f) => f.split('=') as [string, string]));
    lines.set(kind, {
      totalNs: BigInt(kv.get('total') ?? '0') * 1000n,
      avg10: Number(kv.get('avg10') ?? 0),
      avg60: Number(kv.get('avg60') ?? 0),
      avg300: Number(kv.get('avg300') ?? 0),
    });
  }
  const some = lines.get('some');
  if (!some) return undefined;
  return { some, full: lines.get('full') ?? { totalNs: 0n, avg10: 0, avg60: 0, avg300: 0 } };
}

function readPsi(file: string): Psi | undefined {
  const text = readText(file);
  return text === undefined ? undefined : parsePsi(text);
}

const limited = (v: bigint | undefined): bigint | undefined => (v === undefined || v < 0n || v > UNLIMITED_ABOVE ? undefined : v);
const sub0 = (a: bigint, b: bigint): bigint => (a > b ? a - b : 0n);

function workingSet(usage: bigint, inactiveFile: bigint | undefined): bigint {
  return inactiveFile === undefined ? usage : sub0(usage, inactiveFile);
}

function notFound(dir: string): Error {
  return errors.cgroupNotFound(dir);
}

/** cpu.weight (v2) back to cpu.shares, as cAdvisor reports it. */
function weightToShares(weight: bigint): bigint {
  return 2n + ((weight - 1n) * 262142n) / 9999n;
}

function readV1(cgroupRoot: string, rel: string, timestampNs: string): CgroupSample {
  const dirOf = (controller: string): string | undefined => {
    const root = v1ControllerRoot(cgroupRoot, controller);
    return root === undefined ? undefined : path.join(root, rel);
  };
  const memDir = dirOf('memory');
  if (memDir === undefined || !fs.existsSync(memDir)) throw notFound(memDir ?? path.join(cgroupRoot, 'memory', rel));
  const f = (dir: string | undefined, file: string): string => path.join(dir ?? '/nonexistent', file);

  const acct = dirOf('cpuacct');
  const cpuDir = dirOf('cpu');
  const cpuStat = readKeyValues(f(cpuDir, 'cpu.stat'));
  const acctStat = readKeyValues(f(acct, 'cpuacct.stat'));
  const cpu: CpuSample = {
    usageCoreNanoSeconds: readU64(f(acct, 'cpuacct.usage')) ?? 0n,
    userNanoSeconds: readU64(f(acct, 'cpuacct.usage_user')) ?? (acctStat.get('user') ?? 0n) * NS_PER_TICK,
    systemNanoSeconds: readU64(f(acct, 'cpuacct.usage_sys')) ?? (acctStat.get('system') ?? 0n) * NS_PER_TICK,
    periods: cpuStat.get('nr_periods') ?? 0n,
    throttledPeriods: cpuStat.get('nr_throttled') ?? 0n,
    throttledNanoSeconds: cpuStat.get('throttled_time') ?? 0n,
  };
  const quota = readU64(f(cpuDir, 'cpu.cfs_quota_us'));
  const cpuSpec: CpuSpec = {
    shares: readU64(f(cpuDir, 'cpu.shares')),
    quotaMicros: quota !== undefined && quota > 0n ? quota : undefined,
    periodMicros: readU64(f(cpuDir, 'cpu.cfs_period_us')),
  };

  const stat = readKeyValues(path.join(memDir, 'memory.stat'));
  const usage = readU64(path.join(memDir, 'memory.usage_in_bytes')) ?? 0n;
  const limit = limited(readU64(path.join(memDir, 'memory.limit_in_bytes')));
  const ws = workingSet(usage, stat.get('total_inactive_file'));
  const soft = limited(readU64(path.join(memDir, 'memory.soft_limit_in_bytes')));
  const memory: MemorySample = {
    workingSetBytes: ws,
    usageBytes: usage,
    rssBytes: stat.get('total_rss') ?? 0n,
    pageFaults: stat.get('total_pgfault') ?? 0n,
    majorPageFaults: stat.get('total_pgmajfault') ?? 0n,
    availableBytes: limit === undefined ? undefined : sub0(limit, ws),
    limitBytes: limit,
    maxUsageBytes: readU64(path.join(memDir, 'memory.max_usage_in_bytes')) ?? 0n,
    cacheBytes: stat.get('total_cache') ?? 0n,
    mappedFileBytes: stat.get('total_mapped_file') ?? 0n,
    kernelBytes: readU64(path.join(memDir, 'memory.kmem.usage_in_bytes')) ?? 0n,
    activeFileBytes: stat.get('total_active_file') ?? 0n,
    inactiveFileBytes: stat.get('total_inactive_file') ?? 0n,
    failcnt: readU64(path.join(memDir, 'memory.failcnt')) ?? 0n,
    oomKills: readKeyValues(path.join(memDir, 'memory.oom_control')).get('oom_kill') ?? 0n,
    reservationBytes: soft === 0n ? undefined : soft,
  };

  const memsw = readU64(path.join(memDir, 'memory.memsw.usage_in_bytes'));
  const memswLimit = limited(readU64(path.join(memDir, 'memory.memsw.limit_in_bytes')));
  const swapUsage = memsw === undefined ? 0n : sub0(memsw, usage);
  const swapLimit = memswLimit !== undefined && limit !== undefined ? sub0(memswLimit, limit) : undefined;
  const swap: SwapSample = {
    swapUsageBytes: swapUsage,
    swapLimitBytes: swapLimit,
    swapAvailableBytes: swapLimit === undefined ? undefined : sub0(swapLimit, swapUsage),
  };

  const pidsDir = dirOf('pids');
  const current = pidsDir === undefined ? undefined : readU64(path.join(pidsDir, 'pids.current'));
  const pids: PidsSample | undefined = current === undefined ? undefined : { current, limit: readU64(path.join(pidsDir!, 'pids.max')) };
  return { version: 1, timestampNs, cpu, memory, swap, pids, cpuSpec };
}

function readV2(cgroupRoot: string, rel: string, timestampNs: string): CgroupSample {
  const dir = path.join(cgroupRoot, rel);
  if (!fs.existsSync(dir)) throw notFound(dir);
  const file = (name: string): string => path.join(dir, name);

  const cpuStat = readKeyValues(file('cpu.stat'));
  const us = (key: string): bigint => (cpuStat.get(key) ?? 0n) * 1000n;
  const cpu: CpuSample = {
    usageCoreNanoSeconds: us('usage_usec'),
    userNanoSeconds: us('user_usec'),
    systemNanoSeconds: us('system_usec'),
    periods: cpuStat.get('nr_periods') ?? 0n,
    throttledPeriods: cpuStat.get('nr_throttled') ?? 0n,
    throttledNanoSeconds: us('throttled_usec'),
    psi: readPsi(file('cpu.pressure')),
  };
  const weight = readU64(file('cpu.weight'));
  const [quotaText, periodText] = (readText(file('cpu.max'))?.trim() ?? '').split(/\s+/);
  const cpuSpec: CpuSpec = {
    shares: weight === undefined ? undefined : weightToShares(weight),
    quotaMicros: quotaText !== undefined && /^\d+$/.test(quotaText) ? BigInt(quotaText) : undefined,
    periodMicros: periodText !== undefined && /^\d+$/.test(periodText) ? BigInt(periodText) : undefined,
  };

  const stat = readKeyValues(file('memory.stat'));
  const events = readKeyValues(file('memory.events'));
  const usage = readU64(file('memory.current')) ?? 0n;
  const limit = limited(readU64(file('memory.max')));
  const ws = workingSet(usage, stat.get('inactive_file'));
  const low = limited(readU64(file('memory.low')));
  const memory: MemorySample = {
    workingSetBytes: ws,
    usageBytes: usage,
    rssBytes: stat.get('anon') ?? 0n,
    pageFaults: stat.get('pgfault') ?? 0n,
    majorPageFaults: stat.get('pgmajfault') ?? 0n,
    availableBytes: limit === undefined ? undefined : sub0(limit, ws),
    limitBytes: limit,
    maxUsageBytes: readU64(file('memory.peak')) ?? 0n,
    cacheBytes: stat.get('file') ?? 0n,
    mappedFileBytes: stat.get('file_mapped') ?? 0n,
    kernelBytes: stat.get('kernel') ?? (stat.get('kernel_stack') ?? 0n) + (stat.get('slab') ?? 0n) + (stat.get('sock') ?? 0n),
    activeFileBytes: stat.get('active_file') ?? 0n,
    inactiveFileBytes: stat.get('inactive_file') ?? 0n,
    failcnt: events.get('max') ?? 0n,
    oomKills: events.get('oom_kill') ?? 0n,
    reservationBytes: low === 0n ? undefined : low,
    psi: readPsi(file('memory.pressure')),
  };

  const swapUsage = readU64(file('memory.swap.current')) ?? 0n;
  const swapLimit = limited(readU64(file('memory.swap.max')));
  const swap: SwapSample = {
    swapUsageBytes: swapUsage,
    swapLimitBytes: swapLimit,
    swapAvailableBytes: swapLimit === undefined ? undefined : sub0(swapLimit, swapUsage),
  };

  const current = readU64(file('pids.current'));
  const pids: PidsSample | undefined = current === undefined ? undefined : { current, limit: readU64(file('pids.max')) };
  return { version: 2, timestampNs, cpu, memory, swap, pids, cpuSpec, ioPsi: readPsi(file('io.pressure')) };
}

/**
 * Reads the cgroup at `rel` (relative to each hierarchy, e.g. "/kubepods/pod1/cradle-x").
 * Throws errors.cgroupNotFound when the cgroup does not exist (a stopped container's is gone).
 */
export function readCgroup(rel: string, cgroupRoot = '/sys/fs/cgroup', timestampNs: string = nowNs()): CgroupSample {
  return isUnifiedRoot(cgroupRoot) ? readV2(cgroupRoot, rel, timestampNs) : readV1(cgroupRoot, rel, timestampNs);
}
