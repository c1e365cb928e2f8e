// The benchmark's outputs: machine facts, and the table of medians, p90 and
// ratios cradle ÷ containerd against the issue's targets.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { median, p90 } from './stats';
import { PINNED_NODE, type RuntimeName } from './runtimes';

export type Unit = 'ms' | 'MB' | '%' | 'count';

export interface WorkloadResult {
  key: string;
  unit: Unit;
  /** Samples per runtime. */
  samples: Record<RuntimeName, number[]>;
  /** Distinct failures per runtime: "Request: message" → count. */
  errors: Record<RuntimeName, Record<string, number>>;
  /** Upper bound for cradle ÷ containerd (by median), if the issue sets one. */
  target?: number;
  note?: string;
}

export interface RowSummary {
  key: string;
  unit: Unit;
  n: Record<RuntimeName, number>;
  median: Record<RuntimeName, number>;
  p90: Record<RuntimeName, number>;
  ratio: number;
  target?: number;
  met?: boolean;
  errors: Record<RuntimeName, Record<string, number>>;
  note?: string;
}

export function summarize(w: WorkloadResult): RowSummary {
  const stat = (f: (v: number[]) => number) => ({ cradle: f(w.samples.cradle), containerd: f(w.samples.containerd) });
  const med = stat(median);
  const ratio = med.cradle / med.containerd;
  const row: RowSummary = {
    key: w.key, unit: w.unit, n: { cradle: w.samples.cradle.length, containerd: w.samples.containerd.length },
    median: med, p90: stat(p90), ratio, errors: w.errors,
  };
  if (w.target !== undefined) {
    row.target = w.target;
    const failed = Object.keys(w.errors.cradle).length > 0 && w.samples.cradle.length === 0;
    row.met = !failed && Number.isFinite(ratio) && ratio <= w.target;
  }
  if (w.note) row.note = w.note;
  return row;
}

function fmt(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return '–';
  if (unit === 'count') return value.toFixed(0);
  if (unit === 'MB' || unit === '%') return value.toFixed(1);
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0);
}

function cell(row: RowSummary, rt: RuntimeName): string {
  if (row.n[rt] === 0) return Object.keys(row.errors[rt]).length ? 'FAILED' : '–';
  const failures = Object.values(row.errors[rt]).reduce((a, b) => a + b, 0);
  const unit = row.unit === 'count' ? '' : ` ${row.unit}`;
  return `${fmt(row.median[rt], row.unit)} / ${fmt(row.p90[rt], row.unit)}${unit}${failures ? ` (${failures} failed)` : ''}`;
}

/** The results table as Markdown (also readable as plain text). */
export function markdownTable(rows: RowSummary[]): string {
  const lines = [
    '| workload | n | cradle median / p90 | containerd median / p90 | cradle ÷ containerd | target | result |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const ratio = Number.isFinite(r.ratio) ? r.ratio.toFixed(2) : '–';
    const target = r.target !== undefined ? `≤ ${Number.isInteger(r.target) ? r.target.toFixed(1) : String(r.target)}` : '';
    const result = r.met === undefined ? '' : r.met ? 'met' : '**missed**';
    const n = r.n.cradle === r.n.containerd ? String(r.n.cradle) : `${r.n.cradle}/${r.n.containerd}`;
    lines.push(`| ${r.key} | ${n} | ${cell(r, 'cradle')} | ${cell(r, 'containerd')} | ${ratio} | ${target} | ${result} |`);
  }
  return lines.join('\n');
}

export function errorList(rows: RowSummary[]): string[] {
  const out: string[] = [];
  for (const r of rows) {
    for (const rt of ['cradle', 'containerd'] as const) {
      for (const [message, count] of Object.entries(r.errors[rt])) out.push(`- ${rt}, ${r.key}: ${message}${count > 1 ? ` (×${count})` : ''}`);
    }
  }
  return out;
}

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0]!.trim();
  } catch (err) {
    return `unavailable (${(err as Error).message.split('\n')[0]})`;
  }
}

export interface MachineFacts {
  date: string;
  hostname: string;
  nproc: number;
  memoryTotalMB: number;
  kernel: string;
  cgroup: string;
  loadAverageAtStart: number[];
  versions: Record<string, string>;
}

export function machineFacts(): MachineFacts {
  const memTotal = Number(/MemTotal:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  const cgroup = fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'v2 (unified)' : fs.existsSync('/sys/fs/cgroup/unified') ? 'v1 (hybrid)' : 'v1';
  return {
    date: new Date().toISOString(),
    hostname: os.hostname(),
    nproc: os.availableParallelism(),
    memoryTotalMB: Math.round(memTotal / 1024),
    kernel: `${os.type()} ${os.release()}`,
    cgroup,
    loadAverageAtStart: os.loadavg(),
    versions: {
      'node (cradled)': firstLine(PINNED_NODE, ['--version']),
      'node (bench)': process.version,
      cradle: firstLine('git', ['-C', __dirname, 'rev-parse', '--short', 'HEAD']),
      conmon: firstLine('conmon', ['--version']),
      runc: firstLine('runc', ['--version']),
      containerd: firstLine('containerd', ['--version']),
      'CNI plugins': firstLine('/usr/lib/cni/bridge', ['--version']) || 'bridge (no version output)',
    },
  };
}
