// `checkpoint` and `restore` with runc's command line: TypeScript decides every
// CRIU option (external namespaces and bind mounts, cgroups, inherited stdio)
// as runc's libcontainer/criu_linux.go does, and runs the `criu` CLI as a child.
// The CRIU images go to --image-path; CRIU's work files and logs to --work-path.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import * as sys from '../sys/libc';
import * as c from '../sys/constants';
import { cleanChildEnv } from '../common/child-env';
import { UndoStack } from '../common/undo';
import { cgroupManager, type CgroupManager } from './cgroups';
import { loadSpec, namespaceOf, SpecError } from './spec';
import type { OciMount, OciSpec } from '../common/oci-spec';
import { checkSpecNamespaces } from './create';
import { Container } from './commands';
import { makeContainerDir, procStat, replaceFile, waitGone, type SavedState } from './state';
import { secureJoin } from '../common/secure-join';
import type { RuntimeLog } from './log';

/** Where runc keeps the init's stdio targets, so a restore can hand the new pipes over. */
export const DESCRIPTORS_FILE = 'descriptors.json';
export const DUMP_LOG = 'dump.log';
export const RESTORE_LOG = 'restore.log';
const CGROUP_ROOT = '/sys/fs/cgroup';
const MANAGE_CGROUPS_MODES = ['soft', 'full', 'strict', 'ignore'] as const;

/** Options shared by both commands (runc's flags of the same names). */
export interface CriuFlags {
  imagePath: string;
  /** Default: the image path. */
  workPath?: string;
  tcpEstablished: boolean;
  extUnixSk: boolean;
  shellJob: boolean;
  fileLocks: boolean;
  manageCgroupsMode?: string;
}

export interface CheckpointOptions extends CriuFlags {
  root: string;
  id: string;
  leaveRunning: boolean;
  log: RuntimeLog;
}

export interface RestoreOptions extends CriuFlags {
  root: string;
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  detach: boolean;
  noPivot: boolean;
  systemdCgroup: boolean;
  log: RuntimeLog;
}

/** The criu binary: $CRIU (runc's --criu) or criu from PATH. */
export function criuBinary(): string {
  return process.env.CRADLE_CRIU ?? 'criu';
}

