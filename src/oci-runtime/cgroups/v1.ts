// cgroup v1 (and the v1 half of a hybrid host) with the cgroupfs driver: one
// directory per hierarchy, found from the runtime's own /proc/self/cgroup.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { OciResources } from '../../common/oci-spec';
import { type CgroupFs, type CgroupManager, type PlannedWrite, DEFAULT_DEVICE_RULES, applyWrites, deviceRuleString } from './types';

export interface Hierarchy {
  /** "memory", "cpu,cpuacct", "name=systemd" */
  controllers: string;
  mount: string;
  /** Absolute directory of the container's cgroup in this hierarchy. */
  dir: string;
}

export class CgroupV1 implements CgroupManager {
  readonly version = 1 as const;
  private readonly hierarchies: Hierarchy[];

  /** The manager for directories recorded by an earlier `create` (state.json). */
  static fromPaths(cgfsRoot: string, paths: Record<string, string>): CgroupV1 {
    const m = new CgroupV1({ root: cgfsRoot, selfCgroup: '' }, '/');
    for (const [controllers, dir] of Object.entries(paths)) {
      const dirName = controllers.startsWith('name=') ? controllers.slice(5) : controllers;
      m.hierarchies.push({ controllers, mount: path.join(cgfsRoot, dirName), dir });
    }
    return m;
  }

  /** cgroupsPath: absolute, or relative to the runtime's own cgroup in each hierarchy. */
  constructor(cgfs: CgroupFs, cgroupsPath: string) {
    this.hierarchies = [];
    for (const line of cgfs.selfCgroup.split('\n')) {
      const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
      if (!m || m[1] === '0' || m[2] === '') continue;
      const controllers = m[2];
      const dirName = controllers.startsWith('name=') ? controllers.slice(5) : controllers;
      const mount = path.join(cgfs.root, dirName);
      if (!fs.existsSync(mount)) continue;
      const rel = cgroupsPath.startsWith('/') ? cgroupsPath : path.posix.join(m[3], cgroupsPath);
      this.hierarchies.push({ controllers, mount, dir: path.join(mount, rel) });
    }
  }

  paths(): Record<string, string> {
    return Object.fromEntries(this.hierarchies.map((h) => [h.controllers, h.dir]));
  }

  private dirOf(controller: string): string | undefined {
    return this.hierarchies.find((h) => h.controllers.split(',').includes(controller))?.dir;
  }

  create(): void {
    for (const h of this.hierarchies) mkdirCgroup(h.mount, h.dir, h.controllers.split(',').includes('cpuset'));
  }

  apply(pid: number): void {
    this.create();
    for (const h of this.hierarchies) fs.writeFileSync(path.join(h.dir, 'cgroup.procs'), String(pid));
  }

  /** Hierarchies with the container's directory in each (for the launch plan). */
  hierarchyList(): readonly Hierarchy[] {
    return this.hierarchies;
  }

  /**
   * The file writes set() performs, in order: one list for the Node create and the
   * launch plan. Checks that need no write (a controller not mounted, unified on v1)
   * throw here. File existence for a cgroup not made yet is looked up in its
   * hierarchy's root, which has the same files.
   */
  plannedWrites(r: OciResources): PlannedWrite[] {
    const out: PlannedWrite[] = [];
    const write = (controller: string, file: string, value: string | number, optional = false): void => {
      const dir = this.dirOf(controller);
      if (!dir) {
        if (optional) return;
        throw new Error(`cgroup v1 controller ${controller} is not mounted (needed for ${file})`);
      }
      out.push({ file: path.join(dir, file), value: String(value), optional });
    };
    const exists = (controller: string, file: string): boolean => {
      const h = this.hierarchies.find((x) => x.controllers.split(',').includes(controller));
      return h !== undefined && (fs.existsSync(path.join(h.dir, file)) || fs.existsSync(path.join(h.mount, file)));
    };
    if (r.memory) {
      const m = r.memory;
      if (m.limit !== undefined && m.limit !== 0) {
        if (m.swap !== undefined && m.swap !== 0) {
          // The kernel keeps memsw >= limit at every step: when the new limit is above
          // the current memsw, memsw has to be raised first (runc's order).
          const dir = this.dirOf('memory');
          const memswFile = dir && path.join(dir, 'memory.memsw.limit_in_bytes');
          const currentMemsw = memswFile && fs.existsSync(memswFile) ? Number(fs.readFileSync(memswFile, 'utf8').trim() || '0') : 0;
          if (m.swap === -1 || (currentMemsw > 0 && m.limit > currentMemsw)) {
            write('memory', 'memory.memsw.limit_in_bytes', m.swap, true);
            write('memory', 'memory.limit_in_bytes', m.limit);
          } else {
            write('memory', 'memory.limit_in_bytes', m.limit);
            write('memory', 'memory.memsw.limit_in_bytes', m.swap, true);
          }
        } else {
          write('memory', 'memory.limit_in_bytes', m.limit);
        }
      }
      if (m.reservation !== undefined && m.reservation !== 0) write('memory', 'memory.soft_limit_in_bytes', m.reservation);
      if (m.swappiness !== undefined && m.swappiness >= 0 && m.swappiness <= 100) write('memory', 'memory.swappiness', m.swappiness, true);
      if (m.disableOOMKiller) write('memory', 'memory.oom_control', 1);
    }
    if (r.cpu) {
      const c = r.cpu;
      if (c.shares) write('cpu', 'cpu.shares', c.shares);
      if (c.period) write('cpu', 'cpu.cfs_period_us', c.period);
      if (c.quota) write('cpu', 'cpu.cfs_quota_us', c.quota);
      if (c.realtimePeriod) write('cpu', 'cpu.rt_period_us', c.realtimePeriod);
      if (c.realtimeRuntime) write('cpu', 'cpu.rt_runtime_us', c.realtimeRuntime);
      if (c.cpus) write('cpuset', 'cpuset.cpus', c.cpus);
      if (c.mems) write('cpuset', 'cpuset.mems', c.mems);
    }
    const pidsLimit = r.pids?.limit;
    if (pidsLimit !== undefined && pidsLimit !== 0) write('pids', 'pids.max', pidsLimit > 0 ? pidsLimit : 'max');
    if (r.blockIO?.weight) {
      const file = ['blkio.weight', 'blkio.bfq.weight'].find((f) => exists('blkio', f));
      if (!file) throw new Error('blockIO.weight: this kernel has no blkio.weight (no CFQ/BFQ scheduler)');
      write('blkio', file, r.blockIO.weight);
    }
    for (const h of r.hugepageLimits ?? []) write('hugetlb', `hugetlb.${h.pageSize}.limit_in_bytes`, h.limit);
    if (r.devices) {
      for (const rule of [...r.devices, ...DEFAULT_DEVICE_RULES]) {
        write('devices', rule.allow ? 'devices.allow' : 'devices.deny', deviceRuleString(rule));
      }
    }
    if (r.unified && Object.keys(r.unified).length > 0) {
      throw new Error('linux.resources.unified needs cgroup v2; this host runs cgroup v1');
    }
    return out;
  }

