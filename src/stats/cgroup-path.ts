// Where a container's or pod's cgroup is, for the cgroupfs and systemd drivers.
// cradle builds cgroupsPath in src/runtime/oci-config/resources.ts: "<parent>/cradle-<id>"
// (cgroupfs) or "<slice>:cradle:<id>" (systemd); the runtime then creates, as runc
// does, <expanded slice>/cradle-<id>.scope for the systemd form.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CgroupDriver } from './types';

const SLICE = '.slice';

/**
 * systemd's slice naming: "a-b-c.slice" lives at "/a.slice/a-b.slice/a-b-c.slice";
 * "-.slice" is the root. Same rules as runc's ExpandSlice.
 */
export function expandSlice(slice: string): string {
  if (slice.length <= SLICE.length || !slice.endsWith(SLICE)) throw new Error(`${JSON.stringify(slice)} is not a systemd slice name`);
  if (slice.includes('/')) throw new Error(`systemd slice name ${JSON.stringify(slice)} must not contain "/"`);
  const name = slice.slice(0, -SLICE.length);
  if (name === '-') return '/';
  let out = '';
  let prefix = '';
  for (const part of name.split('-')) {
    if (part === '') throw new Error(`systemd slice name ${JSON.stringify(slice)} has an empty component`);
    out += `/${prefix}${part}${SLICE}`;
    prefix += `${part}-`;
  }
  return out;
}

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
  const parts = cgroupsPath.split(':');
  if (parts.length !== 3 || parts[2] === '') {
    throw new Error(`systemd cgroupsPath ${JSON.stringify(cgroupsPath)} is not of the form "slice:prefix:name"`);
  }
  const [slice, prefix, name] = parts as [string, string, string];
  const parent = expandSlice(slice === '' ? 'system.slice' : slice);
  const unit = name.endsWith(SLICE) ? expandSlice(name).split('/').pop()! : `${prefix === '' ? '' : `${prefix}-`}${name}.scope`;
  return checkedAbsolute(path.posix.join(parent, unit));
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
