// Summary of a V8 .cpuprofile (node --cpu-prof): self time by function and by
// source file, to say where a daemon's CPU went.
import * as fs from 'node:fs';
import * as path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Sampled time that was not idle/program/GC bookkeeping. */
  busyMs: number;
  topFunctions: { name: string; selfMs: number }[];
  topFiles: { file: string; selfMs: number }[];
}

function shortUrl(url: string, root: string): string {
  if (!url) return '(native)';
  const plain = url.replace(/^file:\/\//, '');
  return plain.startsWith(root) ? path.relative(root, plain) : plain;
}

export function summarizeProfile(file: string, root: string, top = 20): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)' || frame.functionName === '(program)') continue;
    busy += us;
    const url = shortUrl(frame.url, root);
    const name = `${frame.functionName || '(anonymous)'} ${url}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    fns.set(name, (fns.get(name) ?? 0) + us);
    files.set(url, (files.get(url) ?? 0) + us);
  }
  const rank = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    file,
    totalMs: (profile.endTime - profile.startTime) / 1000,
    busyMs: busy / 1000,
    topFunctions: rank(fns).map(([name, us]) => ({ name, selfMs: us / 1000 })),
    topFiles: rank(files).map(([f, us]) => ({ file: f, selfMs: us / 1000 })),
  };
}

export function formatProfile(s: ProfileSummary): string {
  return [
    `${path.basename(s.file)}: ${s.totalMs.toFixed(0)} ms profiled, ${s.busyMs.toFixed(0)} ms on CPU (not idle)`,
    'top self time by file:',
    ...s.topFiles.map((f) => `  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.file}`),
    'top self time by function:',
    ...s.topFunctions.map((f) => `  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.name}`),
  ].join('\n');
}