function commonArgs(flags: CriuFlags): string[] {
  const mode = flags.manageCgroupsMode ?? 'soft';
  if (!(MANAGE_CGROUPS_MODES as readonly string[]).includes(mode)) {
    throw new Error(`--manage-cgroups-mode must be one of ${MANAGE_CGROUPS_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  }
  return [
    '-v4', `--manage-cgroups=${mode}`,
    ...(flags.tcpEstablished ? ['--tcp-established'] : []),
    ...(flags.extUnixSk ? ['--ext-unix-sk'] : []),
    ...(flags.shellJob ? ['--shell-job'] : []),
    ...(flags.fileLocks ? ['--file-locks'] : []),
  ];
}

/** What masked files are bind mounts of. */
const MASK_SOURCE = '/dev/null';

/** The masked paths that are files in the running container (directories are masked by a tmpfs CRIU restores). */
function maskedFiles(spec: OciSpec, pid: number): string[] {
  return (spec.linux?.maskedPaths ?? []).filter((p) => {
    try {
      return !fs.statSync(`/proc/${pid}/root${p}`).isDirectory();
    } catch {
      return false;
    }
  });
}

/** The key CRIU knows an external namespace by, as runc names it: extRootNetNS, extRootPidNS. */
function externalNsKey(type: 'network' | 'pid'): string {
  return type === 'network' ? 'extRootNetNS' : 'extRootPidNS';
}

/** A bind mount's destination as CRIU sees it inside the container (symlinks resolved in the rootfs). */
function mountKey(rootfs: string, m: OciMount): string {
  return '/' + path.relative(rootfs, secureJoin(rootfs, m.destination));
}

function bindMounts(spec: OciSpec): OciMount[] {
  return (spec.mounts ?? []).filter((m) => m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind'));
}

/** `criu` run to its end; a failure quotes the errors of its log, as runc does. */
async function runCriu(args: string[], logFile: string, extraFds: number[] = []): Promise<void> {
  const binary = criuBinary();
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(binary, args, { stdio: [0, 1, 2, ...extraFds], env: cleanChildEnv() });
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT'
        ? new Error(`criu not found (${binary}): checkpoint and restore need CRIU installed (the criu package)`)
        : new Error(`starting ${binary}: ${err.message}`));
    });
    child.on('exit', (status, signal) => resolve(status ?? (signal ? 128 : 1)));
  });
  if (code !== 0) throw new Error(`criu ${args[0]} failed (exit status ${code}): ${criuErrors(logFile)} (log: ${logFile})`);
}

/** The last error lines of a CRIU log (what runc's logCriuErrors quotes). */
export function criuErrors(logFile: string): string {
  let text: string;
  try {
    text = fs.readFileSync(logFile, 'utf8');
  } catch {
    return 'no log written';
  }
  const lines = text.split('\n').filter((l) => /Error/.test(l)).map((l) => l.replace(/^\(\s*[\d.]+\)\s*/, '').trim());
  return lines.length ? lines.slice(-3).join('; ') : 'no error in its log';
}

// ---- checkpoint ----------------------------------------------------------------

export async function checkpoint(opts: CheckpointOptions): Promise<void> {
  const ctr = new Container(opts.root, opts.id);
  const status = ctr.status();
  if (status !== 'running' && status !== 'paused') throw new Error(`cannot checkpoint a container in the ${status} state (want running)`);
  const { spec, rootfs } = loadSpec(ctr.saved.bundle);
  const imagePath = path.resolve(opts.imagePath);
  const workPath = path.resolve(opts.workPath ?? opts.imagePath);
  fs.mkdirSync(imagePath, { recursive: true, mode: 0o700 });
  fs.mkdirSync(workPath, { recursive: true, mode: 0o700 });

  const args = ['dump', '--tree', String(ctr.saved.pid), '--images-dir', imagePath, '--work-dir', workPath,
    '--log-file', DUMP_LOG, '--root', rootfs, ...commonArgs(opts)];
  if (opts.leaveRunning) args.push('--leave-running');
  // The pod's namespaces stay where the pod pinned them: CRIU records them as external.
  for (const type of ['network', 'pid'] as const) {
    const ns = namespaceOf(spec, type);
    if (!ns?.path) continue;
    args.push('--external', `${type === 'network' ? 'net' : 'pid'}[${fs.statSync(ns.path).ino}]:${externalNsKey(type)}`);
  }
  // Bind mounts come from the host: recorded by their destination, given a source again at restore.
  for (const m of bindMounts(spec)) {
    const key = mountKey(rootfs, m);
    args.push('--external', `mnt[${key}]:${key}`);
  }
  // Masked files are binds of /dev/null: recorded as external too, bound from the host's at restore (as runc does).
  for (const p of maskedFiles(spec, ctr.saved.pid)) args.push('--external', `mnt[${p}]:${MASK_SOURCE}`);
  // CRIU freezes the whole cgroup (one consistent image of every process in it).
  const freezer = ctr.cgroups.version === 2 ? ctr.cgroups.paths()[''] : ctr.cgroups.paths()['freezer'];
  if (freezer) args.push('--freeze-cgroup', freezer);

  // The init's stdio (conmon's pipes) is outside the container: its targets let a restore hand over new ones.
  const descriptors = [0, 1, 2].map((fd) => {
    try {
      return fs.readlinkSync(`/proc/${ctr.saved.pid}/fd/${fd}`);
    } catch {
      return '/dev/null';
    }
  });
  fs.writeFileSync(path.join(imagePath, DESCRIPTORS_FILE), JSON.stringify(descriptors), { mode: 0o600 });
  opts.log.debug('criu dump', { args });
  await runCriu(args, path.join(workPath, DUMP_LOG));
}

// ---- restore -------------------------------------------------------------------

/**
 * Makes the mountpoints the restored mount tree needs in the rootfs, as create
 * makes them (runc's prepareCriuRestoreMounts): a file for a bind of a file, a
 * directory otherwise; none under a tmpfs (CRIU brings the tmpfs's content).
 */
export function prepareMountpoints(spec: OciSpec, rootfs: string): void {
  const mounts = spec.mounts ?? [];
  const tmpfsDests = mounts.filter((m) => m.type === 'tmpfs').map((m) => m.destination.replace(/\/$/, ''));
  const binds = new Set(bindMounts(spec));
  for (const m of mounts) {
    if (m.type === 'cgroup' || m.type === 'cgroup2') continue;
    if (tmpfsDests.some((t) => m.destination.startsWith(`${t}/`))) continue;
    const target = secureJoin(rootfs, m.destination);
    if (fs.existsSync(target)) continue;
    const isFile = binds.has(m) && m.source !== undefined && fs.existsSync(m.source) && !fs.statSync(m.source).isDirectory();
    if (isFile) {
      fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
      fs.closeSync(fs.openSync(target, 'a', 0o644));
    } else {
      fs.mkdirSync(target, { recursive: true, mode: 0o755 });
    }
  }
}

/** The cgroup the restored processes go to, per controller, as CRIU's --cgroup-root wants it. */
function cgroupRootArgs(cgroups: CgroupManager): string[] {
  const args: string[] = [];
  for (const [controllers, dir] of Object.entries(cgroups.paths())) {
    const rel = '/' + path.relative(path.join(CGROUP_ROOT, controllers), dir);
    if (controllers === '') args.push('--cgroup-root', rel);
    else for (const ctl of controllers.split(',')) if (ctl !== '' && !ctl.startsWith('name=')) args.push('--cgroup-root', `${ctl}:${rel}`);
  }
  return args;
}

export async function restore(opts: RestoreOptions): Promise<void> {
  if (opts.consoleSocket) throw new Error('restoring a container with a terminal is not supported by cradle-runtime');
  if (!opts.detach) throw new Error('restore runs detached only (--detach): cradle-runtime does not stay as the restored init\'s parent');
  const bundle = path.resolve(opts.bundle);
  const { spec, rootfs } = loadSpec(bundle);
  checkSpecNamespaces(spec, path.join(bundle, 'config.json'));
  if (spec.process?.terminal) throw new SpecError(path.join(bundle, 'config.json'), 'process.terminal', 'restoring a container with a terminal is not supported');
  const imagePath = path.resolve(opts.imagePath);
  const workPath = path.resolve(opts.workPath ?? opts.imagePath);
  if (!fs.existsSync(path.join(imagePath, 'inventory.img'))) throw new Error(`${imagePath} holds no CRIU checkpoint (no inventory.img)`);
  const descriptors = JSON.parse(fs.readFileSync(path.join(imagePath, DESCRIPTORS_FILE), 'utf8')) as string[];
  fs.mkdirSync(workPath, { recursive: true, mode: 0o700 });

  const dir = makeContainerDir(opts.root, opts.id);
  const undo = new UndoStack();
  undo.push(`remove ${dir}`, () => fs.rmSync(dir, { recursive: true, force: true }));
  const openFds: number[] = [];
  try {
    // runc's order: the cgroup exists and has its limits before CRIU puts the processes in it.
    // This process joins it too, so that CRIU (its child) restores into it from the start.
    const cgroups = cgroupManager(spec.linux?.cgroupsPath, opts.id, undefined, opts.systemdCgroup);
    cgroups.apply(process.pid);
    undo.push('remove cgroups', () => {
      for (const pid of cgroups.pids()) if (pid !== process.pid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      leaveCgroup();
      cgroups.destroy();
    });
    if (spec.linux?.resources) cgroups.set(spec.linux.resources);

    prepareMountpoints(spec, rootfs);
    // CRIU's root must be a mount point whose parent is not overmounted: a bind of the rootfs.
    const criuRoot = path.join(dir, 'criu-root');
    fs.mkdirSync(criuRoot, { mode: 0o755 });
    sys.mount(rootfs, criuRoot, null, c.MS_BIND | c.MS_REC);
    undo.push(`unmount ${criuRoot}`, () => sys.umount2(criuRoot, c.MNT_DETACH));

    const pidFile = path.join(dir, 'criu.pid');
    const args = ['restore', '--images-dir', imagePath, '--work-dir', workPath, '--log-file', RESTORE_LOG,
      '--root', criuRoot, '--restore-detached', '--restore-sibling', '--evasive-devices', '--pidfile', pidFile,
      ...commonArgs(opts), ...cgroupRootArgs(cgroups)];
    // Extra fds start at 3 in the child: the pod's pinned namespaces and nothing else.
    const extraFds: number[] = [];
    for (const ns of spec.linux?.namespaces ?? []) {
      if (!ns.path) continue;
      if (ns.type === 'network' || ns.type === 'pid') {
        const fd = fs.openSync(ns.path, 'r');
        openFds.push(fd);
        args.push('--inherit-fd', `fd[${3 + extraFds.length}]:${externalNsKey(ns.type)}`);
        extraFds.push(fd);
      } else if (ns.type === 'ipc' || ns.type === 'uts') {
        args.push('--join-ns', `${ns.type}:${ns.path}`);
      } else {
        throw new Error(`restoring into an existing ${ns.type} namespace is not supported`);
      }
    }
    for (const m of bindMounts(spec)) args.push('--external', `mnt[${mountKey(rootfs, m)}]:${m.source}`);
    if (spec.linux?.maskedPaths?.length) args.push('--external', `mnt[${MASK_SOURCE}]:${MASK_SOURCE}`);
    // The new monitor's pipes take the place of the old ones (this process's stdio is conmon's).
    descriptors.forEach((target, fd) => {
      if (target.includes('pipe:')) args.push('--inherit-fd', `fd[${fd}]:${target}`);
    });
    opts.log.debug('criu restore', { args });
    await runCriu(args, path.join(workPath, RESTORE_LOG), extraFds);

    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    if (!(pid > 0)) throw new Error(`criu restore wrote no pid to ${pidFile}`);
    undo.push(`kill restored ${pid}`, () => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } waitGone(pid); });
    // CRIU writes the checkpointed hostname into the UTS namespace it joined (the new
    // pod's): the spec's names are set again there, as create sets them.
    if (spec.hostname || spec.domainname) setUtsNames(pid, spec.hostname, spec.domainname);
    const saved: SavedState = {
      id: opts.id, pid, startTime: procStat(pid)?.startTime ?? '', bundle, rootfs, created: new Date().toISOString(),
      annotations: spec.annotations ?? {}, cgroupVersion: cgroups.version,
      cgroupsPath: spec.linux?.cgroupsPath ?? '', cgroupPaths: cgroups.paths(),
      namespacePaths: Object.fromEntries(['ipc', 'uts', 'net', 'pid', 'mnt', 'cgroup'].map((n) => [n, `/proc/${pid}/ns/${n}`])),
      ...(spec.hooks ? { hooks: spec.hooks } : {}),
      systemdCgroup: opts.systemdCgroup,
    };
    replaceFile(path.join(dir, 'state.json'), JSON.stringify(saved));
    if (opts.pidFile) replaceFile(path.resolve(opts.pidFile), String(pid));
    sys.umount2(criuRoot, c.MNT_DETACH);
    fs.rmdirSync(criuRoot);
    fs.rmSync(pidFile, { force: true });
    // Out of the container's cgroup: it must hold the restored processes only.
    leaveCgroup();
    undo.release();
    opts.log.debug('restored', { id: opts.id, pid });
  } catch (err) {
    const failures = await undo.unwind();
    for (const f of failures) opts.log.error(`cleanup after failed restore: ${f}`);
    throw err;
  } finally {
    for (const fd of openFds) fs.closeSync(fd);
  }
}

/** Sets hostname and domain name in the UTS namespace of pid (this thread enters it and comes back). */
function setUtsNames(pid: number, hostname: string | undefined, domainname: string | undefined): void {
  const own = fs.openSync('/proc/self/ns/uts', 'r');
  const target = fs.openSync(`/proc/${pid}/ns/uts`, 'r');
  try {
    sys.setns(target, c.CLONE_NEWUTS, `/proc/${pid}/ns/uts`);
    try {
      if (hostname) sys.sethostname(hostname);
      if (domainname) sys.setdomainname(domainname);
    } finally {
      sys.setns(own, c.CLONE_NEWUTS, '/proc/self/ns/uts');
    }
  } finally {
    fs.closeSync(own);
    fs.closeSync(target);
  }
}

/** This process's v2 cgroup before it joined the container's (undefined on v1). */
const ownCgroup = /^0::(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))?.[1];

/** Moves this process back to its own cgroup (v2) so the container's holds only the container's processes. */
function leaveCgroup(): void {
  if (ownCgroup === undefined || !fs.existsSync(path.join(CGROUP_ROOT, 'cgroup.controllers'))) return;
  try {
    fs.writeFileSync(path.join(CGROUP_ROOT, ownCgroup, 'cgroup.procs'), String(process.pid));
  } catch {
    // Not allowed there (a v2 domain with processes, or gone): this process exits right after anyway.
  }
}
