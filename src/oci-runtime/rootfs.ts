// Root filesystem setup, run by the container init (PID 1 in the new mount and pid
// namespaces). Everything before pivot_root works on host paths under `rootfs`;
// destinations are resolved with secureJoin and re-checked through an O_PATH fd, so
// a symlink in the image can never redirect a mount to the host.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as sys from '../sys/libc';
import * as c from '../sys/constants';
import type { OciDevice, OciMount, OciSpec } from '../common/oci-spec';
import { parseMountOptions, rootfsPropagationFlag } from './mount-options';
import { isWithin, secureJoin } from '../common/secure-join';
import { mountContaining, propagationOf } from '../sys/mountinfo';
import { MOUNT_ATTR_RDONLY, mountSetattrFd } from '../sys/mount-setattr';

export interface RootfsContext {
  spec: OciSpec;
  rootfs: string;
  bundle: string;
  /** The container's cgroup dirs on the host (for bind-mounting them without a cgroup ns). */
  cgroupPaths: Record<string, string>;
  cgroupNs: boolean;
}

/** /proc files that may be mounted over (lxcfs), as runc allows. */
const PROC_MOUNT_ALLOWED = new Set([
  '/proc/cpuinfo', '/proc/diskstats', '/proc/meminfo', '/proc/stat', '/proc/swaps', '/proc/uptime',
  '/proc/loadavg', '/proc/slabinfo', '/proc/net/dev', '/proc/sys/kernel/ns_last_pid',
]);

export function prepareRootfs(ctx: RootfsContext): void {
  sys.mount(null, '/', null, rootfsPropagationFlag(ctx.spec.linux?.rootfsPropagation));
  makeParentMountPrivate(ctx.rootfs);
  // The rootfs must be a mount point for pivot_root.
  sys.mount(ctx.rootfs, ctx.rootfs, null, c.MS_BIND | c.MS_REC);
  for (const m of ctx.spec.mounts ?? []) mountEntry(ctx, m);
  if ((ctx.spec.mounts ?? []).some((m) => path.posix.normalize(m.destination) === '/dev')) {
    createDevices(ctx.rootfs, ctx.spec.linux?.devices ?? []);
    createDevSymlinks(ctx.rootfs);
  }
}

/**
 * As runc: when the mount holding the rootfs is shared (rootfsPropagation "shared"
 * or "rshared" made it so), that one mount, not its submounts, becomes private.
 * pivot_root refuses a new root whose parent mount is shared (EINVAL), and the
 * rootfs bind mount below would propagate to the parent's peers, the host's among them.
 */
function makeParentMountPrivate(rootfs: string): void {
  const parent = mountContaining(fs.readFileSync('/proc/self/mountinfo', 'utf8'), fs.realpathSync(rootfs));
  if (parent && propagationOf(parent) === 'shared') sys.mount(null, parent.mountPoint, null, c.MS_PRIVATE);
}

/** Opens dest (which must exist) with O_PATH and checks that it really is inside rootfs. */
function openChecked(rootfs: string, dest: string): number {
  const fd = fs.openSync(dest, c.O_PATH | c.O_NOFOLLOW | c.O_CLOEXEC);
  const real = fs.readlinkSync(`/proc/self/fd/${fd}`);
  if (!isWithin(rootfs, real)) {
    fs.closeSync(fd);
    throw new Error(`mount destination ${dest} resolves to ${real}, outside the rootfs`);
  }
  return fd;
}

