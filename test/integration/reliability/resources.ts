// What a cradled under test holds on the host, counted from the kernel's view
// (mountinfo, /proc, cgroupfs, CNI IPAM files), to prove that work leaves no trace.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PodFixture } from '../../helpers/pod-fixture';

/** Soak/long mode: `CRADLE_SOAK=1` (see docs/reliability.md). */
export const SOAK = process.env.CRADLE_SOAK === '1';

export interface ResourceCounts {
  /** Mount points under the daemon's temp dir (overlays, netns pins, shm, ns dir). */
  mounts: number;
  /** Pinned namespace files under <run_root>/ns/<kind>/. */
  pinnedNamespaces: number;
  /** host-local IPAM allocations of the test network. */
  ipsAllocated: number;
  /** Cgroup directories below the test's cgroup parent, all hierarchies. */
  cgroups: number;
  /** conmon processes monitoring this daemon's containers. */
  conmons: number;
  /** Processes (pause and containers) inside the test's cgroup parent. */
  podProcesses: number;
  /** Open fds of cradled. */
  daemonFds: number;
  /** Threads of cradled. */
  daemonThreads: number;
  /** Files and dirs under the state dirs (root and run root), but for conmon's socket-dir links. */
  stateFiles: number;
  /** conmon's `--socket-dir-path` links, <run_root>/s/<container id>. */
  socketLinks: number;
}

function count(fn: () => number): number {
  try { return fn(); } catch { return 0; }
}

function walkCount(dir: string): number {
  let n = 0;
  let entries: fs.Dirent[];
  try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return 0; }
  for (const e of entries) {
    n++;
    if (e.isDirectory()) n += walkCount(path.join(dir, e.name));
  }
  return n;
}

/** Paths under the state dirs, to name what a failed count leaked. */
export function stateFileList(f: PodFixture): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const full = path.join(dir, e.name);
      out.push(full);
      if (e.isDirectory()) walk(full);
    }
  };
  walk(f.dirs.root);
  walk(f.dirs.runRoot);
  return out;
}

function cgroupDirsUnder(dir: string): number {
  let n = 0;
  let entries: fs.Dirent[];
  try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return 0; }
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    n += 1 + cgroupDirsUnder(path.join(dir, e.name));
  }
  return n;
}

function pids(): number[] {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

function readProc(pid: number, file: string): string {
  try { return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8'); } catch { return ''; }
}

/** cradled's pid (bin/cradled execs node, so it is the spawned process). */
export function daemonPid(f: PodFixture): number {
  return f.daemon.proc.pid!;
}

export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readProc(pid, 'status'));
  return m ? Number(m[1]) : 0;
}

/** host-local's allocations: one file named after the address per network, in <dataDir>/<network name>/. */
export function ipsAllocatedIn(dataDir: string): number {
  return count(() => fs.readdirSync(dataDir, { withFileTypes: true }).filter((d) => d.isDirectory())
    .reduce((n, d) => n + fs.readdirSync(path.join(dataDir, d.name)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).length, 0));
}

export function countResources(f: PodFixture, cgroupParent: string): ResourceCounts {
  const dir = f.dirs.dir;
  const mountPoints = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '');
  const nsDir = f.dirs.layout.namespacePins;
  const pid = daemonPid(f);
  const all = pids();
  return {
    mounts: mountPoints.filter((m) => m.startsWith(dir + '/')).length,
    pinnedNamespaces: count(() => fs.readdirSync(nsDir).reduce((n, kind) => n + fs.readdirSync(path.join(nsDir, kind)).length, 0)),
    ipsAllocated: ipsAllocatedIn(f.net.ipamDir),
    cgroups: count(() => fs.readdirSync('/sys/fs/cgroup').reduce((n, c) => n + cgroupDirsUnder(path.join('/sys/fs/cgroup', c, cgroupParent)), 0)),
    conmons: all.filter((p) => readProc(p, 'comm').trim() === 'conmon' && readProc(p, 'cmdline').includes(dir)).length,
    podProcesses: all.filter((p) => readProc(p, 'cgroup').split('\n').some((l) => l.split(':')[2]?.startsWith(cgroupParent + '/'))).length,
    daemonFds: count(() => fs.readdirSync(`/proc/${pid}/fd`).length),
    daemonThreads: Number(/Threads:\s+(\d+)/.exec(readProc(pid, 'status'))?.[1] ?? 0),
    stateFiles: walkCount(f.dirs.root) + walkCount(f.dirs.runRoot) - walkCount(f.dirs.layout.socketLinks),
    socketLinks: walkCount(f.dirs.layout.socketLinks),
  };
}

/** Removes the test's cgroup parent in every hierarchy (leftovers of a killed run too). */
export function removeCgroupParent(cgroupParent: string): void {
  for (const c of fs.readdirSync('/sys/fs/cgroup')) {
    const parent = path.join('/sys/fs/cgroup', c, cgroupParent);
    const rm = (d: string) => {
      try {
        for (const child of fs.readdirSync(d, { withFileTypes: true })) if (child.isDirectory()) rm(path.join(d, child.name));
        fs.rmdirSync(d);
      } catch { /* absent or busy */ }
    };
    rm(parent);
  }
}

/**
 * Creates the cgroup parent in every v1 hierarchy as the kubelet does before its
 * first RunPodSandbox (cpuset cpus/mems copied down from the root).
 */
export function createCgroupParent(cgroupParent: string): void {
  for (const c of fs.readdirSync('/sys/fs/cgroup')) {
    const root = path.join('/sys/fs/cgroup', c);
    if (c === 'unified' || !fs.existsSync(path.join(root, 'cgroup.procs')) || fs.lstatSync(root).isSymbolicLink()) continue;
    const dir = path.join(root, cgroupParent);
    fs.mkdirSync(dir, { recursive: true });
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      if (fs.existsSync(path.join(root, file))) fs.writeFileSync(path.join(dir, file), fs.readFileSync(path.join(root, file), 'utf8').trim());
    }
  }
}

/**
 * Removes every container cradled lists (also those whose pod is gone). A daemon
 * that died (a crash under test) is started again on its state first, so that
 * its containers and pods can still be cleaned up.
 */
export async function removeEverything(f: PodFixture): Promise<void> {
  if (!f.cri) return;
  if (f.daemon.proc.exitCode !== null || f.daemon.proc.signalCode !== null) await f.restart();
  for (const c of (await f.cri.runtime.ListContainers({}).catch(() => ({ containers: [] }))).containers) {
    await f.cri.runtime.RemoveContainer({ containerId: c.id }).catch(() => undefined);
  }
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  }));
  return out;
}
