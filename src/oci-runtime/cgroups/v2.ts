// cgroup v2 (unified) with the cgroupfs driver. The controllers are not exercisable
// on this v1-hybrid host: covered by unit tests on a fake tree. Device rules become a
// BPF_PROG_TYPE_CGROUP_DEVICE program (device-filter.ts, verified on this host's
// cgroup2 mount).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { OciDeviceCgroup, OciResources } from '../../common/oci-spec';
import { type CgroupFs, type CgroupManager, type PlannedWrite, DEFAULT_DEVICE_RULES, applyWrites, blkioWeightToIoWeight, sharesToWeight } from './types';
import { deviceFilterProgram } from './device-filter';

/** Installs a device program on a cgroup dir (replaced in unit tests). */
export type DeviceApplier = (dir: string, program: Buffer) => void;

const attachProgram: DeviceApplier = (dir, program) => {
  const bpf = require('../../sys/bpf') as typeof import('../../sys/bpf');
  const fd = bpf.loadDeviceProgram(program);
  try {
    bpf.attachDeviceProgram(dir, fd);
  } finally {
    require('node:fs').closeSync(fd);
  }
};
import { removeCgroup } from './v1';

export class CgroupV2 implements CgroupManager {
  readonly version = 2 as const;
  readonly dir: string;
  /** Warnings for settings that could not be applied (device rules). */
  readonly warnings: string[] = [];

  /** Replaced by unit tests, which run on a fake tree. */
  applyDevices: DeviceApplier = attachProgram;

  static fromPath(cgfsRoot: string, dir: string): CgroupV2 {
    return new CgroupV2({ root: cgfsRoot, selfCgroup: '0::/' }, path.relative(cgfsRoot, dir) === '' ? '/' : '/' + path.relative(cgfsRoot, dir));
  }

  constructor(protected readonly cgfs: CgroupFs, cgroupsPath: string) {
    const own = /^0::(.*)$/m.exec(cgfs.selfCgroup)?.[1] ?? '/';
    const rel = cgroupsPath.startsWith('/') ? cgroupsPath : path.posix.join(own, cgroupsPath);
    this.dir = path.join(cgfs.root, rel);
    if (path.relative(cgfs.root, this.dir).startsWith('..')) throw new Error(`cgroupsPath ${cgroupsPath} escapes ${cgfs.root}`);
  }

  paths(): Record<string, string> {
    return { '': this.dir };
  }

  create(): void {
    // Enable every available controller in each ancestor (never in the leaf: the
    // no-internal-process rule forbids processes in a cgroup that delegates).
    const rel = path.relative(this.cgfs.root, this.dir).split('/').filter(Boolean);
    let current = this.cgfs.root;
    for (const part of rel) {
      const available = readWords(path.join(current, 'cgroup.controllers'));
      const enabled = new Set(readWords(path.join(current, 'cgroup.subtree_control')));
      const missing = available.filter((c) => !enabled.has(c));
      if (missing.length > 0) fs.writeFileSync(path.join(current, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
      current = path.join(current, part);
      if (!fs.existsSync(current)) fs.mkdirSync(current);
    }
  }

  apply(pid: number): void {
    this.create();
    fs.writeFileSync(path.join(this.dir, 'cgroup.procs'), String(pid));
  }

  /** The file writes set() performs, in order; exposed for unit tests. */
  plan(r: OciResources): [string, string][] {
    const out: [string, string][] = [];
    const m = r.memory;
    if (m) {
      if (m.limit !== undefined && m.limit !== 0) out.push(['memory.max', m.limit > 0 ? String(m.limit) : 'max']);
      if (m.reservation) out.push(['memory.low', String(m.reservation)]);
      if (m.swap !== undefined && m.swap !== 0) {
        // OCI swap is memory+swap; v2 counts swap alone.
        if (m.swap === -1) out.push(['memory.swap.max', 'max']);
        else if (m.limit && m.limit > 0) out.push(['memory.swap.max', String(Math.max(0, m.swap - m.limit))]);
        else throw new Error('linux.resources.memory.swap needs memory.limit on cgroup v2');
      }
      if (m.disableOOMKiller) this.warnings.push('memory.disableOOMKiller has no cgroup v2 equivalent; ignored');
    }
    const c = r.cpu;
    if (c) {
      if (c.shares) out.push(['cpu.weight', String(sharesToWeight(c.shares))]);
      if (c.quota !== undefined && c.quota !== 0) out.push(['cpu.max', `${c.quota > 0 ? c.quota : 'max'} ${c.period || 100000}`]);
      else if (c.period) out.push(['cpu.max', `max ${c.period}`]);
      if (c.idle !== undefined) out.push(['cpu.idle', String(c.idle)]);
      if (c.cpus) out.push(['cpuset.cpus', c.cpus]);
      if (c.mems) out.push(['cpuset.mems', c.mems]);
    }
    const pidsLimit = r.pids?.limit;
    if (pidsLimit !== undefined && pidsLimit !== 0) out.push(['pids.max', pidsLimit > 0 ? String(pidsLimit) : 'max']);
    if (r.blockIO?.weight) out.push(['io.weight', `default ${blkioWeightToIoWeight(r.blockIO.weight)}`]);
    for (const h of r.hugepageLimits ?? []) out.push([`hugetlb.${h.pageSize}.max`, String(h.limit)]);
    for (const [file, value] of Object.entries(r.unified ?? {})) {
      if (file.includes('/') || file.startsWith('.')) throw new Error(`linux.resources.unified: invalid file name ${JSON.stringify(file)}`);
      out.push([file, value]);
    }
    return out;
  }

  /** The device program for the config's rules followed by runc's default allow list. */
  static deviceProgram(rules: readonly OciDeviceCgroup[]): Buffer {
    return deviceFilterProgram([...rules, ...DEFAULT_DEVICE_RULES]);
  }

  plannedWrites(r: OciResources): PlannedWrite[] {
    return this.plan(r).map(([file, value]) => ({ file: path.join(this.dir, file), value, optional: false }));
  }

  set(r: OciResources): void {
    if (r.devices) this.applyDevices(this.dir, CgroupV2.deviceProgram(r.devices));
    applyWrites(this.plannedWrites(r));
  }

  pids(): number[] {
    try {
      return fs.readFileSync(path.join(this.dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  freeze(frozen: boolean): void {
    fs.writeFileSync(path.join(this.dir, 'cgroup.freeze'), frozen ? '1' : '0');
  }

  isFrozen(): boolean {
    try {
      return /^frozen 1$/m.test(fs.readFileSync(path.join(this.dir, 'cgroup.events'), 'utf8'));
    } catch {
      return false;
    }
  }

  /** Kills every process at once (cgroup.kill, kernel 5.14+). */
  killAll(): boolean {
    const file = path.join(this.dir, 'cgroup.kill');
    if (!fs.existsSync(file)) return false;
    fs.writeFileSync(file, '1');
    return true;
  }

  destroy(): void {
    removeCgroup(this.dir);
  }
}

function readWords(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}
