// cgroup resources, oom_score_adj, rlimits and the cgroups path.
import { errors } from '../../common/errors';
import type { LinuxContainerResources__Output } from '../../generated/runtime/v1/LinuxContainerResources';
import type { CgroupDriver, SpecRuntimeOptions } from './inputs';
import type { OciResources, OciRlimit } from '../../common/oci-spec';

export const MIB = 1024 * 1024;

function int(value: string, field: string, { min = 0 }: { min?: number } = {}): number {
  if (!/^-?\d+$/.test(value)) throw errors.invalidField(field, `${JSON.stringify(value)} is not an integer`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw errors.invalidField(field, `${value} is out of range`);
  if (n < min) throw errors.invalidField(field, `${value} must not be below ${min}`);
  return n;
}

const CPUSET = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;
const PAGE_SIZE = /^\d+(KB|MB|GB|TB|PB)$/;

/**
 * Validates CRI resources and maps them to OCI. `field` is the CRI path of the message
 * (config.linux.resources, or update.linux for UpdateContainerResources).
 */
export function buildResources(
  r: LinuxContainerResources__Output | null,
  runtime: Pick<SpecRuntimeOptions, 'cgroupVersion' | 'swapAccounting' | 'pidsLimit' | 'hugetlb'>,
  field = 'config.linux.resources',
): OciResources {
  const out: OciResources = {};
  if (runtime.pidsLimit && runtime.pidsLimit > 0) out.pids = { limit: runtime.pidsLimit };
  if (!r) return out;

  const cpu: NonNullable<OciResources['cpu']> = {};
  const shares = int(r.cpuShares, `${field}.cpuShares`);
  if (shares > 0) cpu.shares = Math.min(Math.max(shares, 2), 262144);
  const quota = int(r.cpuQuota, `${field}.cpuQuota`, { min: -1 });
  const period = int(r.cpuPeriod, `${field}.cpuPeriod`);
  if (period !== 0 && (period < 1000 || period > 1000000)) throw errors.invalidField(`${field}.cpuPeriod`, `${period} is outside 1000..1000000 µs`);
  if (quota > 0 && quota < 1000) throw errors.invalidField(`${field}.cpuQuota`, `${quota} is below the kernel minimum of 1000 µs`);
  if (quota > 0) cpu.quota = quota;
  if (period > 0) cpu.period = period;
  if (r.cpusetCpus !== '') {
    if (!CPUSET.test(r.cpusetCpus)) throw errors.invalidField(`${field}.cpusetCpus`, `${JSON.stringify(r.cpusetCpus)} is not a cpu list`);
    cpu.cpus = r.cpusetCpus;
  }
  if (r.cpusetMems !== '') {
    if (!CPUSET.test(r.cpusetMems)) throw errors.invalidField(`${field}.cpusetMems`, `${JSON.stringify(r.cpusetMems)} is not a node list`);
    cpu.mems = r.cpusetMems;
  }
  if (Object.keys(cpu).length > 0) out.cpu = cpu;

  const limit = int(r.memoryLimitInBytes, `${field}.memoryLimitInBytes`);
  const swap = int(r.memorySwapLimitInBytes, `${field}.memorySwapLimitInBytes`, { min: -1 });
  if (limit > 0) {
    const memory: NonNullable<OciResources['memory']> = { limit };
    if (swap > 0) {
      if (swap < limit) throw errors.invalidField(`${field}.memorySwapLimitInBytes`, `${swap} is below memoryLimitInBytes ${limit} (it is memory + swap)`);
      if (!runtime.swapAccounting) throw errors.invalidField(`${field}.memorySwapLimitInBytes`, 'swap limits are not supported on this host (no swap accounting)');
      memory.swap = swap;
    } else if (swap === -1) {
      if (runtime.swapAccounting) memory.swap = -1;
    } else if (runtime.swapAccounting) {
      // No swap beyond the memory limit, as cri-o does when swap is not asked for.
      memory.swap = limit;
    }
    out.memory = memory;
  } else if (swap > 0) {
    throw errors.invalidField(`${field}.memorySwapLimitInBytes`, 'needs memoryLimitInBytes');
  }

  if (r.hugepageLimits.length > 0) {
    const limits = r.hugepageLimits.map((h, i) => {
      if (!PAGE_SIZE.test(h.pageSize)) throw errors.invalidField(`${field}.hugepageLimits[${i}].pageSize`, `${JSON.stringify(h.pageSize)} is not a page size like 2MB`);
      return { pageSize: h.pageSize, limit: int(h.limit, `${field}.hugepageLimits[${i}].limit`) };
    });
    if (runtime.hugetlb !== false) out.hugepageLimits = limits;
  }

  const unified = Object.entries(r.unified ?? {});
  if (unified.length > 0) {
    if (runtime.cgroupVersion !== 2) throw errors.invalidField(`${field}.unified`, 'unified resources need cgroup v2; this host runs cgroup v1');
    for (const [key] of unified) {
      if (!/^[a-z0-9_]+\.[a-z0-9_.]+$/.test(key)) throw errors.invalidField(`${field}.unified[${JSON.stringify(key)}]`, 'not a cgroup v2 file name');
    }
    out.unified = Object.fromEntries(unified);
  }
  return out;
}

/** oom_score_adj from the request, clamped to [host minimum, 1000]. */
export function oomScoreAdj(value: string, minOomScoreAdj: number, field = 'config.linux.resources.oomScoreAdj'): number {
  const n = int(value === '' ? '0' : value, field, { min: -1000 });
  if (n > 1000) throw errors.invalidField(field, `${n} is above 1000`);
  return Math.max(n, minOomScoreAdj);
}

/** "nofile=1024:2048", "nproc=512" → an OCI rlimit. */
export function parseUlimit(text: string): OciRlimit {
  const m = /^([a-z_]+)=(-?\d+)(?::(-?\d+))?$/.exec(text.trim());
  if (!m) throw errors.invalidArgument(`invalid ulimit ${JSON.stringify(text)}: expected name=soft[:hard]`);
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (soft > hard && hard !== -1) throw errors.invalidArgument(`invalid ulimit ${JSON.stringify(text)}: soft limit above hard limit`);
  const toU64 = (n: number) => (n === -1 ? Number.MAX_SAFE_INTEGER : n);
  return { type: `RLIMIT_${m[1]!.toUpperCase()}`, soft: toU64(soft), hard: toU64(hard) };
}

/**
 * cgroupsPath for the OCI runtime.
 * - cgroupfs: `<parent>/cradle-<id>`; an empty or "/" parent means `/cradle`.
 * - systemd: `<slice>:cradle:<id>` → runc creates the scope `cradle-<id>.scope` in the slice.
 */
export function cgroupsPath(driver: CgroupDriver, parent: string, id: string, field = 'sandbox.cgroupParent'): string {
  if (driver === 'systemd') {
    const slice = parent === '' ? 'system.slice' : parent;
    if (!/^[A-Za-z0-9:_.\\-]+\.slice$/.test(slice) || slice.includes('/')) {
      throw errors.invalidField(field, `${JSON.stringify(parent)} is not a systemd slice name: cradle's cgroup driver is systemd (runtime.cgroup_manager), the kubelet's --cgroup-driver must be systemd too`);
    }
    return `${slice}:cradle:${id}`;
  }
  if (parent !== '' && !parent.startsWith('/')) {
    throw errors.invalidField(field, `${JSON.stringify(parent)} is not an absolute cgroup path: cradle's cgroup driver is cgroupfs (runtime.cgroup_manager), the kubelet's --cgroup-driver must be cgroupfs too`);
  }
  const base = parent === '' || parent === '/' ? '/cradle' : parent.replace(/\/+$/, '');
  return `${base}/cradle-${id}`;
}
