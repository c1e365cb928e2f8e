// What the benchmark reads from /proc: processes by name and command line,
// their memory (RSS and PSS from smaps_rollup) and CPU time.
import * as fs from 'node:fs';

export interface ProcInfo {
  pid: number;
  /** /proc/PID/comm (15 characters at most). */
  comm: string;
  /** argv joined by spaces. */
  cmdline: string;
  ppid: number;
}

export interface MemoryUse {
  /** Resident set size, bytes. */
  rss: number;
  /** Proportional set size (shared pages divided among their users), bytes. */
  pss: number;
  /** Anonymous memory (heap, stacks: not the shared program text), bytes. */
  anon: number;
}

const CLOCK_TICK_MS = 10; // USER_HZ is 100 on Linux

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Every live process (those that vanish while being read are skipped). */
export function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = readOrEmpty(`/proc/${name}/cmdline`).replace(/\0+$/, '').replace(/\0/g, ' ');
    const comm = readOrEmpty(`/proc/${name}/comm`).trim();
    if (!comm) continue;
    const stat = readOrEmpty(`/proc/${name}/stat`);
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? 0);
    out.push({ pid: Number(name), comm, cmdline, ppid });
  }
  return out;
}

/** RSS and PSS of one process from smaps_rollup (zero if it is gone). */
export function memoryOf(pid: number): MemoryUse {
  const text = readOrEmpty(`/proc/${pid}/smaps_rollup`);
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { rss: kb('Rss'), pss: kb('Pss'), anon: kb('Anonymous') };
}

export function sumMemory(pids: number[]): MemoryUse {
  return pids.map(memoryOf).reduce((a, b) => ({ rss: a.rss + b.rss, pss: a.pss + b.pss, anon: a.anon + b.anon }), { rss: 0, pss: 0, anon: 0 });
}

/** CPU time in ms: the process's own (all its threads), and that of children it has reaped. */
export function cpuTimeOf(pid: number): { self: number; children: number } {
  const field = statFields(`/proc/${pid}/stat`);
  return { self: (field(14) + field(15)) * CLOCK_TICK_MS, children: (field(16) + field(17)) * CLOCK_TICK_MS };
}

/** CPU time in ms of one thread (the main thread's id is the pid). */
export function threadCpuTimeOf(pid: number, tid: number): number {
  const field = statFields(`/proc/${pid}/task/${tid}/stat`);
  return (field(14) + field(15)) * CLOCK_TICK_MS;
}

function statFields(file: string): (n: number) => number {
  const stat = readOrEmpty(file);
  // Fields after the parenthesised comm: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (n: number) => Number(rest[n - 3] ?? 0);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Where a process's resident memory lies, from /proc/PID/smaps (bytes). */
export interface MemoryMap {
  /** Pages of the program's own executable file (shared with every process running it). */
  program: number;
  /** Pages of other files: shared libraries, native addons. */
  files: number;
  /** The brk heap: the main thread's malloc arena. */
  brkHeap: number;
  /** Every other anonymous mapping: V8's heap, other threads' malloc arenas, thread stacks, buffers. */
  anonymous: number;
  /** Mappings with any resident page. */
  mappings: number;
}

export function memoryMapOf(pid: number): MemoryMap {
  const text = readOrEmpty(`/proc/${pid}/smaps`);
  const exe = (() => {
    try {
      return fs.readlinkSync(`/proc/${pid}/exe`);
    } catch {
      return '';
    }
  })();
  const out: MemoryMap = { program: 0, files: 0, brkHeap: 0, anonymous: 0, mappings: 0 };
  let name = '';
  for (const line of text.split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) {
      name = header[1] ?? '';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (!rss) continue;
    const bytes = Number(rss[1]) * 1024;
    if (bytes === 0) continue;
    out.mappings++;
    if (name === exe) out.program += bytes;
    else if (name === '[heap]') out.brkHeap += bytes;
    else if (name.startsWith('/')) out.files += bytes;
    else out.anonymous += bytes;
  }
  return out;
}
