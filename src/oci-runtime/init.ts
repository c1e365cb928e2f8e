// The container init: this same compiled file run as `__init` by `create`, already
// PID 1 in the container's new namespaces. It sets up the root filesystem and the
// process, reports READY on the sync pipe, blocks on exec.fifo until `start`, then
// execve()s the container process. Traps from docs/runtime.md are referenced as Tn.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as sys from '../sys/libc';
import * as c from '../sys/constants';
import { loadLibseccomp } from '../sys/seccomp';
import { CONSOLE_FD, SYNC_FD, SyncReader, writeSync, type InitConfig } from './sync';
import { enterRoot, finishRootfs, prepareRootfs, setupConsole } from './rootfs';
import { compileSeccompProgram } from './seccomp-filter';
import { joinCurrentThread } from './cgroups/v1';
import { applyRlimits, dropBoundingSet, lookPath, processEnv, switchIdentity } from './process-setup';
import { setExecProfile } from '../sys/apparmor';
import type { OciHook } from '../common/oci-spec';

let readySent = false;

export function runInit(): never {
  try {
    initMain();
  } catch (err) {
    const message = (err as Error).message;
    // T10: never process.stderr here; fd 2 is the container's stderr under conmon.
    try {
      if (readySent) fs.writeSync(2, `cradle-runtime: container init: ${message}\n`);
      else writeSync(SYNC_FD, { type: 'error', message });
    } catch {
      // the sync pipe is gone: create already failed
    }
    process.exit(readySent ? 127 : 1);
  }
  process.exit(1);
}

function initMain(): void {
  const reader = new SyncReader(SYNC_FD);
  const go = reader.read();
  if (go.type !== 'go') throw new Error(`init: unexpected message ${go.type}`);
  const cfg: InitConfig = go.config;
  const spec = cfg.spec;
  const proc = spec.process!;

  // Everything is loaded: write the compile cache now, while its directory is
  // still the host's (after pivot_root the same path is inside the container).
  (require('node:module') as { flushCompileCache?: () => void }).flushCompileCache?.();

  // In the container's cgroups (joined here on v1, by create on v2) before a new
  // cgroup ns, so the container's cgroup is its root.
  if (cfg.joinCgroups) joinCurrentThread(Object.values(cfg.cgroupPaths));
  if (cfg.newCgroupNs) sys.unshare(c.CLONE_NEWCGROUP);
  // T7: every native library before pivot_root.
  sys.preloadLibc();
  // The program is stored in the state dir for `exec` (the fifo's directory).
  let seccomp: Buffer | undefined;
  if (spec.linux?.seccomp) {
    loadLibseccomp();
    seccomp = compileSeccompProgram(spec.linux.seccomp, path.dirname(cfg.fifoPath));
  }
  const lastCap = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  const fifoFd = fs.openSync(cfg.fifoPath, c.O_PATH | c.O_CLOEXEC);

  prepareRootfs({ spec, rootfs: cfg.rootfs, bundle: cfg.bundle, cgroupPaths: cfg.cgroupPaths, cgroupNs: cfg.newCgroupNs });
  let slave: number | undefined;
  if (cfg.hasConsole) {
    const tty = setupConsole(cfg.rootfs);
    sys.sendFd(CONSOLE_FD, tty.master, '/dev/ptmx');
    fs.closeSync(tty.master);
    fs.closeSync(CONSOLE_FD);
    slave = tty.slave;
  }
  if (spec.hooks?.prestart?.length || spec.hooks?.createRuntime?.length) {
    writeSync(SYNC_FD, { type: 'hooks' });
    const reply = reader.read();
    if (reply.type !== 'hooks-done') throw new Error(reply.type === 'abort' ? reply.message : `init: unexpected ${reply.type}`);
  }
  runHooks('createContainer', spec.hooks?.createContainer, cfg.stateJson);

  enterRoot(cfg.rootfs, cfg.noPivot);
  finishRootfs(spec);
  if (spec.hostname) sys.sethostname(spec.hostname);
  if (spec.domainname) sys.setdomainname(spec.domainname);

  sys.setsid();
  if (slave !== undefined) {
    sys.ioctlInt(slave, c.TIOCSCTTY, 0);
    for (const fd of [0, 1, 2]) sys.dup2(slave, fd);
    fs.closeSync(slave);
  }
  applyRlimits(proc);
  const env = processEnv(proc);
  const executable = lookPath(proc.args[0]!, env);

  dropBoundingSet(proc, lastCap);
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while we have it.
  if (seccomp && !proc.noNewPrivileges) sys.seccompSetFilter(seccomp);
  switchIdentity(proc);
  try {
    process.chdir(proc.cwd);
  } catch (err) {
    throw new Error(`process.cwd ${proc.cwd}: ${(err as Error).message}`);
  }
  // CVE-2024-21626: a cwd like /proc/self/fd/N through a leaked host fd lands outside
  // the root; getcwd() then fails (glibc turns "(unreachable)" into ENOENT).
  let cwdNow: string | undefined;
  try {
    cwdNow = process.cwd();
  } catch {
    cwdNow = undefined;
  }
  if (!cwdNow || !cwdNow.startsWith('/')) throw new Error(`process.cwd ${proc.cwd} is outside the container's root`);
  process.umask(proc.user.umask ?? 0o022);
  if (proc.noNewPrivileges) sys.prctl(c.PR_SET_NO_NEW_PRIVS, 1);
  // Takes effect at the execve; set before READY so create reports a failure. /proc is
  // the container's, where this init is PID 1 and its main thread is this one.
  if (proc.apparmorProfile) setExecProfile(proc.apparmorProfile);

  writeSync(SYNC_FD, { type: 'ready' });
  fs.closeSync(SYNC_FD);
  readySent = true;

  // Blocks until `start` opens the fifo for reading. Reopening through /proc works
  // after the uid switch because the O_PATH fd was taken as root.
  const wfd = fs.openSync(`/proc/self/fd/${fifoFd}`, c.O_WRONLY | c.O_CLOEXEC);
  fs.writeSync(wfd, '0');
  fs.closeSync(wfd);
  fs.closeSync(fifoFd);

  runHooks('startContainer', spec.hooks?.startContainer, cfg.stateJson);
  // T5: Node marked fds 0-2 close-on-exec at startup; anything inherited above them must not leak.
  sys.closeRange(3, c.CLOSE_RANGE_CLOEXEC);
  for (const fd of [0, 1, 2]) {
    try { sys.fcntl(fd, c.F_SETFD, 0); } catch { /* not open */ }
  }
  // T6: Node ignores SIGPIPE/SIGXFSZ, and ignored dispositions survive execve.
  sys.resetSignals();
  if (seccomp && proc.noNewPrivileges) sys.seccompSetFilter(seccomp);
  sys.execve(executable, proc.args, env);
}

/** Hooks need child_process: loaded only when the config has some. */
function runHooks(kind: string, hooks: OciHook[] | undefined, stateJson: string): void {
  if (!hooks?.length) return;
  (require('./hooks') as typeof import('./hooks')).runHooks(kind, hooks, stateJson);
}
