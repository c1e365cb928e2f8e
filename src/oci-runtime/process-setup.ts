// The last steps of the init before execve: identity, capabilities, rlimits and
// the executable lookup. Order follows runc's finalizeNamespace.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as sys from '../sys/libc';
import * as c from '../sys/constants';
import { capabilityBit, capabilityMask } from '../sys/capabilities';
import type { OciProcess } from '../common/oci-spec';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function applyRlimits(proc: OciProcess): void {
  for (const r of proc.rlimits ?? []) {
    const resource = c.RLIMITS[r.type];
    if (resource === undefined) throw new Error(`process.rlimits: unknown type ${JSON.stringify(r.type)}`);
    try {
      sys.setrlimit(resource, BigInt(r.soft), BigInt(r.hard), r.type);
    } catch (err) {
      throw new Error(`process.rlimits: ${r.type} soft=${r.soft} hard=${r.hard}: ${(err as Error).message}` +
        ((err as { code?: string }).code === 'EPERM' ? ' (raising a hard limit needs CAP_SYS_RESOURCE, which this host does not grant)' : ''));
    }
  }
}

export function dropBoundingSet(proc: OciProcess, lastCap: number): void {
  const keep = capabilityMask(proc.capabilities?.bounding ?? []);
  for (let bit = 0; bit <= lastCap; bit++) {
    if ((keep & (1n << BigInt(bit))) === 0n) sys.prctl(c.PR_CAPBSET_DROP, bit);
  }
}

/** Switches uid/gid/groups keeping capabilities, then sets the final capability sets. */
export function switchIdentity(proc: OciProcess): void {
  const user = proc.user;
  sys.prctl(c.PR_SET_KEEPCAPS, 1);
  sys.rawSetgroups(user.additionalGids ?? []);
  sys.rawSetresgid(user.gid);
  sys.rawSetresuid(user.uid);
  sys.prctl(c.PR_SET_KEEPCAPS, 0);
  const caps = proc.capabilities ?? {};
  sys.capset({
    effective: capabilityMask(caps.effective ?? []),
    permitted: capabilityMask(caps.permitted ?? []),
    inheritable: capabilityMask(caps.inheritable ?? []),
  });
  sys.prctl(c.PR_CAP_AMBIENT, c.PR_CAP_AMBIENT_CLEAR_ALL);
  for (const name of caps.ambient ?? []) {
    const bit = capabilityBit(name)!;
    try {
      sys.prctl(c.PR_CAP_AMBIENT, c.PR_CAP_AMBIENT_RAISE, bit);
    } catch {
      // runc ignores ambient caps that are not also permitted and inheritable.
    }
  }
}

/** The environment of the process: config env plus HOME from /etc/passwd when missing. */
export function processEnv(proc: OciProcess): string[] {
  const env = [...(proc.env ?? [])];
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${homeOf(proc.user.uid)}`);
  return env;
}

function homeOf(uid: number): string {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 6 && Number(f[2]) === uid) return f[5] || '/';
    }
  } catch {
    // no /etc/passwd in the image
  }
  return '/';
}

/** Resolves args[0] in the (new) root's PATH, as exec.LookPath does. */
export function lookPath(file: string, env: string[]): string {
  if (file.includes('/')) {
    if (!isExecutable(file)) throw new Error(`exec: ${JSON.stringify(file)}: no such executable file`);
    return file;
  }
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  for (const dir of pathVar.split(':')) {
    const candidate = path.join(dir || '.', file);
    if (isExecutable(candidate)) return candidate;
  }
  throw new Error(`exec: ${JSON.stringify(file)}: executable file not found in $PATH`);
}

function isExecutable(p: string): boolean {
  try {
    const st = fs.statSync(p);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}
