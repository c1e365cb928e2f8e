// What the runtime needs from a cgroup driver. Drivers follow runc's order:
// apply() right after the init is spawned (so everything it does is accounted),
// set() once the init reports READY (so its own setup cannot trip a small limit).
import * as fs from 'node:fs';
import type { OciDeviceCgroup, OciResources } from '../../common/oci-spec';

/** One cgroup file write of set(): absolute file, value; optional = skipped when the file does not exist. */
export interface PlannedWrite {
  file: string;
  value: string;
  optional: boolean;
}

/** Performs planned writes in order (the Node create's set(); the native launcher does the same). */
export function applyWrites(writes: readonly PlannedWrite[]): void {
  for (const w of writes) {
    if (w.optional && !fs.existsSync(w.file)) continue;
    try {
      fs.writeFileSync(w.file, w.value);
    } catch (err) {
      throw new Error(`writing ${JSON.stringify(w.value)} to ${w.file}: ${(err as Error).message}`);
    }
  }
}

export interface CgroupManager {
  readonly version: 1 | 2;
  /** Creates the cgroup(s) without moving anything in. */
  create(): void;
  /** Creates the cgroup(s) and moves pid in. */
  apply(pid: number): void;
  /** Writes resource limits. */
  set(resources: OciResources): void;
  /** The file writes set() makes, in order (v2: without the device program, which set() attaches first). */
  plannedWrites(resources: OciResources): PlannedWrite[];
  /** Pids currently in the container's cgroup. */
  pids(): number[];
  freeze(frozen: boolean): void;
  isFrozen(): boolean;
  /** Removes the cgroup(s); tolerates ones already gone. */
  destroy(): void;
  /** controller (or "" for v2) -> absolute directory; recorded in state.json. */
  paths(): Record<string, string>;
}

/** Where cgroupfs and procfs are: the real ones, or a fake tree in unit tests. */
export interface CgroupFs {
  root: string;
  /** Contents of /proc/self/cgroup of the runtime process. */
  selfCgroup: string;
}

/**
 * The smallest memory limit the Node create accepts: its Node init is charged to the
 * container before it execs. The native launcher's init is not, and has no floor.
 */
export const MEMORY_FLOOR_BYTES = 16 * 1024 * 1024;

/** runc's conversions from v1 values to v2 files. */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return Math.floor(1 + ((shares - 2) * 9999) / 262142);
}

export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return Math.floor(1 + ((weight - 10) * 9999) / 990);
}

/** Formats a device rule as v1 devices.allow/deny wants it: "c 1:3 rwm". */
export function deviceRuleString(rule: { type?: string; major?: number; minor?: number; access?: string }): string {
  const type = rule.type && rule.type !== '' ? rule.type : 'a';
  const major = rule.major === undefined || rule.major === -1 ? '*' : String(rule.major);
  const minor = rule.minor === undefined || rule.minor === -1 ? '*' : String(rule.minor);
  const access = rule.access && rule.access !== '' ? rule.access : 'rwm';
  return type === 'a' ? `a *:* ${access}` : `${type} ${major}:${minor} ${access}`;
}

/** Devices every container may use (runc's AllowedDevices), appended after the config's rules. */
export const DEFAULT_DEVICE_RULES: readonly OciDeviceCgroup[] = [
  { allow: true, type: 'c', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'b', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
];
