// The few host facts the spec builder needs (device numbers, mount propagation of a host
// path). Behind an interface so unit tests do not depend on the machine.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mountContaining, propagationOf, type Propagation } from '../../sys/mountinfo';

export interface HostDevice {
  /** Host path of the device node. */
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** Permission bits (st_mode & 0o7777). */
  fileMode: number;
  uid: number;
  gid: number;
}

export type MountPropagationMode = Propagation;

export interface HostProbe {
  /** A device node, 'directory' for a directory, or null when the path does not exist. Throws for other file types. */
  device(hostPath: string): HostDevice | 'directory' | null;
  /** Every device node under dir (recursively, not following symlinks). */
  devicesUnder(dir: string): HostDevice[];
  /** Real path of a mount source, or null when it does not exist. */
  realPath(hostPath: string): string | null;
  /** Propagation of the host mount that contains the (real) path. */
  mountPropagation(realPath: string): MountPropagationMode;
}

/** Major and minor of a st_rdev (glibc's gnu_dev_major/minor encoding). */
export function deviceNumbers(rdev: bigint): { major: number; minor: number } {
  return {
    major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}

function deviceFromStat(p: string, st: fs.BigIntStats): HostDevice | null {
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : null;
  if (!type) return null;
  return { path: p, type, ...deviceNumbers(st.rdev), fileMode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid) };
}

// /dev entries that are not devices to hand to a privileged container (containerd's list).
const SKIPPED_DEV_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Propagation of the mount containing p, from mountinfo text (private when no mount holds it). */
export function propagationFromMountInfo(mountInfo: string, p: string): MountPropagationMode {
  const entry = mountContaining(mountInfo, p);
  return entry ? propagationOf(entry) : 'private';
}

export const realHostProbe: HostProbe = {
  device(hostPath) {
    let st: fs.BigIntStats;
    try {
      st = fs.statSync(hostPath, { bigint: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    if (st.isDirectory()) return 'directory';
    const dev = deviceFromStat(hostPath, st);
    if (!dev) throw new Error(`${hostPath} is not a device node`);
    return dev;
  },
  devicesUnder(dir) {
    const out: HostDevice[] = [];
    const walk = (d: string, top: boolean) => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(d, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const full = path.join(d, e.name);
        if (e.isDirectory()) {
          if (top && SKIPPED_DEV_DIRS.has(e.name)) continue;
          walk(full, false);
        } else if (e.isCharacterDevice() || e.isBlockDevice()) {
          if (top && e.name === 'console') continue;
          try {
            const dev = deviceFromStat(full, fs.lstatSync(full, { bigint: true }));
            if (dev) out.push(dev);
          } catch { /* raced away */ }
        }
      }
    };
    walk(dir, true);
    return out;
  },
  realPath(hostPath) {
    try {
      return fs.realpathSync(hostPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  },
  mountPropagation(realPath) {
    return propagationFromMountInfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'), realPath);
  },
};

/**
 * Capabilities in this process's bounding set (CapBnd of /proc/self/status), by name.
 * Use it as SpecRuntimeOptions.allCapabilities: a runtime cannot grant a privileged
 * container a capability cradled itself lacks (containerd does the same).
 */
export function hostCapabilities(all: readonly string[], statusText = fs.readFileSync('/proc/self/status', 'utf8')): string[] {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(statusText);
  if (!m) return [...all];
  const mask = BigInt('0x' + m[1]);
  return all.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/**
 * The lowest oom_score_adj cradle can give: its own (lowering it needs CAP_SYS_RESOURCE,
 * which cradled may not have; cri-o reads its own value the same way).
 */
export function hostMinOomScoreAdj(text = fs.readFileSync('/proc/self/oom_score_adj', 'utf8')): number {
  const n = Number(text.trim());
  return Number.isInteger(n) ? n : 0;
}

export interface CgroupFeatures {
  version: 1 | 2;
  /** The hugetlb controller can limit containers (a v1 hierarchy of its own, or enabled on v2). */
  hugetlb: boolean;
  /** memory+swap can be limited (v1 memory.memsw.*, v2 memory.swap.max). */
  swapAccounting: boolean;
}

/**
 * What the host's cgroups offer, for SpecRuntimeOptions (call once at start-up).
 * `root` is the cgroup mount root (for tests).
 */
export function detectCgroupFeatures(root = '/sys/fs/cgroup', procCgroups = '/proc/cgroups'): CgroupFeatures {
  const exists = (p: string) => fs.existsSync(path.join(root, p));
  if (exists('cgroup.controllers')) {
    const controllers = fs.readFileSync(path.join(root, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    return {
      version: 2,
      hugetlb: controllers.includes('hugetlb'),
      swapAccounting: controllers.includes('memory') && (exists('memory.swap.max') || hasSwapMaxBelow(root)),
    };
  }
  // v1 (or hybrid): a controller counts only if it has a v1 hierarchy (non-zero id in /proc/cgroups).
  let hugetlb = false;
  try {
    for (const line of fs.readFileSync(procCgroups, 'utf8').split('\n')) {
      const [name, hierarchy, , enabled] = line.split(/\s+/);
      if (name === 'hugetlb') hugetlb = hierarchy !== '0' && enabled === '1' && exists('hugetlb');
    }
  } catch { /* no /proc/cgroups: assume none */ }
  return { version: 1, hugetlb, swapAccounting: exists('memory/memory.memsw.limit_in_bytes') };
}

// memory.swap.max exists in child cgroups only, never in the root.
function hasSwapMaxBelow(root: string): boolean {
  try {
    return fs.readdirSync(root, { withFileTypes: true }).some((e) => e.isDirectory() && fs.existsSync(path.join(root, e.name, 'memory.swap.max')));
  } catch {
    return false;
  }
}
