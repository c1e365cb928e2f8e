// Where the time of each pod/container RPC goes, as a process timeline: one
// single-pod lifecycle per runtime (cradle, then containerd) with `perf record`
// of the scheduler's fork/exec/exit tracepoints (system-wide, CLOCK_MONOTONIC,
// no ptrace), then every descendant of the daemon (conmon, cradle-runtime,
// CNI plugins; containerd-shim, runc, CNI plugins) that started during each
// RPC, with its offset from the RPC's start and its lifetime.
//
// Run (root): npm run build && ./node_modules/.bin/node dist/bench/cri-trace.js
// Writes bench/results/<date>-cri-trace.md. Needs /usr/bin/perf (linux-perf).
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startFixtureRegistry } from '../test/helpers/registry';
import { REPO_ROOT } from '../test/helpers/daemon';
import type { PodSandboxConfig } from '../src/generated/runtime/v1/PodSandboxConfig';
import { pushImages, type Images } from './lib/images';
import { CGROUP_PARENT, removeAllPods, startContainerd, startCradle, sweep, type BenchRuntime } from './lib/runtimes';
import { sleep } from './lib/stats';

interface Mark {
  rpc: string;
  startNs: bigint;
  endNs: bigint;
}

interface Task {
  pid: number;
  parent: number;
  forkNs: bigint;
  execNs?: bigint;
  file?: string;
  exitNs?: bigint;
}

const now = (): bigint => process.hrtime.bigint(); // CLOCK_MONOTONIC, like perf -k CLOCK_MONOTONIC

async function lifecycle(rt: BenchRuntime, images: Images, marks: Mark[]): Promise<void> {
  const cri = rt.cri.runtime;
  const mark = async <T>(rpc: string, fn: () => Promise<T>): Promise<T> => {
    const startNs = now();
    const value = await fn();
    marks.push({ rpc, startNs, endNs: now() });
    return value;
  };
  const name = `trace-${Date.now()}`;
  const logDirectory = path.join(rt.logRoot, name);
  fs.mkdirSync(logDirectory, { recursive: true });
  const config: PodSandboxConfig = {
    metadata: { name, namespace: 'cradle-bench', uid: `uid-${rt.name}-${name}`, attempt: 0 },
    hostname: name, logDirectory, linux: { cgroupParent: CGROUP_PARENT },
  };
  const container = { metadata: { name: 'sleeper', attempt: 0 }, image: { image: images.busybox.reference }, command: ['sleep', '3600'], logPath: 'sleeper.log' };
  const { podSandboxId } = await mark('RunPodSandbox', () => cri.RunPodSandbox({ config }));
  const { containerId } = await mark('CreateContainer', () => cri.CreateContainer({ podSandboxId, config: container, sandboxConfig: config }));
  await mark('StartContainer', () => cri.StartContainer({ containerId }));
  await mark('ExecSync true', () => cri.ExecSync({ containerId, cmd: ['true'], timeout: 10 }));
  await mark('StopContainer timeout 0', () => cri.StopContainer({ containerId, timeout: 0 }));
  await mark('RemoveContainer', () => cri.RemoveContainer({ containerId }));
  await mark('StopPodSandbox', () => cri.StopPodSandbox({ podSandboxId }));
  await mark('RemovePodSandbox', () => cri.RemovePodSandbox({ podSandboxId }));
}

