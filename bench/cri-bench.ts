// cradle against the reference containerd 1.6 (+ runc), through the same CRI
// client, interleaved on the same machine: latency of each pod/container RPC,
// a cold pull of a ~100 MB image, 10 pods started at once, and N pods held
// (memory of the daemon and of the per-pod helpers, List* latency, CPU of exec
// probes). Prints the table and writes bench/results/<date>-cri-bench.{json,md}.
//
// Run (root): npm run build && ./node_modules/.bin/node dist/bench/cri-bench.js [--rounds N] [--quick] [--full] [--pods N] [--cpu-prof]
// See docs/benchmarks.md.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { startFixtureRegistry } from '../test/helpers/registry';
import { pushImages, type Images } from './lib/images';
import { formatProfile, summarizeProfile } from './lib/cpuprofile';
import { REPO_ROOT } from '../test/helpers/daemon';
import type { PodSandboxConfig } from '../src/generated/runtime/v1/PodSandboxConfig';
import type { ContainerConfig } from '../src/generated/runtime/v1/ContainerConfig';
import { cpuTimeOf, memoryMapOf, memoryOf, sumMemory } from './lib/procfs';
import { mapLimit, sleep, timed } from './lib/stats';
import {
  CGROUP_PARENT, removeAllPods, startContainerd, startCradle, sweep,
  type BenchRuntime, type RuntimeName,
} from './lib/runtimes';
import { errorList, machineFacts, markdownTable, summarize, type Unit, type WorkloadResult } from './lib/report';

// ---- options -----------------------------------------------------------------

interface Options {
  rounds: number;
  concurrentRounds: number;
  pods: number;
  probes: boolean;
  quick: boolean;
  cpuProf: boolean;
  /** Only the cold pulls (no pod workloads). */
  pullsOnly: boolean;
}

function parseOptions(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const full = argv.includes('--full');
  const valueOf = (flag: string): number | undefined => {
    const i = argv.indexOf(flag);
    if (i < 0) return undefined;
    const n = Number(argv[i + 1]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, not ${argv[i + 1]}`);
    return n;
  };
  const known = new Set(['--rounds', '--quick', '--full', '--pods', '--cpu-prof', '--pulls']);
  for (const [i, a] of argv.entries()) {
    if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a}; usage: cri-bench [--rounds N] [--quick] [--full] [--pods N] [--cpu-prof] [--pulls]`);
    if (!a.startsWith('--') && !['--rounds', '--pods'].includes(argv[i - 1] ?? '')) throw new Error(`unexpected argument ${a}`);
  }
  return {
    rounds: valueOf('--rounds') ?? (quick ? 3 : 10),
    concurrentRounds: quick ? 1 : 3,
    pods: valueOf('--pods') ?? (full ? 110 : 20),
    probes: !quick,
    quick,
    cpuProf: argv.includes('--cpu-prof'),
    pullsOnly: argv.includes('--pulls'),
  };
}

// ---- results -----------------------------------------------------------------

class StepFailed extends Error {}
class Aborted extends Error {}

/** Set by SIGINT/SIGTERM: every step and loop stops at its next check. */
let aborted = false;
function checkAbort(): void {
  if (aborted) throw new Aborted('interrupted');
}

class Results {
  readonly workloads = new Map<string, WorkloadResult>();
  /** Disabled during warm-up. */
  recording = true;

  define(key: string, unit: Unit, target?: number, note?: string): void {
    const w: WorkloadResult = { key, unit, samples: { cradle: [], containerd: [] }, errors: { cradle: {}, containerd: {} } };
    if (target !== undefined) w.target = target;
    if (note) w.note = note;
    this.workloads.set(key, w);
  }

  add(key: string, rt: RuntimeName, value: number): void {
    if (this.recording) this.get(key).samples[rt].push(value);
  }

