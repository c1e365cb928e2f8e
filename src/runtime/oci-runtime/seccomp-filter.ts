// OCI linux.seccomp -> a libseccomp filter (runc's semantics: unknown syscall names
// are skipped, rules whose action equals the default are dropped, arguments on the
// same index are OR-ed by splitting into one rule per argument).
import type { Seccomp } from './spec';
import { SCMP_ACT, SCMP_CMP, SeccompFilter, type SeccompArgCmp } from '../../sys/seccomp';

const EPERM = 1;

export function actionValue(action: string, errnoRet: number | undefined, where: string): number {
  switch (action) {
    case 'SCMP_ACT_KILL': case 'SCMP_ACT_KILL_THREAD': return SCMP_ACT.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS': return SCMP_ACT.KILL_PROCESS;
    case 'SCMP_ACT_TRAP': return SCMP_ACT.TRAP;
    case 'SCMP_ACT_ERRNO': return SCMP_ACT.ERRNO | ((errnoRet ?? EPERM) & 0xffff);
    case 'SCMP_ACT_TRACE': return SCMP_ACT.TRACE | ((errnoRet ?? EPERM) & 0xffff);
    case 'SCMP_ACT_LOG': return SCMP_ACT.LOG;
    case 'SCMP_ACT_ALLOW': return SCMP_ACT.ALLOW;
    case 'SCMP_ACT_NOTIFY': throw new Error(`${where}: SCMP_ACT_NOTIFY is not supported`);
    default: throw new Error(`${where}: unknown seccomp action ${JSON.stringify(action)}`);
  }
}

/** Builds (but does not load) the filter. Call before pivot_root: it loads libseccomp. */
export function buildSeccomp(config: Seccomp): SeccompFilter {
  const defaultAction = actionValue(config.defaultAction, config.defaultErrnoRet, 'linux.seccomp.defaultAction');
  for (const flag of config.flags ?? []) {
    if (flag !== 'SECCOMP_FILTER_FLAG_SPEC_ALLOW' && flag !== 'SECCOMP_FILTER_FLAG_LOG') {
      throw new Error(`linux.seccomp.flags: unsupported flag ${JSON.stringify(flag)}`);
    }
  }
  const filter = new SeccompFilter(defaultAction);
  for (const arch of config.architectures ?? []) filter.addArch(arch);
  (config.syscalls ?? []).forEach((rule, i) => {
    const where = `linux.seccomp.syscalls[${i}]`;
    const action = actionValue(rule.action, rule.errnoRet, where);
    if (action === defaultAction) return;
    const args: SeccompArgCmp[] = (rule.args ?? []).map((a, j) => {
      const op = SCMP_CMP[a.op];
      if (op === undefined) throw new Error(`${where}.args[${j}]: unknown operator ${JSON.stringify(a.op)}`);
      return { index: a.index, op, value: BigInt(a.value), valueTwo: BigInt(a.valueTwo ?? 0) };
    });
    const sameIndex = new Set(args.map((a) => a.index)).size !== args.length;
    for (const name of rule.names) {
      const nr = SeccompFilter.resolve(name);
      if (nr === undefined) continue;
      if (sameIndex) for (const a of args) filter.addRule(action, nr, [a], `${where} ${name}`);
      else filter.addRule(action, nr, args, `${where} ${name}`);
    }
  });
  return filter;
}
