// cgroup v2 under the systemd cgroup driver, as runc's systemd manager: systemd owns
// the tree, so a container's cgroup is a transient scope ("cradle-<id>.scope" in the
// pod's slice) that systemd creates around the init with StartTransientUnit, with
// Delegate=yes so the runtime may write the scope's files. Limits systemd has
// properties for are set through SetUnitProperties too (else a daemon-reload would
// put systemd's idea back into the files); everything is then written to the files
// as on cgroupfs. The scope is stopped on destroy.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { OciResources } from '../../common/oci-spec';
import { DBusError, variant, type DBusValue } from '../../sys/dbus';
import { callSystemdManager, type SystemdCall } from '../../sys/systemd-manager';
import { expandSlice, systemdUnitOf } from '../../common/systemd-units';
import { type CgroupFs, sharesToWeight } from './types';
import { CgroupV2 } from './v2';

export type { SystemdCall } from '../../sys/systemd-manager';

/** "infinity" for systemd's uint64 properties. */
const INFINITY = (1n << 64n) - 1n;
/** How long systemd may take to move the init into its new scope. */
const SCOPE_WAIT_MS = 10_000;

/** The unit properties for the limits systemd manages (runc's genV2ResourcesProperties, the common part). */
export function unitProperties(r: OciResources): [string, ReturnType<typeof variant>][] {
  const props: [string, ReturnType<typeof variant>][] = [];
  const m = r.memory;
  if (m?.limit !== undefined && m.limit !== 0) props.push(['MemoryMax', variant('t', m.limit > 0 ? BigInt(m.limit) : INFINITY)]);
  if (m?.reservation) props.push(['MemoryLow', variant('t', BigInt(m.reservation))]);
  const c = r.cpu;
  if (c?.shares) props.push(['CPUWeight', variant('t', BigInt(sharesToWeight(c.shares)))]);
  if (c && ((c.quota !== undefined && c.quota !== 0) || c.period)) {
    const period = c.period || 100000;
    if (c.period) props.push(['CPUQuotaPeriodUSec', variant('t', BigInt(period))]);
    // systemd takes the quota per second, in µs, and rounds it to 10 ms: round up as runc does.
    const perSec = c.quota !== undefined && c.quota > 0 ? BigInt(Math.ceil((c.quota * 1_000_000) / period / 10_000) * 10_000) : INFINITY;
    props.push(['CPUQuotaPerSecUSec', variant('t', perSec)]);
  }
  const pidsLimit = r.pids?.limit;
  if (pidsLimit !== undefined && pidsLimit !== 0) props.push(['TasksMax', variant('t', pidsLimit > 0 ? BigInt(pidsLimit) : INFINITY)]);
  return props;
}

/** StartTransientUnit's signature and arguments for a container's scope holding pid (runc's properties). */
export const START_TRANSIENT_UNIT = 'ssa(sv)a(sa(sv))';
export function scopeStartArguments(unit: string, slice: string, pid: number): DBusValue[] {
  const props: [string, ReturnType<typeof variant>][] = [
    ['Description', variant('s', `cradle container ${unit}`)],
    ['Slice', variant('s', slice)],
    ['PIDs', variant('au', [pid])],
    ['Delegate', variant('b', true)],
    ['DefaultDependencies', variant('b', false)],
    ['MemoryAccounting', variant('b', true)],
    ['CPUAccounting', variant('b', true)],
    ['IOAccounting', variant('b', true)],
    ['TasksAccounting', variant('b', true)],
  ];
  return [unit, 'replace', props, []];
}

/** SetUnitProperties's signature and arguments for the limits systemd manages, as runtime properties of the unit (lost at reboot, as the unit itself). */
export const SET_UNIT_PROPERTIES = 'sba(sv)';
export function unitLimitArguments(unit: string, r: OciResources): DBusValue[] | undefined {
  const props = unitProperties(r);
  return props.length === 0 ? undefined : [unit, true, props];
}

function setUnitLimits(call: SystemdCall, unit: string, r: OciResources): void {
  const args = unitLimitArguments(unit, r);
  if (!args) return;
  try {
    call('SetUnitProperties', SET_UNIT_PROPERTIES, args);
  } catch (err) {
    throw new Error(`systemd SetUnitProperties ${unit}: ${(err as Error).message}`);
  }
}

export class SystemdCgroupV2 extends CgroupV2 {
  readonly unit: string;
  readonly slice: string;
  /** Replaced by unit tests. */
  callSystemd: SystemdCall = callSystemdManager;

  /** cgroupsPath: "slice:prefix:name". */
  constructor(cgfs: CgroupFs, cgroupsPath: string) {
    const unit = systemdUnitOf(cgroupsPath);
    super(cgfs, unit.cgroup);
    this.unit = unit.unit;
    this.slice = unit.slice;
  }

  override create(): void {
    throw new Error(`systemd creates the scope ${this.unit} with its first process: use apply(pid)`);
  }

  /** The line of /proc/<pid>/cgroup of a process in the scope. */
  get procCgroupLine(): string {
    return `0::/${path.relative(this.cgfs.root, this.dir)}`;
  }

  override apply(pid: number): void {
    try {
      this.callSystemd('StartTransientUnit', START_TRANSIENT_UNIT, scopeStartArguments(this.unit, this.slice, pid));
    } catch (err) {
      throw new Error(`systemd StartTransientUnit ${this.unit} in ${this.slice}: ${(err as Error).message}`);
    }
    // The start is a job: wait until the init is in the scope's cgroup.
    const want = this.procCgroupLine;
    const deadline = Date.now() + SCOPE_WAIT_MS;
    for (;;) {
      let current: string;
      try {
        current = /^0::.*$/m.exec(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[0] ?? '';
      } catch {
        throw new Error(`process ${pid} exited before systemd moved it into ${this.unit}`);
      }
      if (current === want) break;
      if (Date.now() > deadline) throw new Error(`systemd did not move process ${pid} into ${this.unit} (it is in ${current})`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
    // systemd enables in its slices only the controllers it manages (not hugetlb, nor
    // cpuset unless asked): enable every available one down to the scope, as runc does.
    super.create();
  }

  override set(r: OciResources): void {
    setUnitLimits(this.callSystemd, this.unit, r);
    super.set(r);
  }

  override destroy(): void {
    try {
      this.callSystemd('StopUnit', 'ss', [this.unit, 'replace']);
    } catch (err) {
      // A scope whose processes are all gone is collected by systemd on its own.
      if (!(err instanceof DBusError && err.name === 'org.freedesktop.systemd1.NoSuchUnit')) {
        throw new Error(`systemd StopUnit ${this.unit}: ${(err as Error).message}`);
      }
    }
    super.destroy();
  }
}

/**
 * A pod's slice under the systemd driver, for UpdatePodSandboxResources: the kubelet
 * (or systemd, when the pod's first scope named it) made the slice, and systemd owns
 * its files, so the limits go through SetUnitProperties first (else systemd would
 * put its own values back at its next daemon-reload), then to the files as for a scope.
 */
export class SystemdSliceV2 extends CgroupV2 {
  /** Replaced by unit tests. */
  callSystemd: SystemdCall = callSystemdManager;

  constructor(cgfs: CgroupFs, readonly unit: string) {
    super(cgfs, expandSlice(unit));
  }

  override create(): void {
    throw new Error(`the slice ${this.unit} is systemd's: cradle only sets its limits`);
  }

  override set(r: OciResources): void {
    setUnitLimits(this.callSystemd, this.unit, r);
    super.set(r);
  }

  override destroy(): void {
    throw new Error(`the slice ${this.unit} is systemd's: cradle does not remove it`);
  }
}