  fail(key: string, rt: RuntimeName, request: string, err: unknown): void {
    const e = err as Partial<grpc.ServiceError>;
    const message = `${request}: ${e.code !== undefined ? `gRPC ${e.code} ` : ''}${e.details ?? (err as Error).message ?? String(err)}`.slice(0, 400);
    console.error(`  ${rt} ${key} failed: ${message}`);
    const errors = this.get(key).errors[rt];
    errors[message] = (errors[message] ?? 0) + 1;
  }

  private get(key: string): WorkloadResult {
    const w = this.workloads.get(key);
    if (!w) throw new Error(`undefined workload ${key}`);
    return w;
  }
}

const W = {
  run: 'RunPodSandbox',
  create: 'CreateContainer',
  start: 'StartContainer',
  createStart: 'create+start',
  exec: 'ExecSync `true`',
  stopKill: 'StopContainer (sleep, timeout 0)',
  stopTerm: 'StopContainer (exits on TERM, timeout 10)',
  remove: 'RemoveContainer',
  stopPod: 'StopPodSandbox',
  removePod: 'RemovePodSandbox',
  pull: 'PullImage ~100 MB 3 layers, cold',
  pull20: 'PullImage ~100 MB 20 layers, cold',
  concWall: '10 concurrent pods: wall',
  concPer: '10 concurrent pods: per pod',
} as const;

function defineWorkloads(results: Results, pods: number): Record<string, string> {
  // Targets: issue 20's (the native launcher) where it sets one, else issue 12's (pull, daemon RSS).
  results.define(W.run, 'ms', 0.35);
  results.define(W.create, 'ms');
  results.define(W.start, 'ms');
  results.define(W.createStart, 'ms', 0.4);
  results.define(W.exec, 'ms', 0.5);
  results.define(W.stopKill, 'ms');
  results.define(W.stopTerm, 'ms');
  results.define(W.remove, 'ms');
  results.define(W.stopPod, 'ms');
  results.define(W.removePod, 'ms');
  results.define(W.pull, 'ms', 0.8);
  results.define(W.pull20, 'ms', 0.8);
  results.define(W.concWall, 'ms', 0.5, 'a pod = RunPodSandbox + CreateContainer + StartContainer of one sleep container');
  results.define(W.concPer, 'ms');
  const d = {
    daemonIdle: 'daemon RSS, no pods (after the rounds above)',
    daemonRss: `daemon RSS at ${pods} pods`,
    daemonRssSettled: `daemon RSS at ${pods} pods, ≥ 90 s after the last pull`,
    daemonPss: `daemon PSS at ${pods} pods`,
    daemonAnon: `daemon anonymous memory at ${pods} pods`,
    helperRss: `helpers RSS per pod at ${pods} pods`,
    helperPss: `helpers PSS per pod at ${pods} pods`,
    helperCount: `helper processes at ${pods} pods`,
    lingering: `cradle-runtime processes left at ${pods} pods`,
    listPods: `ListPodSandbox at ${pods} pods`,
    listContainers: `ListContainers at ${pods} pods`,
    probe: `ExecSync probe at ${pods} pods`,
    probeCpu: `daemon CPU, probes every 10 s on ${pods} pods`,
    probeCpuAll: `daemon + helpers CPU, probes on ${pods} pods`,
  };
  results.define(d.daemonIdle, 'MB');
  results.define(d.daemonRss, 'MB', 1.0);
  results.define(d.daemonRssSettled, 'MB', undefined, 'the same pods, once both daemons had time to give back what their pulls took');
  results.define(d.daemonPss, 'MB');
  results.define(d.daemonAnon, 'MB', undefined, 'heap and stacks: RSS minus the mapped program and libraries');
  results.define(d.helperRss, 'MB');
  results.define(d.helperPss, 'MB', 0.5, 'conmon processes (cradle: pause + container) and the idle exec helper vs containerd-shim-runc-v2 (one per pod)');
  results.define(d.helperCount, 'count');
  results.define(d.lingering, 'count');
  results.define(d.listPods, 'ms');
  results.define(d.listContainers, 'ms');
  results.define(d.probe, 'ms');
  results.define(d.probeCpu, '%', undefined, '% of one core over the probe window, daemon process only');
  results.define(d.probeCpuAll, '%', 1.0, 'daemon and helpers, including children they reaped (conmon -e, runc exec)');
  return d;
}