function mountEntry(ctx: RootfsContext, m: OciMount): void {
  const destination = path.posix.normalize(m.destination);
  const type = m.type ?? '';
  const opts = parseMountOptions(m.options);
  if (destination.startsWith('/proc/') && !PROC_MOUNT_ALLOWED.has(destination)) {
    throw new Error(`mounts: ${destination}: mounting over /proc is not allowed`);
  }
  const dest = secureJoin(ctx.rootfs, destination);
  if ((type === 'proc' || type === 'sysfs') && dest !== path.join(ctx.rootfs, destination)) {
    // A symlinked /proc would move procfs elsewhere and let maskedPaths miss (CVE-2019-16884).
    throw new Error(`mounts: ${destination}: ${type} destination must not be a symlink`);
  }
  if (type === 'cgroup' || type === 'cgroup2') {
    mountCgroup(ctx, dest, opts.flags);
    return;
  }
  let source = m.source ?? type;
  if (opts.bind) {
    source = path.resolve(ctx.bundle, source);
    const st = fs.statSync(source);
    if (st.isDirectory()) {
      fs.mkdirSync(dest, { recursive: true });
    } else {
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      if (!fs.existsSync(dest)) fs.closeSync(fs.openSync(dest, 'a'));
    }
  } else {
    fs.mkdirSync(dest, { recursive: true });
  }
  const fd = openChecked(ctx.rootfs, dest);
  const target = `/proc/self/fd/${fd}`;
  try {
    if (opts.bind) {
      sys.mount(source, target, null, c.MS_BIND | (opts.recursive ? c.MS_REC : 0));
      const extra = opts.flags & ~(c.MS_BIND | c.MS_REC | c.MS_REMOUNT);
      if (extra !== 0) {
        // Flags on a bind mount need a remount; the new fd sees the mount just made.
        const fd2 = openChecked(ctx.rootfs, dest);
        try {
          sys.mount(null, `/proc/self/fd/${fd2}`, null, c.MS_BIND | c.MS_REMOUNT | extra);
        } finally {
          fs.closeSync(fd2);
        }
      }
    } else {
      sys.mount(source, target, type, opts.flags, opts.data.length ? opts.data.join(',') : null);
    }
    if (opts.propagation.length) {
      const fd3 = openChecked(ctx.rootfs, dest);
      try {
        for (const p of opts.propagation) sys.mount(null, `/proc/self/fd/${fd3}`, null, p);
      } finally {
        fs.closeSync(fd3);
      }
    }
    if (opts.recursiveReadOnly) {
      // "rro": MS_RDONLY on a remount reaches only the top mount; submounts need mount_setattr.
      const fd4 = openChecked(ctx.rootfs, dest);
      try {
        mountSetattrFd(fd4, MOUNT_ATTR_RDONLY, true, destination);
      } finally {
        fs.closeSync(fd4);
      }
    }
  } catch (err) {
    throw new Error(`mounts: ${destination} (${type || 'bind'} from ${source}): ${(err as Error).message}`);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * cgroup v1 mounts are a tmpfs holding one cgroupfs per hierarchy. With a cgroup
 * namespace each is a fresh cgroupfs (its root is the container's cgroup); without
 * one, the container's own host directories are bind-mounted instead.
 */
function mountCgroup(ctx: RootfsContext, dest: string, flags: number): void {
  fs.mkdirSync(dest, { recursive: true });
  const ro = flags & c.MS_RDONLY;
  const base = c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC;
  const v2 = Object.keys(ctx.cgroupPaths).length === 1 && '' in ctx.cgroupPaths;
  if (v2) {
    if (ctx.cgroupNs) sys.mount('cgroup2', dest, 'cgroup2', base | ro);
    else sys.mount(ctx.cgroupPaths['']!, dest, null, c.MS_BIND | c.MS_REC);
    return;
  }
  sys.mount('tmpfs', dest, 'tmpfs', base, 'mode=755');
  for (const [controllers, hostDir] of Object.entries(ctx.cgroupPaths)) {
    const name = controllers.startsWith('name=') ? controllers.slice(5) : controllers;
    const sub = path.join(dest, name);
    fs.mkdirSync(sub, { recursive: true });
    if (ctx.cgroupNs) {
      const data = controllers.startsWith('name=') ? `none,${controllers}` : controllers;
      sys.mount('cgroup', sub, 'cgroup', base | ro, data);
    } else {
      sys.mount(hostDir, sub, null, c.MS_BIND);
      sys.mount(null, sub, null, c.MS_BIND | c.MS_REMOUNT | base | ro);
    }
    const parts = controllers.split(',');
    if (parts.length > 1) {
      for (const part of parts) {
        const link = path.join(dest, part);
        if (!fs.existsSync(link)) fs.symlinkSync(name, link);
      }
    }
  }
  // The tmpfs itself stays writable, as under runc: only the hierarchies are read-only.
}

/** The devices every container gets (runc's default list); also the launch plan's. */
export const DEFAULT_DEVICES: readonly OciDevice[] = [
  { type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o666 },
  { type: 'c', path: '/dev/zero', major: 1, minor: 5, fileMode: 0o666 },
  { type: 'c', path: '/dev/full', major: 1, minor: 7, fileMode: 0o666 },
  { type: 'c', path: '/dev/random', major: 1, minor: 8, fileMode: 0o666 },
  { type: 'c', path: '/dev/urandom', major: 1, minor: 9, fileMode: 0o666 },
  { type: 'c', path: '/dev/tty', major: 5, minor: 0, fileMode: 0o666 },
];

function createDevices(rootfs: string, extra: OciDevice[]): void {
  const old = process.umask(0);
  try {
    const seen = new Set<string>();
    for (const dev of [...extra, ...DEFAULT_DEVICES]) {
      const p = path.posix.normalize(dev.path);
      if (seen.has(p)) continue;
      seen.add(p);
      if (!p.startsWith('/dev/')) throw new Error(`linux.devices: ${dev.path} is not under /dev`);
      const dest = secureJoin(rootfs, p);
      if (!isWithin(path.join(rootfs, 'dev'), dest)) throw new Error(`linux.devices: ${dev.path} resolves outside /dev`);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.rmSync(dest, { force: true });
      const kind = dev.type === 'b' ? c.S_IFBLK : dev.type === 'p' ? c.S_IFIFO : c.S_IFCHR;
      if (dev.type !== 'c' && dev.type !== 'u' && dev.type !== 'b' && dev.type !== 'p') throw new Error(`linux.devices: ${dev.path}: unknown type ${JSON.stringify(dev.type)}`);
      sys.mknod(dest, kind | ((dev.fileMode ?? 0o666) & 0o7777), c.makedev(dev.major ?? 0, dev.minor ?? 0));
      if (dev.uid !== undefined || dev.gid !== undefined) fs.chownSync(dest, dev.uid ?? 0, dev.gid ?? 0);
    }
  } finally {
    process.umask(old);
  }
}

function createDevSymlinks(rootfs: string): void {
  const links: [string, string][] = [
    ['/proc/self/fd', 'fd'], ['/proc/self/fd/0', 'stdin'], ['/proc/self/fd/1', 'stdout'], ['/proc/self/fd/2', 'stderr'],
  ];
  if (fs.existsSync('/proc/kcore')) links.push(['/proc/kcore', 'core']);
  for (const [target, name] of links) {
    const p = path.join(rootfs, 'dev', name);
    if (!fs.existsSync(p)) {
      try { fs.symlinkSync(target, p); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; }
    }
  }
  // /dev/ptmx must be the container's devpts instance, not the host's.
  const ptmx = path.join(rootfs, 'dev', 'ptmx');
  fs.rmSync(ptmx, { force: true });
  fs.symlinkSync('pts/ptmx', ptmx);
}

/** Allocates the container's terminal; returns the slave fd and the master fd to send to the console socket. */
export function setupConsole(rootfs: string): { master: number; slave: number } {
  const master = fs.openSync(path.join(rootfs, 'dev/pts/ptmx'), c.O_RDWR | c.O_NOCTTY | c.O_CLOEXEC);
  sys.ioctlIntPtr(master, c.TIOCSPTLCK, 0);
  const n = sys.ioctlIntPtr(master, c.TIOCGPTN);
  const slavePath = path.join(rootfs, 'dev/pts', String(n));
  const slave = fs.openSync(slavePath, c.O_RDWR | c.O_NOCTTY | c.O_CLOEXEC);
  const console = path.join(rootfs, 'dev/console');
  if (!fs.existsSync(console)) fs.closeSync(fs.openSync(console, 'a', 0o600));
  sys.mount(slavePath, console, null, c.MS_BIND);
  return { master, slave };
}

/** Switches to the new root: pivot_root, or MS_MOVE + chroot with --no-pivot. */
export function enterRoot(rootfs: string, noPivot: boolean): void {
  process.chdir(rootfs);
  if (noPivot) {
    sys.mount(rootfs, '/', null, c.MS_MOVE);
    sys.chroot('.');
  } else {
    // As runc, the old root is reached through a directory fd: after pivot_root, "."
    // names the new root for mount(2) (only umount looks up the stacked old root), and
    // an rslave there would make every container mount, an rshared volume too, a
    // slave of the host's.
    const oldRoot = fs.openSync('/', c.O_DIRECTORY | c.O_RDONLY | c.O_CLOEXEC);
    try {
      sys.pivotRoot('.', '.');
      sys.fchdir(oldRoot);
      // Detaching the old root must not unmount anything on the host (a shared old root would).
      sys.mount(null, '.', null, c.MS_SLAVE | c.MS_REC);
      sys.umount2('.', c.MNT_DETACH);
    } finally {
      fs.closeSync(oldRoot);
    }
  }
  process.chdir('/');
}

/**
 * After pivot_root: rootfsPropagation on the container's own root, then sysctls,
 * readonly and masked paths, and a read-only root.
 */
export function finishRootfs(spec: OciSpec): void {
  applyRootPropagation(spec.linux?.rootfsPropagation);
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    if (key.includes('..') || key.includes('/')) throw new Error(`linux.sysctl: invalid key ${JSON.stringify(key)}`);
    try {
      fs.writeFileSync(path.join('/proc/sys', key.replace(/\./g, '/')), value);
    } catch (err) {
      throw new Error(`linux.sysctl: ${key}=${value}: ${(err as Error).message}`);
    }
  }
  for (const p of spec.linux?.readonlyPaths ?? []) {
    try {
      sys.mount(p, p, null, c.MS_BIND | c.MS_REC);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') continue;
      throw err;
    }
    // As runc: only MS_RDONLY is added; the submount keeps procfs's own flags.
    sys.mount(null, p, null, c.MS_BIND | c.MS_REMOUNT | c.MS_RDONLY | c.MS_REC);
  }
  for (const p of spec.linux?.maskedPaths ?? []) {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) sys.mount('tmpfs', p, 'tmpfs', c.MS_RDONLY, null);
    else sys.mount('/dev/null', p, null, c.MS_BIND);
  }
  if (spec.root.readonly) sys.mount(null, '/', null, c.MS_BIND | c.MS_REMOUNT | c.MS_RDONLY);
  if ((spec.mounts ?? []).some((m) => path.posix.normalize(m.destination) === '/dev')) reopenDevNull();
}

/**
 * runc's reOpenDevNull: stdio on a /dev/null (the monitor's, on the host's /dev) is
 * replaced by the container's own, so nothing the container holds lies outside its
 * mount namespace (CRIU cannot dump such a file).
 */
function reopenDevNull(): void {
  const nullDevice = Number(c.makedev(1, 3));
  const fd = fs.openSync('/dev/null', fs.constants.O_RDWR | c.O_CLOEXEC);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isCharacterDevice() || st.rdev !== nullDevice) throw new Error('the container\'s /dev/null is not the null device');
    for (const stdio of [0, 1, 2]) {
      let target: fs.Stats;
      try {
        target = fs.fstatSync(stdio);
      } catch {
        continue;
      }
      if (target.isCharacterDevice() && target.rdev === nullDevice) sys.dup2(fd, stdio);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * As runc: an explicit rootfsPropagation is applied again to "/" once it is the
 * container's root (before pivot_root it applied to the host's tree, and the rootfs
 * mount was then made private); private needs nothing more.
 */
function applyRootPropagation(value: string | undefined): void {
  if (!value) return;
  const flag = rootfsPropagationFlag(value);
  if ((flag & c.MS_PRIVATE) === 0) sys.mount(null, '/', null, flag);
}
