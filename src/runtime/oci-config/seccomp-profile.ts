// Seccomp profiles in the "extended" JSON format of Docker/containerd/cri-o (archMap,
// names, includes/excludes), also accepting plain OCI `linux.seccomp` objects: validation
// and resolution into an OCI LinuxSeccomp for one container (its capabilities, the host
// architecture and kernel).
import type { OciSeccomp, OciSeccompArg, OciSeccompSyscall, OciSeccompAction, OciSeccompOperator } from '../../common/oci-spec';

export interface SeccompFilter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface SeccompRule {
  names?: string[];
  /** Legacy single-name form. */
  name?: string;
  action: OciSeccompAction;
  errnoRet?: number;
  args?: OciSeccompArg[];
  includes?: SeccompFilter;
  excludes?: SeccompFilter;
  comment?: string;
}

export interface SeccompProfile {
  defaultAction: OciSeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures: string[] | null }[];
  flags?: string[];
  syscalls?: SeccompRule[];
}

const ACTIONS: readonly OciSeccompAction[] = [
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG',
];
const OPERATORS: readonly OciSeccompOperator[] = [
  'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ',
];

/** Node's arch → (libseccomp architecture, Go/moby arch name used in includes.arches). */
const ARCHES: Partial<Record<NodeJS.Architecture, { seccomp: string; name: string }>> = {
  x64: { seccomp: 'SCMP_ARCH_X86_64', name: 'amd64' },
  ia32: { seccomp: 'SCMP_ARCH_X86', name: 'x86' },
  arm64: { seccomp: 'SCMP_ARCH_AARCH64', name: 'arm64' },
  arm: { seccomp: 'SCMP_ARCH_ARM', name: 'arm' },
  s390x: { seccomp: 'SCMP_ARCH_S390X', name: 's390x' },
  riscv64: { seccomp: 'SCMP_ARCH_RISCV64', name: 'riscv64' },
  ppc64: { seccomp: 'SCMP_ARCH_PPC64LE', name: 'ppc64le' },
};

/**
 * Checks that parsed JSON is a usable profile; returns the problem, or null when valid.
 * SCMP_ACT_NOTIFY is refused: cradle runs no seccomp agent.
 */
export function validateSeccompProfile(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const p = value as Record<string, unknown>;
  if (!ACTIONS.includes(p.defaultAction as OciSeccompAction)) return `invalid defaultAction ${JSON.stringify(p.defaultAction)}`;
  if (p.defaultErrnoRet !== undefined && !Number.isInteger(p.defaultErrnoRet)) return 'defaultErrnoRet is not an integer';
  if (p.architectures !== undefined && !(Array.isArray(p.architectures) && p.architectures.every((a) => typeof a === 'string'))) {
    return 'architectures is not a list of strings';
  }
  if (p.flags !== undefined && p.flags !== null && !(Array.isArray(p.flags) && p.flags.every((f) => typeof f === 'string' && f.startsWith('SECCOMP_FILTER_FLAG_')))) {
    return 'flags is not a list of SECCOMP_FILTER_FLAG_* names';
  }
  if (p.listenerPath) return 'listenerPath is not supported (cradle runs no seccomp agent)';
  if (p.archMap !== undefined && p.archMap !== null) {
    if (!Array.isArray(p.archMap)) return 'archMap is not a list';
    if (Array.isArray(p.architectures) && p.architectures.length > 0 && p.archMap.length > 0) return 'architectures and archMap are both set';
  }
  if (p.syscalls === undefined || p.syscalls === null) return null;
  if (!Array.isArray(p.syscalls)) return 'syscalls is not a list';
  for (const [i, raw] of p.syscalls.entries()) {
    if (typeof raw !== 'object' || raw === null) return `syscalls[${i}] is not an object`;
    const r = raw as Record<string, unknown>;
    const hasNames = Array.isArray(r.names) && r.names.length > 0;
    if (r.names !== undefined && r.names !== null && !(Array.isArray(r.names) && r.names.every((n) => typeof n === 'string' && n !== ''))) {
      return `syscalls[${i}].names is not a list of syscall names`;
    }
    if (r.name !== undefined && typeof r.name !== 'string') return `syscalls[${i}].name is not a string`;
    if (hasNames && typeof r.name === 'string' && r.name !== '') return `syscalls[${i}] sets both name and names`;
    if (!hasNames && !(typeof r.name === 'string' && r.name !== '')) return `syscalls[${i}] names no syscall`;
    if (!ACTIONS.includes(r.action as OciSeccompAction)) return `syscalls[${i}].action ${JSON.stringify(r.action)} is not supported`;
    if (r.errnoRet !== undefined && !Number.isInteger(r.errnoRet)) return `syscalls[${i}].errnoRet is not an integer`;
    if (r.args !== undefined && r.args !== null) {
      if (!Array.isArray(r.args)) return `syscalls[${i}].args is not a list`;
      for (const [j, a] of r.args.entries()) {
        const arg = a as Record<string, unknown>;
        if (typeof arg !== 'object' || arg === null) return `syscalls[${i}].args[${j}] is not an object`;
        if (!Number.isInteger(arg.index) || (arg.index as number) < 0 || (arg.index as number) > 5) return `syscalls[${i}].args[${j}].index must be 0..5`;
        if (typeof arg.value !== 'number' || arg.value < 0) return `syscalls[${i}].args[${j}].value is not an unsigned number`;
        if (!OPERATORS.includes(arg.op as OciSeccompOperator)) return `syscalls[${i}].args[${j}].op ${JSON.stringify(arg.op)} is invalid`;
      }
    }
  }
  return null;
}