// ---- workloads ---------------------------------------------------------------

let podCounter = 0;

function podConfig(rt: BenchRuntime, tag: string): PodSandboxConfig {
  const name = `${tag}-${++podCounter}`;
  const logDirectory = path.join(rt.logRoot, name);
  fs.mkdirSync(logDirectory, { recursive: true });
  return {
    metadata: { name, namespace: 'cradle-bench', uid: `uid-${rt.name}-${name}-${process.pid}`, attempt: 0 },
    hostname: name,
    logDirectory,
    labels: { bench: tag },
    linux: { cgroupParent: CGROUP_PARENT },
  };
}

function containerConfig(images: Images, name: string, command: string[]): ContainerConfig {
  return { metadata: { name, attempt: 0 }, image: { image: images.busybox.reference }, command, logPath: `${name}.log`, labels: { container: name } };
}

const SLEEP = ['sleep', '3600'];
// Exits 0 on SIGTERM: `wait` returns at once when the trap fires. /tmp/ready says the trap is set.
const TERM_AWARE = ['sh', '-c', 'trap "exit 0" TERM; touch /tmp/ready; sleep 3600 & wait'];

interface Ctx {
  results: Results;
  images: Images;
  opts: Options;
  d: Record<string, string>;
  /** When each runtime's last pull ended (performance.now()). */
  lastPull: Partial<Record<RuntimeName, number>>;
}

/**
 * Both daemons give a pull's memory back with a delay: cradle's idle pull workers
 * release it after 10 s and exit after 60 s; Go's scavenger returns freed heap
 * gradually. The settled reading waits this long after the runtime's last pull.
 */
const SETTLE_AFTER_PULL_MS = 90_000;

/** Times one CRI call into workload `key`; a failure is recorded and aborts the caller's sequence. */
async function step<T>(ctx: Ctx, key: string, rt: BenchRuntime, request: string, fn: () => Promise<T>): Promise<T> {
  checkAbort();
  try {
    const { value, ms } = await timed(fn);
    ctx.results.add(key, rt.name, ms);
    return value;
  } catch (err) {
    checkAbort();
    ctx.results.fail(key, rt.name, request, err);
    throw new StepFailed(request);
  }
}

async function waitForFile(rt: BenchRuntime, containerId: string, file: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const r = await rt.cri.runtime.ExecSync({ containerId, cmd: ['test', '-f', file], timeout: 5 });
    if (r.exitCode === 0) return;
    await sleep(20);
  }
  throw new Error(`${file} did not appear in container ${containerId}`);
}

/** One pass of the single-pod lifecycle: every RPC timed on its own. */
async function lifecycleRound(ctx: Ctx, rt: BenchRuntime): Promise<void> {
  const cri = rt.cri.runtime;
  const config = podConfig(rt, 'life');
  try {
    const { podSandboxId } = await step(ctx, W.run, rt, 'RunPodSandbox', () => cri.RunPodSandbox({ config }));
    const { containerId } = await step(ctx, W.create, rt, 'CreateContainer', () =>
      cri.CreateContainer({ podSandboxId, config: containerConfig(ctx.images, 'sleeper', SLEEP), sandboxConfig: config }));
    await step(ctx, W.start, rt, 'StartContainer', () => cri.StartContainer({ containerId }));
    for (let i = 0; i < 3; i++) {
      await step(ctx, W.exec, rt, 'ExecSync', async () => {
        const r = await cri.ExecSync({ containerId, cmd: ['true'], timeout: 10 });
        if (r.exitCode !== 0) throw new Error(`exit code ${r.exitCode}: ${r.stderr.toString()}`);
      });
    }
    await step(ctx, W.stopKill, rt, 'StopContainer', () => cri.StopContainer({ containerId, timeout: 0 }));
    await step(ctx, W.remove, rt, 'RemoveContainer', () => cri.RemoveContainer({ containerId }));

    const second = await step(ctx, W.createStart, rt, 'CreateContainer+StartContainer', async () => {
      const created = await cri.CreateContainer({ podSandboxId, config: containerConfig(ctx.images, 'term-aware', TERM_AWARE), sandboxConfig: config });
      await cri.StartContainer({ containerId: created.containerId });
      return created.containerId;
    });
    await waitForFile(rt, second, '/tmp/ready');
    await step(ctx, W.stopTerm, rt, 'StopContainer', async () => {
      await cri.StopContainer({ containerId: second, timeout: 10 });
    });
    await step(ctx, W.remove, rt, 'RemoveContainer', () => cri.RemoveContainer({ containerId: second }));
    await step(ctx, W.stopPod, rt, 'StopPodSandbox', () => cri.StopPodSandbox({ podSandboxId }));
    await step(ctx, W.removePod, rt, 'RemovePodSandbox', () => cri.RemovePodSandbox({ podSandboxId }));
  } catch (err) {
    checkAbort();
    if (!(err instanceof StepFailed)) ctx.results.fail(W.run, rt.name, 'lifecycle round (harness)', err);
    await removeAllPods(rt.cri);
  }
}

