// `exec`: runs a process in a running container without a Node init ("main thread
// as template"): this thread joins the container's cgroups (v1 `tasks`: only this
// thread moves) and namespaces, drops to the process's bounding set, identity,
// capabilities, no_new_privs and seccomp with per-thread calls, then spawns. The
// CLI's main thread is tainted afterwards, so the process only waits and exits.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import * as sys from '../sys/libc';
import * as c from '../sys/constants';
import { loadLibseccomp } from '../sys/seccomp';
import { Container } from './commands';
import { joinCurrentThread } from './cgroups/v1';
import { loadSpec } from './spec';
import type { OciProcess } from '../common/oci-spec';
import { compileSeccompProgram, savedSeccompProgram } from './seccomp-filter';
import { dropBoundingSet, lookPath, processEnv, switchIdentity, applyRlimits } from './process-setup';
import { setExecProfile } from '../sys/apparmor';

export interface ExecOptions {
  root: string;
  id: string;
  processFile?: string;
  args: string[];
  pidFile?: string;
  detach: boolean;
  tty: boolean;
  consoleSocket?: string;
  cwd?: string;
  env?: string;
  user?: string;
  /** runc's --apparmor: the profile of a process given on the command line. */
  apparmor?: string;
}

const NS_ORDER: [string, number][] = [
  ['ipc', c.CLONE_NEWIPC], ['uts', c.CLONE_NEWUTS], ['net', c.CLONE_NEWNET], ['cgroup', c.CLONE_NEWCGROUP], ['pid', c.CLONE_NEWPID], ['mnt', c.CLONE_NEWNS],
];

function loadProcess(opts: ExecOptions, base: OciProcess): OciProcess {
  if (opts.processFile) {
    const proc = JSON.parse(fs.readFileSync(opts.processFile, 'utf8')) as OciProcess;
    if (!Array.isArray(proc.args) || proc.args.length === 0) throw new Error(`${opts.processFile}: args must be a non-empty array`);
    return { ...proc, terminal: Boolean(proc.terminal) || opts.tty, cwd: proc.cwd || '/', user: proc.user ?? { uid: 0, gid: 0 } };
  }
  if (opts.args.length === 0) throw new Error('exec: either --process or a command is required');
  const proc: OciProcess = { ...base, args: opts.args, terminal: opts.tty };
  if (opts.cwd) proc.cwd = opts.cwd;
  if (opts.env) proc.env = [...(proc.env ?? []), opts.env];
  if (opts.user) {
    const [uid, gid] = opts.user.split(':').map(Number);
    proc.user = { uid: uid!, gid: gid ?? 0 };
  }
  if (opts.apparmor) proc.apparmorProfile = opts.apparmor;
  return proc;
}

/**
 * Allocates a pty from the container's own devpts instance (through /proc/<pid>/root,
 * before this thread changes root), hands the master to the console socket and
 * returns the slave.
 */
function openContainerPty(pid: number, consoleSocket: string, proc: OciProcess): number {
  const pts = `/proc/${pid}/root/dev/pts`;
  const master = fs.openSync(`${pts}/ptmx`, c.O_RDWR | c.O_NOCTTY | c.O_CLOEXEC);
  try {
    sys.ioctlIntPtr(master, c.TIOCSPTLCK, 0);
    const n = sys.ioctlIntPtr(master, c.TIOCGPTN);
    if (proc.consoleSize) {
      const ws = Buffer.alloc(8);
      ws.writeUInt16LE(proc.consoleSize.height, 0);
      ws.writeUInt16LE(proc.consoleSize.width, 2);
      sys.ioctlBuffer(master, c.TIOCSWINSZ, ws);
    }
    const slave = fs.openSync(`${pts}/${n}`, c.O_RDWR | c.O_NOCTTY | c.O_CLOEXEC);
    const sock = sys.connectUnix(consoleSocket);
    try {
      sys.sendFd(sock, master, '/dev/ptmx');
    } finally {
      fs.closeSync(sock);
    }
    return slave;
  } finally {
    fs.closeSync(master);
  }
}

