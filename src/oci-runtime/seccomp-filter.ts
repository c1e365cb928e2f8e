// OCI linux.seccomp -> a libseccomp filter (runc's semantics: unknown syscall names
// are skipped, rules whose action equals the default are dropped, arguments on the
// same index are OR-ed by splitting into one rule per argument).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { OciSeccomp } from '../common/oci-spec';
import { O_CLOEXEC } from '../sys/constants';
import { SCMP_ACT, SCMP_CMP, SeccompFilter, type SeccompArgCmp } from '../sys/seccomp';

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
export function buildSeccomp(config: OciSeccomp): SeccompFilter {
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

/**
 * A container's compiled seccomp program is kept in its state dir, so `exec` (and
 * every ExecSync probe) installs it without libseccomp generating it again: that
 * generation is ~9 ms of an exec here. The init writes it at create.
 */
export const SECCOMP_PROGRAM_FILE = 'seccomp.bpf';

/** Compiles the config with libseccomp, stores the program in stateDir and returns it. */
export function compileSeccompProgram(config: OciSeccomp, stateDir: string): Buffer {
  const filter = buildSeccomp(config);
  const file = path.join(stateDir, SECCOMP_PROGRAM_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | O_CLOEXEC, 0o600);
  try {
    filter.exportBpf(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  return fs.readFileSync(file);
}

/** The stored program, or undefined when there is none (or it is not a whole program). */
export function savedSeccompProgram(stateDir: string): Buffer | undefined {
  try {
    const program = fs.readFileSync(path.join(stateDir, SECCOMP_PROGRAM_FILE));
    return program.length > 0 && program.length % 8 === 0 ? program : undefined;
  } catch {
    return undefined;
  }
}