async function removeImageIfPresent(rt: BenchRuntime, ref: string): Promise<void> {
  const status = await rt.cri.image.ImageStatus({ image: { image: ref } });
  if (status.image) await rt.cri.image.RemoveImage({ image: { image: ref } }, { timeoutMs: 120_000 });
  if ((await rt.cri.image.ImageStatus({ image: { image: ref } })).image) throw new Error(`${ref} still present after RemoveImage`);
}

async function pullRound(ctx: Ctx, rt: BenchRuntime): Promise<void> {
  for (const [workload, image] of [[W.pull, ctx.images.big!], [W.pull20, ctx.images.layered!]] as const) {
    const ref = image.reference;
    try {
      await removeImageIfPresent(rt, ref);
      await step(ctx, workload, rt, 'PullImage', () => rt.cri.image.PullImage({ image: { image: ref } }, { timeoutMs: 300_000 }));
      ctx.lastPull[rt.name] = performance.now();
      await removeImageIfPresent(rt, ref);
    } catch (err) {
      checkAbort();
      if (!(err instanceof StepFailed)) ctx.results.fail(workload, rt.name, 'RemoveImage/ImageStatus (harness)', err);
    }
  }
}

/** Starts one pod with one sleep container. */
async function startPod(ctx: Ctx, rt: BenchRuntime, tag: string): Promise<{ podSandboxId: string; containerId: string }> {
  const config = podConfig(rt, tag);
  const { podSandboxId } = await rt.cri.runtime.RunPodSandbox({ config }, { timeoutMs: 120_000 });
  const { containerId } = await rt.cri.runtime.CreateContainer({ podSandboxId, config: containerConfig(ctx.images, 'sleeper', SLEEP), sandboxConfig: config }, { timeoutMs: 120_000 });
  await rt.cri.runtime.StartContainer({ containerId }, { timeoutMs: 120_000 });
  return { podSandboxId, containerId };
}

async function concurrentRound(ctx: Ctx, rt: BenchRuntime): Promise<void> {
  checkAbort();
  const t0 = performance.now();
  const outcomes = await Promise.allSettled(Array.from({ length: 10 }, async () => {
    const { ms } = await timed(() => startPod(ctx, rt, 'conc'));
    return ms;
  }));
  const wall = performance.now() - t0;
  checkAbort();
  let failed = false;
  for (const o of outcomes) {
    if (o.status === 'fulfilled') ctx.results.add(W.concPer, rt.name, o.value);
    else {
      failed = true;
      ctx.results.fail(W.concWall, rt.name, 'RunPodSandbox/CreateContainer/StartContainer', o.reason);
    }
  }
  if (!failed) ctx.results.add(W.concWall, rt.name, wall);
  const problems = await removeAllPods(rt.cri);
  for (const p of problems) ctx.results.fail(W.concWall, rt.name, 'cleanup StopPodSandbox/RemovePodSandbox', new Error(p));
}

