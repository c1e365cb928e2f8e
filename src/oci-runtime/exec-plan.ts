// The exec plan (docs/launch-plan.md, "exec"): every decision of an `exec --process
// FILE` taken here, with the checks of the Node exec, and written beside FILE as
// cradle-exec.plan. `cradle-runtime exec --process FILE` then runs natively: the
// launcher joins the container and executes the plan without starting Node.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Container } from './commands';
import { NeedsNode, processRecords, writePlanFile } from './launch-plan';
import { SECCOMP_PROGRAM_FILE, savedSeccompProgram } from './seccomp-filter';
import type { OciProcess } from '../common/oci-spec';
import { loadSpec } from './spec';

export const EXEC_PLAN_FILE = 'cradle-exec.plan';
export const EXEC_PLAN_VERSION = 'cradle-exec-v1';

/**
 * Joined in this order, as the Node exec does (exec.ts); the user namespace after all
 * of them (joining the others needs the host's root, which the user namespace ends),
 * and then the process's ids are the pod's.
 */
const NAMESPACES = ['ipc', 'uts', 'net', 'cgroup', 'pid', 'mnt', 'user'];

/** The container cannot take an exec (stopped, paused): the caller reports it, no plan is written. */
export class NotExecutable extends Error {
  constructor(readonly status: string) {
    super(`cannot exec in a ${status} container`);
  }
}

/**
 * Writes <dir of processFile>/cradle-exec.plan for `exec --process processFile <id>`
 * under --root `root`. Returns false, with no plan left, when the exec must take the
 * Node path (a spec the launcher does not run, or one the Node exec reports as an
 * error with its own words). Throws NotExecutable for a container that is not running.
 */
export function writeExecPlan(root: string, id: string, processFile: string): boolean {
  const planFile = path.join(path.dirname(path.resolve(processFile)), EXEC_PLAN_FILE);
  fs.rmSync(planFile, { force: true });
  let records: string[][];
  try {
    records = buildExecPlan(path.resolve(root), id, path.resolve(processFile));
  } catch (err) {
    if (err instanceof NotExecutable) throw err;
    return false;
  }
  writePlanFile(planFile, EXEC_PLAN_VERSION, records);
  return true;
}

function buildExecPlan(root: string, id: string, processFile: string): string[][] {
  const ctr = new Container(root, id);
  const status = ctr.status();
  if (status !== 'running' && status !== 'created') throw new NotExecutable(status);
  const bytes = fs.readFileSync(processFile);
  // The Node exec's loadProcess for --process.
  const given = JSON.parse(bytes.toString('utf8')) as OciProcess;
  if (!Array.isArray(given.args) || given.args.length === 0) throw new NeedsNode('args');
  const proc: OciProcess = { ...given, terminal: Boolean(given.terminal), cwd: given.cwd || '/', user: given.user ?? { uid: 0, gid: 0 } };
  if (!path.posix.isAbsolute(proc.cwd)) throw new NeedsNode('relative cwd');
  const saved = ctr.saved;
  const r: string[][] = [];
  r.push(['id', id]);
  r.push(['root', root]);
  r.push(['process-sha256', crypto.createHash('sha256').update(bytes).digest('hex')]);
  // The init the plan was made for: another one (a restarted container, a reused pid) is not trusted.
  r.push(['init', String(saved.pid), saved.startTime]);
  r.push(['terminal', proc.terminal ? '1' : '0']);
  if (proc.consoleSize) r.push(['console-size', String(proc.consoleSize.height), String(proc.consoleSize.width)]);
  for (const name of NAMESPACES) {
    const p = `/proc/${saved.pid}/ns/${name}`;
    let same: boolean;
    try {
      same = fs.readlinkSync(p) === fs.readlinkSync(`/proc/self/ns/${name}`);
    } catch {
      continue;
    }
    if (!same) r.push(['join-namespace', name, p]);
  }
  const cgroupDirs = saved.cgroupVersion === 2 ? [saved.cgroupPaths['']!] : [...new Set(Object.values(saved.cgroupPaths))];
  for (const dir of cgroupDirs) r.push(['join-cgroup', dir]);
  // The container's seccomp program, as its init saved it (only a config with one has it).
  // Without a saved program the config decides: none, or the Node exec compiles it.
  const file = path.join(ctr.dir, SECCOMP_PROGRAM_FILE);
  const program = savedSeccompProgram(ctr.dir);
  if (!program && loadSpec(saved.bundle).spec.linux?.seccomp) throw new NeedsNode('no saved seccomp program');
  const seccomp = program ? { file, program } : undefined;
  r.push(...processRecords(proc, seccomp));
  return r;
}