function parsePerf(dataFile: string): { forks: { parent: number; child: number; ns: bigint }[]; execs: Map<number, { ns: bigint; file: string }>; exits: Map<number, bigint> } {
  const text = execFileSync('perf', ['script', '-i', dataFile], { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  const forks: { parent: number; child: number; ns: bigint }[] = [];
  const execs = new Map<number, { ns: bigint; file: string }>();
  const exits = new Map<number, bigint>();
  const toNs = (t: string): bigint => {
    const [s, frac = ''] = t.split('.');
    return BigInt(s!) * 1_000_000_000n + BigInt(frac.padEnd(9, '0').slice(0, 9));
  };
  for (const line of text.split('\n')) {
    const m = /\s(\d+)\s+\[\d+\]\s+([\d.]+):\s+sched:(sched_process_\w+):\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, pidText, time, event, fields] = m;
    const ns = toNs(time!);
    if (event === 'sched_process_fork') {
      const child = /child_pid=(\d+)/.exec(fields!)?.[1];
      const parent = /\bpid=(\d+)/.exec(fields!)?.[1];
      if (child && parent) forks.push({ parent: Number(parent), child: Number(child), ns });
    } else if (event === 'sched_process_exec') {
      // A task may exec more than once (runc init re-execs itself, then the container program): keep the chain.
      const file = /filename=(\S+)/.exec(fields!)?.[1] ?? '?';
      const earlier = execs.get(Number(pidText));
      execs.set(Number(pidText), earlier ? { ns: earlier.ns, file: `${earlier.file} → ${path.basename(file)}` } : { ns, file });
    } else if (event === 'sched_process_exit') {
      exits.set(Number(/\bpid=(\d+)/.exec(fields!)?.[1] ?? pidText), ns);
    }
  }
  return { forks, execs, exits };
}

/**
 * Descendants of the daemon's threads `roots` (threads included: perf sees every
 * clone, and Go forks from any thread) with their exec and exit.
 */
function descendants(roots: number[], perf: ReturnType<typeof parsePerf>): Task[] {
  const inTree = new Set(roots);
  const tasks: Task[] = [];
  for (const f of perf.forks) {
    if (!inTree.has(f.parent)) continue;
    inTree.add(f.child);
    const exec = perf.execs.get(f.child);
    const task: Task = { pid: f.child, parent: f.parent, forkNs: f.ns };
    if (exec) { task.execNs = exec.ns; task.file = exec.file; }
    const exit = perf.exits.get(f.child);
    if (exit) task.exitNs = exit;
    tasks.push(task);
  }
  return tasks;
}

function ms(ns: bigint): string {
  return (Number(ns) / 1e6).toFixed(1);
}

function timeline(rt: BenchRuntime, marks: Mark[], tasks: Task[]): string {
  const lines = [`### ${rt.name}`, ''];
  const byPid = new Map(tasks.map((t) => [t.pid, t]));
  // The parent is named after the closest ancestor that exec'd a program (a fork or thread of it).
  const programOf = (pid: number): string => {
    for (let t = byPid.get(pid); t; t = byPid.get(t.parent)) {
      if (t.file && t.execNs !== undefined) return path.basename(t.file.split(' → ').pop()!);
    }
    return 'daemon';
  };
  const label = (t: Task): string => `${path.basename(t.file!)} (from ${programOf(t.parent)})`;
  const during = (m: Mark): Task[] => tasks.filter((x) => x.file && x.forkNs >= m.startNs && x.forkNs <= m.endNs);
  // A Node.js start is the cost the native launcher exists to remove: counted per RPC.
  const isNode = (t: Task): boolean => t.file!.split(' → ').some((f) => path.basename(f) === 'node');
  lines.push('| RPC | ms | programs started | of them Node.js |', '|---|---|---|---|');
  for (const m of marks) lines.push(`| ${m.rpc} | ${ms(m.endNs - m.startNs)} | ${during(m).length} | ${during(m).filter(isNode).length} |`);
  const nodeStarts = (...rpcs: string[]): number => marks.filter((m) => rpcs.includes(m.rpc)).reduce((n, m) => n + during(m).filter(isNode).length, 0);
  lines.push('', `Node.js processes started per pod start (RunPodSandbox): ${nodeStarts('RunPodSandbox')}; per container start (CreateContainer + StartContainer): ${nodeStarts('CreateContainer', 'StartContainer')}; per exec (ExecSync): ${nodeStarts('ExecSync true')} (issue 20's target: 0 / 0).`);
  lines.push('');
  for (const m of marks) {
    lines.push(`- **${m.rpc}**: ${ms(m.endNs - m.startNs)} ms`);
    // Only tasks that exec'd a program (threads and bare forks are noise here).
    for (const t of during(m)) {
      const life = t.exitNs ? `${ms(t.exitNs - t.forkNs)} ms` : 'still running';
      lines.push(`  - +${ms(t.forkNs - m.startNs)} ms ${label(t)}: lived ${life}${t.exitNs && t.exitNs > m.endNs ? ' (past the RPC)' : ''}`);
    }
  }
  return lines.join('\n');
}

async function traceOne(rt: BenchRuntime, images: Images, work: string): Promise<string> {
  const dataFile = path.join(work, `${rt.name}.perf.data`);
  const perf = spawn('perf', ['record', '-q', '-k', 'CLOCK_MONOTONIC', '-a', '-o', dataFile,
    '-e', 'sched:sched_process_fork', '-e', 'sched:sched_process_exec', '-e', 'sched:sched_process_exit'], { stdio: 'ignore' });
  await sleep(1500);
  const threads = fs.readdirSync(`/proc/${rt.daemonPid}/task`).map(Number);
  const marks: Mark[] = [];
  try {
    await lifecycle(rt, images, marks);
  } finally {
    await sleep(300);
    perf.kill('SIGINT');
    await new Promise((r) => perf.once('exit', r));
  }
  return timeline(rt, marks, descendants(threads, parsePerf(dataFile)));
}

async function main(): Promise<void> {
  await sweep();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-bench-trace-'));
  const registry = await startFixtureRegistry();
  const runtimes: BenchRuntime[] = [];
  try {
    const images = await pushImages(registry, { big: false });
    const opts = { registryHost: registry.host, pauseImage: images.pause.reference };
    runtimes.push(await startCradle(opts), await startContainerd(opts));
    const sections: string[] = [];
    for (const rt of runtimes) {
      await rt.cri.image.PullImage({ image: { image: images.busybox.reference } });
      await lifecycle(rt, images, []); // warm-up: pause image pulled, code paths warm
      sections.push(await traceOne(rt, images, work));
      await removeAllPods(rt.cri);
    }
    const md = [`# Process timeline of one pod lifecycle, ${new Date().toISOString()}`, '',
      'Children of each daemon that started during each RPC (perf sched tracepoints). Offsets from the RPC start; "lived" is fork to exit.', '',
      ...sections.flatMap((s) => [s, ''])].join('\n');
    console.log(md);
    const out = path.join(REPO_ROOT, 'bench', 'results', `${new Date().toISOString().slice(0, 10)}-cri-trace.md`);
    fs.writeFileSync(out, md);
    console.log(`wrote ${path.relative(REPO_ROOT, out)}`);
  } finally {
    for (const rt of runtimes.reverse()) await rt.stop().catch((err: unknown) => console.error(err));
    await registry.stop();
    fs.rmSync(work, { recursive: true, force: true });
    await sweep();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