const MB = 1024 * 1024;

/** N pods with one sleep container each: memory, List* latency, exec probes' CPU. */
async function densityRun(ctx: Ctx, rt: BenchRuntime): Promise<void> {
  const { d, opts, results } = ctx;
  const n = opts.pods;
  results.add(d.daemonIdle!, rt.name, memoryOf(rt.daemonPid).rss / MB);
  const t0 = performance.now();
  const started: { podSandboxId: string; containerId: string }[] = [];
  try {
    await mapLimit(Array.from({ length: n }), 4, async () => {
      checkAbort();
      started.push(await startPod(ctx, rt, 'held'));
    });
  } catch (err) {
    checkAbort();
    results.fail(d.daemonRss!, rt.name, `starting ${n} pods (${started.length} started)`, err);
    await removeAllPods(rt.cri);
    return;
  }
  console.log(`  ${rt.name}: ${n} pods started in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await sleep(3000);
  for (let i = 0; i < 3; i++) {
    const daemon = memoryOf(rt.daemonPid);
    const helpers = rt.helpers();
    const helperMem = sumMemory(helpers.map((p) => p.pid));
    results.add(d.daemonRss!, rt.name, daemon.rss / MB);
    results.add(d.daemonPss!, rt.name, daemon.pss / MB);
    results.add(d.daemonAnon!, rt.name, daemon.anon / MB);
    results.add(d.helperRss!, rt.name, helperMem.rss / MB / n);
    results.add(d.helperPss!, rt.name, helperMem.pss / MB / n);
    results.add(d.helperCount!, rt.name, helpers.length);
    results.add(d.lingering!, rt.name, rt.lingering().length);
    await sleep(1000);
  }
  const map = memoryMapOf(rt.daemonPid);
  const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
  console.log(`  ${rt.name} daemon at ${n} pods, resident: program file ${mb(map.program)}, other files ${mb(map.files)}, brk heap ${mb(map.brkHeap)}, other anonymous ${mb(map.anonymous)} (${map.mappings} mappings)`);
  checkAbort();
  for (let i = 0; i < 20; i++) {
    await step(ctx, d.listPods!, rt, 'ListPodSandbox', () => rt.cri.runtime.ListPodSandbox({})).catch(() => undefined);
    await step(ctx, d.listContainers!, rt, 'ListContainers', () => rt.cri.runtime.ListContainers({})).catch(() => undefined);
  }
  if (opts.probes) await probeRun(ctx, rt, started.map((s) => s.containerId));
  const settled = (ctx.lastPull[rt.name] ?? 0) + SETTLE_AFTER_PULL_MS - performance.now();
  if (settled > 0) {
    console.log(`  ${rt.name}: waiting ${(settled / 1000).toFixed(0)} s until ${SETTLE_AFTER_PULL_MS / 1000} s after its last pull`);
    await sleep(settled);
  }
  checkAbort();
  results.add(d.daemonRssSettled!, rt.name, memoryOf(rt.daemonPid).rss / MB);
  const problems = await removeAllPods(rt.cri);
  for (const p of problems) results.fail(d.daemonRss!, rt.name, 'cleanup StopPodSandbox/RemovePodSandbox', new Error(p));
}

/** Kubelet-like exec probes: every container probed every 10 s, spread over the period, for 3 periods. */
async function probeRun(ctx: Ctx, rt: BenchRuntime, containerIds: string[]): Promise<void> {
  const { d, results } = ctx;
  const period = 10_000;
  const periods = 3;
  const helpers = rt.helpers().map((p) => p.pid);
  const cpu = () => {
    const daemon = cpuTimeOf(rt.daemonPid);
    const helperCpu = helpers.map(cpuTimeOf).reduce((a, b) => a + b.self + b.children, 0);
    return { daemon: daemon.self, all: daemon.self + daemon.children + helperCpu };
  };
  const before = cpu();
  const t0 = performance.now();
  await Promise.all(containerIds.map(async (containerId, i) => {
    await sleep((i * period) / containerIds.length);
    for (let k = 0; k < periods; k++) {
      const due = t0 + (i * period) / containerIds.length + k * period;
      await sleep(Math.max(0, due - performance.now()));
      if (aborted) return;
      await step(ctx, d.probe!, rt, 'ExecSync (probe)', async () => {
        const r = await rt.cri.runtime.ExecSync({ containerId, cmd: ['true'], timeout: 5 });
        if (r.exitCode !== 0) throw new Error(`exit code ${r.exitCode}`);
      }).catch(() => undefined);
    }
  }));
  const windowMs = performance.now() - t0;
  const after = cpu();
  results.add(d.probeCpu!, rt.name, ((after.daemon - before.daemon) / windowMs) * 100);
  results.add(d.probeCpuAll!, rt.name, ((after.all - before.all) / windowMs) * 100);
}

// ---- main --------------------------------------------------------------------

const cleanups: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | undefined;

function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        console.error(`cleanup: ${(err as Error).message}`);
      }
    }
    // Whatever the daemons could not remove (they died, or pods were still starting).
    await sweep();
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (aborted) return;
    aborted = true;
    console.error(`\n${signal}: cleaning up (pods, daemons, bridges, mounts)…`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

function orderFor(round: number, runtimes: Record<RuntimeName, BenchRuntime>): BenchRuntime[] {
  return round % 2 === 0 ? [runtimes.cradle, runtimes.containerd] : [runtimes.containerd, runtimes.cradle];
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('cri-bench needs root (namespaces, mounts, cgroups, bridges)');
  const facts = machineFacts();
  const startedAt = performance.now();
  const what = opts.pullsOnly ? 'cold pulls only' : `${opts.concurrentRounds} concurrent-pod rounds, ${opts.pods} pods held${opts.probes ? ', exec probes' : ''}`;
  console.log(`cri-bench: ${opts.rounds} rounds, ${what}; load average ${facts.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}`);

  await sweep();
  const results = new Results();
  const d = defineWorkloads(results, opts.pods);

  const registry = await startFixtureRegistry();
  cleanups.push(() => registry.stop());
  const t0 = performance.now();
  const images = await pushImages(registry);
  const big = images.big!;
  const bigSize = big.layers.reduce((s, l) => s + l.size, 0);
  console.log(`fixture registry ${registry.host}: pause, busybox, big (${big.layers.length} layers, ${(bigSize / 1e6).toFixed(1)} MB compressed) pushed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const profDir = opts.cpuProf ? fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-cpuprof-')) : undefined;
  const startOpts = { registryHost: registry.host, pauseImage: images.pause.reference, ...(profDir ? { cpuProfDir: profDir } : {}) };
  const cradle = await startCradle(startOpts);
  cleanups.push(() => cradle.stop());
  const containerd = await startContainerd(startOpts);
  cleanups.push(() => containerd.stop());
  const runtimes: Record<RuntimeName, BenchRuntime> = { cradle, containerd };
  const ctx: Ctx = { results, images, opts, d, lastPull: {} };

  // Warm-up (not recorded): busybox pulled, pause image pulled by the first pod, connections and JITs warm.
  results.recording = false;
  for (const rt of [cradle, containerd]) {
    await rt.cri.image.PullImage({ image: { image: images.busybox.reference } });
    await lifecycleRound(ctx, rt);
  }
  results.recording = true;

  console.log(opts.pullsOnly ? 'cold pulls…' : 'single-pod lifecycle and cold pulls…');
  for (let r = 0; r < opts.rounds; r++) {
    if (!opts.pullsOnly) for (const rt of orderFor(r, runtimes)) await lifecycleRound(ctx, rt);
    for (const rt of orderFor(r, runtimes)) await pullRound(ctx, rt);
    checkAbort();
    process.stdout.write(`  round ${r + 1}/${opts.rounds}\n`);
  }
  if (!opts.pullsOnly) {
    console.log('10 pods started concurrently…');
    for (let r = 0; r < opts.concurrentRounds; r++) {
      for (const rt of orderFor(r, runtimes)) await concurrentRound(ctx, rt);
    }
    console.log(`${opts.pods} pods held${opts.probes ? ', then exec probes every 10 s for 30 s' : ''}…`);
    for (const rt of [cradle, containerd]) await densityRun(ctx, rt);
  }

  checkAbort();
  // A --pulls run leaves the pod workloads without samples: not rows of its table.
  const rows = [...results.workloads.values()].filter((w) => !opts.pullsOnly || w.samples.cradle.length + w.samples.containerd.length > 0).map(summarize);
  const table = markdownTable(rows);
  const errors = errorList(rows);
  const totalSeconds = (performance.now() - startedAt) / 1000;
  const loadAtEnd = os.loadavg();
  console.log(`\n${table}\n`);
  if (errors.length) console.log(`Failures:\n${errors.join('\n')}\n`);

  const day = facts.date.slice(0, 10);
  // A profiled run is slower, and other pod counts answer other questions: their own files.
  const base = `${day}-cri-bench${opts.pullsOnly ? '-pulls' : opts.pods !== 20 ? `-${opts.pods}pods` : ''}${opts.cpuProf ? '-cpuprof' : ''}`;
  const outDir = path.join(REPO_ROOT, 'bench', 'results');
  fs.mkdirSync(outDir, { recursive: true });
  const json = {
    machine: { ...facts, loadAverageAtEnd: loadAtEnd },
    options: opts,
    durationSeconds: Math.round(totalSeconds),
    images: { big: { reference: big.reference, layers: big.layers.map((l) => ({ digest: l.digest, size: l.size })) } },
    rows,
    raw: [...results.workloads.values()],
    ...(profDir ? { cpuProfileDir: profDir } : {}),
  };
  fs.writeFileSync(path.join(outDir, `${base}.json`), `${JSON.stringify(json, null, 2)}\n`);
  const versions = Object.entries(facts.versions).map(([k, v]) => (v.toLowerCase().startsWith(k.toLowerCase()) ? v : `${k} ${v}`)).join('; ');
  const md = [
    `# CRI benchmark, ${facts.date}`,
    '',
    `Machine: ${facts.nproc} CPUs, ${(facts.memoryTotalMB / 1024).toFixed(1)} GiB, ${facts.kernel}, cgroup ${facts.cgroup}. Load average at start ${facts.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}, at end ${loadAtEnd.map((l) => l.toFixed(2)).join(' ')} (shared machine: other work ran alongside; expect ±20 %).`,
    '',
    `Versions: ${versions}.`,
    '',
    `Options: ${opts.rounds} rounds (interleaved, alternating which runtime goes first)${opts.pullsOnly ? ', cold pulls only' : `, ${opts.concurrentRounds} rounds of 10 concurrent pods, ${opts.pods} pods held${opts.probes ? ', exec probes' : ''}`}. Total ${Math.round(totalSeconds)} s. Latencies are client-side (same CriClient), medians and p90 (nearest rank); ratios compare medians.`,
    '',
    table,
    '',
    ...(errors.length ? ['Failures:', '', ...errors, ''] : []),
  ].join('\n');
  fs.writeFileSync(path.join(outDir, `${base}.md`), md);
  console.log(`wrote bench/results/${base}.{json,md} (${Math.round(totalSeconds)} s)`);
  if (profDir) {
    await cleanupAll(); // cradled writes its profile when it exits
    const profiles = fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    const text = profiles.map((f) => formatProfile(summarizeProfile(path.join(profDir, f), REPO_ROOT, 25))).join('\n\n');
    console.log(`\ncradled CPU profile (${profDir}):\n${text}`);
    fs.appendFileSync(path.join(outDir, `${base}.md`), `\n## cradled CPU profile (node --cpu-prof, whole run)\n\n\`\`\`\n${text}\n\`\`\`\n`);
  }
}

main()
  .catch((err: unknown) => {
    if (err instanceof Aborted) return;
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
