// Starting a process in new or joined namespaces from Node's main thread (traps
// 1-4): namespace syscalls only move the calling thread, so the thread switches,
// spawns (libuv forks from the calling thread) and immediately switches back.
import * as fs from 'node:fs';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as sys from '../sys/libc';
import * as c from '../sys/constants';
import type { OciSpec } from '../common/oci-spec';
import { mountContaining } from '../sys/mountinfo';

/** OCI namespace type -> clone flag and /proc/<pid>/ns name. Order is the setns order. */
export const NAMESPACES: { type: string; flag: number; proc: string }[] = [
  { type: 'ipc', flag: c.CLONE_NEWIPC, proc: 'ipc' },
  { type: 'uts', flag: c.CLONE_NEWUTS, proc: 'uts' },
  { type: 'network', flag: c.CLONE_NEWNET, proc: 'net' },
  { type: 'pid', flag: c.CLONE_NEWPID, proc: 'pid' },
  { type: 'mount', flag: c.CLONE_NEWNS, proc: 'mnt' },
];

export interface NamespacedSpawn {
  command: string;
  args: string[];
  options: SpawnOptions;
  /** Paths bind-mounted read-only onto themselves in the new mount namespace (the init's own binary). */
  sealPaths?: string[];
}

/**
 * Spawns a child in the namespaces the spec asks for. The caller must have warmed
 * the libuv threadpool (trap 2: after a pid ns switch a cold pool aborts the process).
 */
export function spawnInNamespaces(spec: Pick<OciSpec, 'linux'>, req: NamespacedSpawn): ChildProcess {
  const wanted = spec.linux?.namespaces ?? [];
  const saved = NAMESPACES.map((ns) => ({ ...ns, fd: fs.openSync(`/proc/self/ns/${ns.proc}`, 'r') }));
  const cwd = process.cwd();
  try {
    // Trap 3: setns(mnt) needs a private fs_struct; unshare(NEWNS) gives one too.
    sys.unshare(c.CLONE_FS);
    let flags = 0;
    for (const ns of NAMESPACES) {
      const entry = wanted.find((w) => w.type === ns.type);
      if (!entry) continue;
      if (entry.path) {
        const fd = fs.openSync(entry.path, 'r');
        try {
          sys.setns(fd, ns.flag, entry.path);
        } finally {
          fs.closeSync(fd);
        }
      } else {
        flags |= ns.flag;
      }
    }
    try {
      if (flags) sys.unshare(flags);
      if (flags & c.CLONE_NEWNS) {
        // CVE-2019-5736: the init runs the host's node binary; seen read-only from
        // this namespace, /proc/<init>/exe cannot be opened for writing (EROFS).
        for (const p of req.sealPaths ?? []) {
          // The seal must not propagate to the host: only the mount holding it becomes
          // a slave. The rest keeps the host's propagation until the init applies
          // rootfsPropagation, so an "rshared" volume stays a peer of the host's.
          const holder = mountContaining(fs.readFileSync('/proc/self/mountinfo', 'utf8'), p);
          if (holder) sys.mount(null, holder.mountPoint, null, c.MS_SLAVE);
          sys.mount(p, p, null, c.MS_BIND);
          sys.mount(null, p, null, c.MS_BIND | c.MS_REMOUNT | c.MS_RDONLY);
        }
      }
      return spawn(req.command, req.args, req.options);
    } finally {
      // Trap 4: the init's pivot_root would re-root every task sharing its mount ns.
      for (const ns of saved) sys.setns(ns.fd, ns.flag, `/proc/self/ns/${ns.proc} (restore)`);
      process.chdir(cwd);
    }
  } finally {
    for (const ns of saved) fs.closeSync(ns.fd);
  }
}
