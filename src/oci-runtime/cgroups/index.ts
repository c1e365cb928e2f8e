// Picks the cgroup driver for this host: v2 when the unified hierarchy is mounted
// at the cgroup root (cgroup.controllers exists there), v1 otherwise; under the
// systemd driver, v2 scopes systemd creates (v1 is refused).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CgroupFs, CgroupManager } from './types';
import { CgroupV1 } from './v1';
import { CgroupV2 } from './v2';
import { SystemdCgroupV2, SystemdSliceV2 } from './systemd';

export * from './types';
export { CgroupV1 } from './v1';
export { CgroupV2 } from './v2';
export { SystemdCgroupV2, SystemdSliceV2 } from './systemd';

export function hostCgroupFs(): CgroupFs {
  return { root: '/sys/fs/cgroup', selfCgroup: fs.readFileSync('/proc/self/cgroup', 'utf8') };
}

export function isUnified(cgfs: CgroupFs): boolean {
  return fs.existsSync(path.join(cgfs.root, 'cgroup.controllers'));
}

/** cgroupsPath from the config; empty means "<id>" relative to the runtime's own cgroup, as runc does. */
export function cgroupManager(cgroupsPath: string | undefined, id: string, cgfs: CgroupFs = hostCgroupFs(), systemd = false): CgroupManager {
  if (systemd) {
    if (!isUnified(cgfs)) throw new Error('the systemd cgroup driver needs cgroup v2 (the unified hierarchy); use the cgroupfs driver on this host');
    return new SystemdCgroupV2(cgfs, cgroupsPath && cgroupsPath !== '' ? cgroupsPath : `system.slice:cradle:${id}`);
  }
  const p = cgroupsPath && cgroupsPath !== '' ? cgroupsPath : id;
  if (p.includes('..')) throw new Error(`cgroupsPath ${JSON.stringify(p)} must not contain ".."`);
  return isUnified(cgfs) ? new CgroupV2(cgfs, p) : new CgroupV1(cgfs, p);
}

/** The manager of a pod's own cgroup (UpdatePodSandboxResources): a path under cgroupfs, a slice systemd owns under systemd. */
export function podCgroupManager(cgroupParent: string, systemd: boolean, cgfs: CgroupFs = hostCgroupFs()): CgroupManager {
  if (!systemd) return cgroupManager(cgroupParent, '', cgfs);
  if (!isUnified(cgfs)) throw new Error('the systemd cgroup driver needs cgroup v2 (the unified hierarchy); use the cgroupfs driver on this host');
  return new SystemdSliceV2(cgfs, cgroupParent);
}

/**
 * The manager for a container created earlier, from what its state recorded: the
 * paths, and for the systemd driver the cgroupsPath naming its scope.
 */
export function savedCgroupManager(version: 1 | 2, paths: Record<string, string>, cgfsRoot = '/sys/fs/cgroup', systemdCgroupsPath?: string): CgroupManager {
  if (systemdCgroupsPath !== undefined) return new SystemdCgroupV2({ root: cgfsRoot, selfCgroup: '0::/' }, systemdCgroupsPath);
  return version === 2 ? CgroupV2.fromPath(cgfsRoot, paths['']!) : CgroupV1.fromPaths(cgfsRoot, paths);
}
