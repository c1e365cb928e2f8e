// Where a container's or pod's cgroup is, for the cgroupfs and systemd drivers.
// cradle builds cgroupsPath in src/runtime/oci-config/resources.ts: "<parent>/cradle-<id>"
// (cgroupfs) or "<slice>:cradle:<id>" (systemd); the runtime then creates, as runc
// does, <expanded slice>/cradle-<id>.scope for the systemd form.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CgroupDriver } from './types';
import { expandSlice, systemdUnitOf } from '../common/systemd-units';

export { expandSlice };

function checkedAbsolute(p: string): string {
  if (p.split('/').includes('..')) throw new Error(`cgroup path ${JSON.stringify(p)} must not contain ".."`);
  const abs = path.posix.normalize(`/${p}`);
  return abs.length > 1 ? abs.replace(/\/+$/, '') : abs;
}

/**
 * The container's cgroup relative to a hierarchy root ("/kubepods/pod1/cradle-<id>").
 * cgroupfs: the OCI cgroupsPath itself (relative paths are taken from the root, as cradle
 * always writes absolute ones). systemd: "slice:prefix:name" → "<slice path>/prefix-name.scope".
 */
export function containerCgroupPath(cgroupsPath: string, driver: CgroupDriver): string {
  if (driver === 'cgroupfs') return checkedAbsolute(cgroupsPath);
  return checkedAbsolute(systemdUnitOf(cgroupsPath).cgroup);
}

/** The pod's cgroup: the sandbox's cgroupParent (a path for cgroupfs, a slice name for systemd). */
export function podCgroupPath(cgroupParent: string, driver: CgroupDriver): string {
  return driver === 'systemd' ? expandSlice(cgroupParent) : checkedAbsolute(cgroupParent);
}

/** True when the unified (v2) hierarchy is mounted at the root (not the hybrid v1 layout). */
export function isUnifiedRoot(cgroupRoot: string): boolean {
  return fs.existsSync(path.join(cgroupRoot, 'cgroup.controllers'));
}

/**
 * The v1 hierarchy directory holding a controller: "<root>/memory", or a combined
 * mount such as "<root>/cpu,cpuacct" when there is no per-controller name.
 */
export function v1ControllerRoot(cgroupRoot: string, controller: string): string | undefined {
  const direct = path.join(cgroupRoot, controller);
  if (fs.existsSync(direct)) return direct;
  let entries: string[];
  try {
    entries = fs.readdirSync(cgroupRoot);
  } catch {
    return undefined;
  }
  const combined = entries.find((e) => e.split(',').includes(controller));
  return combined === undefined ? undefined : path.join(cgroupRoot, combined);
}