  set(r: OciResources): void {
    applyWrites(this.plannedWrites(r));
  }

  pids(): number[] {
    const dir = this.dirOf('pids') ?? this.dirOf('memory') ?? this.hierarchies[0]?.dir;
    if (!dir) return [];
    try {
      return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  freeze(frozen: boolean): void {
    const dir = this.dirOf('freezer');
    if (!dir) throw new Error('the freezer cgroup controller is not mounted');
    const want = frozen ? 'FROZEN' : 'THAWED';
    for (let i = 0; i < 1000; i++) {
      fs.writeFileSync(path.join(dir, 'freezer.state'), want);
      if (fs.readFileSync(path.join(dir, 'freezer.state'), 'utf8').trim() === want) return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
    throw new Error(`freezer.state did not reach ${want}`);
  }

  isFrozen(): boolean {
    const dir = this.dirOf('freezer');
    if (!dir) return false;
    try {
      return fs.readFileSync(path.join(dir, 'freezer.state'), 'utf8').trim() !== 'THAWED';
    } catch {
      return false;
    }
  }

  destroy(): void {
    for (const h of this.hierarchies) removeCgroup(h.dir);
  }
}

/** mkdir -p inside a hierarchy; new cpuset cgroups start empty, so cpus/mems are copied down. */
function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

function mkdirCgroup(mount: string, dir: string, isCpuset: boolean): void {
  const rel = path.relative(mount, dir);
  if (rel.startsWith('..')) throw new Error(`cgroup ${dir} is outside ${mount}`);
  let current = mount;
  for (const part of rel.split('/').filter(Boolean)) {
    const parent = current;
    current = path.join(current, part);
    try {
      fs.mkdirSync(current);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // A new cpuset cgroup starts with no cpus and mems, and nothing can join it until
    // they are set. Checked at every level, not only the ones made here: a concurrent
    // create may have made a level and not yet copied its values (it would copy the
    // same ones).
    if (isCpuset) {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        if (readOrEmpty(path.join(current, f)) !== '') continue;
        fs.writeFileSync(path.join(current, f), fs.readFileSync(path.join(parent, f), 'utf8').trim());
      }
    }
  }
}

/** rmdir with retries: the kernel may still be tearing the last task down (EBUSY). */
export function removeCgroup(dir: string): void {
  for (let i = 0; ; i++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code === 'EBUSY' && i < 50) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        continue;
      }
      // A mock tree (unit tests) holds regular files: remove them too.
      if (code === 'ENOTEMPTY' && !isCgroupFs(dir)) {
        fs.rmSync(dir, { recursive: true, force: true });
        return;
      }
      throw err;
    }
  }
}

function isCgroupFs(dir: string): boolean {
  try {
    const type = fs.statfsSync(dir).type;
    return type === 0x27e0eb || type === 0x63677270; // CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC
  } catch {
    return false;
  }
}

/**
 * Moves the calling thread (only it) into v1 cgroup directories. Writing "0" to
 * `tasks` instead of a pid lets the kernel skip the threadgroup rwsem and its RCU
 * grace period (2-4 ms per hierarchy on this host, against ~0.05 ms). The
 * container init and `exec` use it: the thread that joins is the one that
 * execve()s or spawns, and a Node process's other threads never reach the container.
 */
export function joinCurrentThread(dirs: Iterable<string>): void {
  for (const dir of dirs) fs.writeFileSync(path.join(dir, 'tasks'), '0');
}
