// AppArmor as the kernel shows it: whether it is enabled, which profiles are loaded,
// loading one (apparmor_parser) and asking for one at the next execve (the
// /proc/<tid>/attr interface, as runc's libcontainer/apparmor does it).
import * as fs from 'node:fs';

export const APPARMOR_MODULE_ENABLED = '/sys/module/apparmor/parameters/enabled';
export const APPARMOR_SECURITYFS = '/sys/kernel/security/apparmor';

/**
 * AppArmor is enabled and manageable: the module says so and securityfs shows its
 * directory (as runc's IsEnabled and cri-o). Paths are parameters for tests.
 */
export function appArmorEnabled(moduleFile = APPARMOR_MODULE_ENABLED, securityfs = APPARMOR_SECURITYFS): boolean {
  try {
    if (!fs.readFileSync(moduleFile, 'utf8').startsWith('Y')) return false;
    return fs.statSync(securityfs).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The names in the text of <securityfs>/profiles: one "name (mode)" a line. A name
 * may hold spaces; the mode in parentheses is always last.
 */
export function parseLoadedProfiles(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^(.+) \(([a-z]+)\)$/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

/** The profiles loaded in the kernel (empty when AppArmor is not there). */
export function loadedAppArmorProfiles(securityfs = APPARMOR_SECURITYFS): Set<string> {
  try {
    return parseLoadedProfiles(fs.readFileSync(`${securityfs}/profiles`, 'utf8'));
  } catch {
    return new Set();
  }
}

/** apparmor_parser: where Debian, Ubuntu and SUSE install it, else on PATH. */
export function appArmorParserPath(): string {
  for (const p of ['/usr/sbin/apparmor_parser', '/sbin/apparmor_parser']) {
    if (fs.existsSync(p)) return p;
  }
  return 'apparmor_parser';
}

/**
 * Loads (or replaces) a profile given as policy text with `apparmor_parser -Kr`
 * (-K: no cache written; -r: replace), reading it from stdin as containers/common
 * does. Throws with the parser's own words when it refuses.
 */
export function loadAppArmorProfile(policy: string, timeoutMs = 60_000): void {
  const parser = appArmorParserPath();
  // Required here: the container init and exec load this module and never spawn.
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const run = spawnSync(parser, ['-Kr'], { input: policy, encoding: 'utf8', timeout: timeoutMs });
  if (run.error) throw new Error(`running ${parser}: ${run.error.message}`);
  if (run.status !== 0) {
    const why = (run.stderr || run.stdout || '').trim() || (run.signal ? `killed by ${run.signal}` : `exit status ${run.status}`);
    throw new Error(`${parser} -Kr refused the profile: ${why}`);
  }
}

/**
 * Asks the kernel to confine this thread with `profile` at its next execve (or the
 * next execve of a child forked from it): "exec <profile>" written to
 * /proc/thread-self/attr/apparmor/exec, or the older attr/exec where the kernel has
 * no per-LSM directory. `proc` is the mount of the process's own procfs.
 */
export function setExecProfile(profile: string, proc = '/proc'): void {
  const modern = `${proc}/thread-self/attr/apparmor/exec`;
  const file = fs.existsSync(modern) ? modern : `${proc}/thread-self/attr/exec`;
  try {
    // Plain O_WRONLY (no O_CREAT/O_TRUNC on a /proc file) and one write: the kernel
    // parses the command from a single buffer.
    const fd = fs.openSync(file, fs.constants.O_WRONLY);
    try {
      fs.writeSync(fd, `exec ${profile}`);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    throw new Error(`apparmor: setting profile ${JSON.stringify(profile)} for exec in ${file}: ${(err as Error).message}`);
  }
}