function compareKernel(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
  const pb = b.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export interface SeccompContext {
  /** Capabilities the container holds (bounding set, CAP_ names). */
  capabilities: readonly string[];
  arch: NodeJS.Architecture;
  /** Host kernel release (os.release()). */
  kernel: string;
}

/** Resolves a (validated) profile for one container, as moby's setupSeccomp does. */
export function resolveSeccompProfile(profile: SeccompProfile, ctx: SeccompContext): OciSeccomp {
  const native = ARCHES[ctx.arch];
  const out: OciSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.architectures && profile.architectures.length > 0) {
    out.architectures = [...profile.architectures];
  } else if (profile.archMap && native) {
    const archs: string[] = [];
    for (const m of profile.archMap) {
      if (m.architecture === native.seccomp) archs.push(m.architecture, ...(m.subArchitectures ?? []));
    }
    if (archs.length > 0) out.architectures = archs;
  }
  if (profile.flags && profile.flags.length > 0) out.flags = [...profile.flags];
  const archName = native?.name ?? ctx.arch;
  const syscalls: OciSeccompSyscall[] = [];
  for (const rule of profile.syscalls ?? []) {
    const inc = rule.includes;
    if (inc) {
      if (inc.arches && inc.arches.length > 0 && !inc.arches.includes(archName)) continue;
      if (inc.caps && !inc.caps.every((c) => ctx.capabilities.includes(c))) continue;
      if (inc.minKernel && compareKernel(ctx.kernel, inc.minKernel) < 0) continue;
    }
    const exc = rule.excludes;
    if (exc) {
      if (exc.arches && exc.arches.includes(archName)) continue;
      if (exc.caps && exc.caps.some((c) => ctx.capabilities.includes(c))) continue;
      if (exc.minKernel && compareKernel(ctx.kernel, exc.minKernel) >= 0) continue;
    }
    const names = rule.names && rule.names.length > 0 ? [...rule.names] : rule.name ? [rule.name] : [];
    const sc: OciSeccompSyscall = { names, action: rule.action };
    if (rule.errnoRet !== undefined) sc.errnoRet = rule.errnoRet;
    if (rule.args && rule.args.length > 0) sc.args = rule.args.map((a) => ({ ...a }));
    syscalls.push(sc);
  }
  if (syscalls.length > 0) out.syscalls = syscalls;
  return out;
}

/**
 * Whether the resolved profile lets `name` through unconditionally (an ALLOW rule
 * without argument filters) — for tests and diagnostics.
 */
export function allowsSyscall(seccomp: OciSeccomp, name: string): boolean {
  const rules = (seccomp.syscalls ?? []).filter((s) => s.names.includes(name));
  if (rules.length === 0) return seccomp.defaultAction === 'SCMP_ACT_ALLOW';
  return rules.some((s) => s.action === 'SCMP_ACT_ALLOW' && !(s.args && s.args.length > 0));
}