export async function execProcess(opts: ExecOptions): Promise<number> {
  const ctr = new Container(opts.root, opts.id);
  const status = ctr.status();
  if (status !== 'running' && status !== 'created') throw new Error(`cannot exec in a ${status} container`);
  const { spec } = loadSpec(ctr.saved.bundle);
  const proc = loadProcess(opts, spec.process!);
  const pid = ctr.saved.pid;
  // A Node process cannot join a user namespace (runtime-notes Q1): an exec in a container
  // that has one would run as the host's root. Only the native exec (exec plan) may.
  if (fs.readlinkSync(`/proc/${pid}/ns/user`) !== fs.readlinkSync('/proc/self/ns/user')) {
    throw new Error('exec: the container has a user namespace, which only the native launcher joins (no exec plan for this process)');
  }
  let slave: number | undefined;
  if (proc.terminal) {
    if (!opts.consoleSocket) throw new Error('exec: a terminal needs --console-socket');
    slave = openContainerPty(pid, opts.consoleSocket, proc);
  } else if (opts.consoleSocket) {
    throw new Error('exec: --console-socket given without --tty');
  }

  // Everything that needs the host's view first (trap 9: /proc/self is gone after setns(mnt)).
  sys.preloadLibc();
  const seccompConfig = spec.linux?.seccomp;
  // The program the init compiled; compiled here only for a container created without it.
  let seccomp = seccompConfig ? savedSeccompProgram(ctr.dir) : undefined;
  if (seccompConfig && !seccomp) {
    loadLibseccomp();
    seccomp = compileSeccompProgram(seccompConfig, ctr.dir);
  }
  const lastCap = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  const nsFds = NS_ORDER.flatMap(([name, flag]) => {
    const p = `/proc/${pid}/ns/${name}`;
    try {
      if (fs.readlinkSync(p) === fs.readlinkSync(`/proc/self/ns/${name}`)) return [];
    } catch {
      return [];
    }
    return [{ name, flag, fd: fs.openSync(p, 'r') }];
  });
  // The pid file is a host path: open it now, before this thread changes root.
  const pidFd = opts.pidFile ? fs.openSync(path.resolve(opts.pidFile), 'w', 0o644) : undefined;
  // So is the v2 cgroup's cgroup.procs: the container's mount namespace shows only its own cgroup.
  const cgroupProcsFd = ctr.saved.cgroupVersion === 2 ? fs.openSync(path.join(ctr.saved.cgroupPaths['']!, 'cgroup.procs'), 'w') : undefined;
  // The profile of the child's execve: set on this (main) thread, whose task context
  // the child copies at fork. Here, while /proc/thread-self is still this thread's
  // (in the container's mount namespace it is a procfs where this process has no pid).
  if (proc.apparmorProfile) setExecProfile(proc.apparmorProfile);
  sys.closeRange(3, c.CLOSE_RANGE_CLOEXEC); // trap 5: nothing inherited may reach the container
  await fs.promises.stat('/'); // trap 2: threadpool up before the pid ns switch

  // cgroups: v1 moves just this thread; v2 has no per-thread move for domain cgroups,
  // so this whole process joins ("0": the writer), as runc's exec process does. Either
  // way before the child exists: it must never run outside the container's cgroup (its
  // device program and limits), not even between its exec and a move afterwards.
  if (ctr.saved.cgroupVersion === 1) joinCurrentThread(Object.values(ctr.saved.cgroupPaths));
  if (cgroupProcsFd !== undefined) {
    fs.writeSync(cgroupProcsFd, '0');
    fs.closeSync(cgroupProcsFd);
  }
  sys.unshare(c.CLONE_FS);
  for (const ns of nsFds) sys.setns(ns.fd, ns.flag, `/proc/${pid}/ns/${ns.name}`);
  for (const ns of nsFds) fs.closeSync(ns.fd);
  process.chdir('/');

  const env = processEnv(proc);
  const executable = lookPath(proc.args[0]!, env);
  applyRlimits(proc);
  dropBoundingSet(proc, lastCap);
  if (seccomp && !proc.noNewPrivileges) sys.seccompSetFilter(seccomp);
  switchIdentity(proc);
  if (proc.noNewPrivileges) sys.prctl(c.PR_SET_NO_NEW_PRIVS, 1);
  if (seccomp && proc.noNewPrivileges) sys.seccompSetFilter(seccomp);

  // The child inherits it (as the init applies it before its execve).
  process.umask(proc.user.umask ?? 0o022);
  const child = spawn(executable, proc.args.slice(1), {
    argv0: proc.args[0], cwd: proc.cwd, env: Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
    stdio: slave !== undefined ? [slave, slave, slave] : [0, 1, 2],
    // setsid in the child, as runc's exec'd processes: it leads its own session and
    // process group, so killing the group (an ExecSync timeout) reaches what it started.
    // With a terminal, libuv cannot TIOCSCTTY there, so the pty is the process's stdio
    // but not its controlling terminal (see docs/runtime.md).
    detached: true,
  });
  const childPid = await new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid!));
    child.once('error', reject);
  });
  if (slave !== undefined) fs.closeSync(slave);
  if (pidFd !== undefined) {
    fs.writeSync(pidFd, String(childPid));
    fs.closeSync(pidFd);
  }
  if (opts.detach) {
    child.unref();
    return 0;
  }
  return await new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? (require('node:os').constants.signals[signal] as number) : 0)));
  });
}
