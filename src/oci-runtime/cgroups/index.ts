// Picks the cgroup driver for this host: v2 when the unified hierarchy is mounted
// at the cgroup root (cgroup.controllers exists there), v1 otherwise.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CgroupFs, CgroupManager } from './types';
import { CgroupV1 } from './v1';
import { CgroupV2 } from './v2';

export * from './types';
export { CgroupV1 } from './v1';
export { CgroupV2 } from './v2';

export function hostCgroupFs(): CgroupFs {
  return { root: '/sys/fs/cgroup', selfCgroup: fs.readFileSync('/proc/self/cgroup', 'utf8') };
}

export function isUnified(cgfs: CgroupFs): boolean {
  return fs.existsSync(path.join(cgfs.root, 'cgroup.controllers'));
}

/** cgroupsPath from the config; empty means "<id>" relative to the runtime's own cgroup, as runc does. */
export function cgroupManager(cgroupsPath: string | undefined, id: string, cgfs: CgroupFs = hostCgroupFs(), systemd = false): CgroupManager {
  if (systemd) {
    throw new Error('the systemd cgroup driver is not supported by cradle-runtime yet; use the cgroupfs driver');
  }
  const p = cgroupsPath && cgroupsPath !== '' ? cgroupsPath : id;
  if (p.includes('..')) throw new Error(`cgroupsPath ${JSON.stringify(p)} must not contain ".."`);
  return isUnified(cgfs) ? new CgroupV2(cgfs, p) : new CgroupV1(cgfs, p);
}

/** The manager for a container created earlier, from the paths recorded in its state. */
export function savedCgroupManager(version: 1 | 2, paths: Record<string, string>, cgfsRoot = '/sys/fs/cgroup'): CgroupManager {
  return version === 2 ? CgroupV2.fromPath(cgfsRoot, paths['']!) : CgroupV1.fromPaths(cgfsRoot, paths);
}
