// libseccomp bindings, loaded on demand: the container init must call
// loadLibseccomp() before pivot_root, because the new root has no libraries.
import type * as Koffi from 'koffi' with { 'resolution-mode': 'require' };
import { SyscallError } from './errno';
import { supportedArch, type SupportedArch } from './constants';

/** The architectures a filter can cover on each host: its own and its compat ABIs (as runc's). */
const SECCOMP_ARCHES: Record<SupportedArch, readonly string[]> = {
  x64: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_X86_64'],
  arm64: ['SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64'],
};

export function seccompArches(arch: SupportedArch = supportedArch()): readonly string[] {
  return SECCOMP_ARCHES[arch];
}

type Fn = (...args: unknown[]) => unknown;

interface SeccompLib {
  koffi: typeof Koffi;
  init: Fn; release: Fn; load: Fn; archAdd: Fn; archResolve: Fn; syscallResolve: Fn;
  ruleAddArray: Fn; attrSet: Fn; exportBpf: Fn; argCmp: Koffi.TypeObject;
}

let cached: SeccompLib | undefined;

export function loadLibseccomp(): void {
  lib();
}

function lib(): SeccompLib {
  if (cached) return cached;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require('koffi') as typeof Koffi;
  const l = koffi.load('libseccomp.so.2');
  const argCmp = koffi.struct('cradle_scmp_arg_cmp', { arg: 'uint32', op: 'int', datum_a: 'uint64', datum_b: 'uint64' });
  cached = {
    koffi,
    argCmp,
    init: l.func('void *seccomp_init(uint32_t def_action)'),
    release: l.func('void seccomp_release(void *ctx)'),
    load: l.func('int seccomp_load(void *ctx)'),
    archAdd: l.func('int seccomp_arch_add(void *ctx, uint32_t arch)'),
    archResolve: l.func('uint32_t seccomp_arch_resolve_name(const char *name)'),
    syscallResolve: l.func('int seccomp_syscall_resolve_name(const char *name)'),
    ruleAddArray: l.func('int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int count, const cradle_scmp_arg_cmp *args)'),
    attrSet: l.func('int seccomp_attr_set(void *ctx, int attr, uint32_t value)'),
    exportBpf: l.func('int seccomp_export_bpf(void *ctx, int fd)'),
  };
  return cached;
}

export const SCMP_ACT = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

export const SCMP_CMP: Record<string, number> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};

const SCMP_FLTATR_CTL_NNP = 3;

export interface SeccompArgCmp {
  index: number;
  op: number;
  value: bigint;
  valueTwo: bigint;
}

/** A libseccomp filter being built; load() installs it on the calling thread. */
export class SeccompFilter {
  private ctx: unknown;

  constructor(defaultAction: number) {
    const s = lib();
    this.ctx = s.init(defaultAction >>> 0);
    if (!this.ctx) throw new Error('seccomp_init failed (bad default action?)');
    // libseccomp must not set no_new_privs itself: that is the config's decision.
    this.mustSucceed('seccomp_attr_set', s.attrSet(this.ctx, SCMP_FLTATR_CTL_NNP, 0));
  }

  /** Adds an architecture by OCI name (SCMP_ARCH_X86_64...); EEXIST (native arch) is fine. */
  addArch(ociName: string): void {
    const s = lib();
    const name = ociName.replace(/^SCMP_ARCH_/, '').toLowerCase();
    const token = s.archResolve(name) as number;
    if (!token) throw new Error(`unknown seccomp architecture ${JSON.stringify(ociName)}`);
    const rc = s.archAdd(this.ctx, token) as number;
    if (rc < 0 && rc !== -17) throw new SyscallError('seccomp_arch_add', -rc, ociName);
  }

  /** Resolves a syscall name for the native arch; undefined when unknown (skipped, as runc does). */
  static resolve(name: string): number | undefined {
    const nr = lib().syscallResolve(name) as number;
    return nr < 0 && nr !== -10000 ? undefined : (nr === -10000 ? undefined : nr);
  }

  addRule(action: number, syscall: number, args: SeccompArgCmp[], what: string): void {
    const s = lib();
    const arr = args.map((a) => ({ arg: a.index, op: a.op, datum_a: a.value, datum_b: a.valueTwo }));
    const rc = s.ruleAddArray(this.ctx, action >>> 0, syscall, arr.length, arr.length ? arr : null) as number;
    // -EEXIST/-EACCES... would hide a config mistake; only "action equals default" is tolerated.
    if (rc < 0 && rc !== -17) throw new SyscallError('seccomp_rule_add', -rc, what);
  }

  load(): void {
    const rc = lib().load(this.ctx) as number;
    if (rc < 0) throw new SyscallError('seccomp_load', -rc);
  }

  /** Frees the libseccomp context (a long-lived process builds many filters). */
  release(): void {
    if (this.ctx) lib().release(this.ctx);
    this.ctx = null;
  }

  /** Writes the generated BPF program to fd (what load() would install). */
  exportBpf(fd: number): void {
    const rc = lib().exportBpf(this.ctx, fd) as number;
    if (rc < 0) throw new SyscallError('seccomp_export_bpf', -rc);
  }

  private mustSucceed(name: string, rc: unknown): void {
    if ((rc as number) < 0) throw new SyscallError(name, -(rc as number));
  }
}
