// create+start latency of cradle-runtime (native launcher with a launch plan, and the
// Node create without one) against runc on the same busybox bundle, interleaved,
// measured to the first byte the container writes (as the notes' Q4 harness), and
// under conmon as cri-o runs it. Also: start through CradleRuntime's in-process fast
// path, and the init's memory while it waits in the created state.
// Usage (root): node dist/bench/runtime-vs-runc.js [iterations=10]
// Writes bench/results/<date>-runtime-vs-runc.md (the same lines, with the load average).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { cleanChildEnv } from '../src/common/child-env';
import { CRADLE_RUNTIME_BIN, CradleRuntime } from '../src/runtime/cradle-runtime';
import { defaultSpec, makeBusyboxRootfs, writeSpec } from '../test/helpers/rootfs';
import { writeLaunchPlan } from '../src/oci-runtime/launch-plan';
import { REPO_ROOT } from '../test/helpers/daemon';

const RUNC = '/usr/sbin/runc';
const report: string[] = [];

/** A line of the report: printed, and kept for the results file. */
function say(line: string): void {
  console.log(line);
  report.push(line);
}
const n = Number(process.argv[2] ?? 10);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function fmt(xs: number[]): string {
  return `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})`;
}

/** create, then start (CLI or in-process), resolved at the container's first stdout byte. */
async function once(bin: string, root: string, bundle: string, id: string, inProcessStart: boolean): Promise<{ create: number; total: number }> {
  const t0 = performance.now();
  let firstByte = 0;
  const child = spawn(bin, ['--root', root, 'create', '--bundle', bundle, id], { env: cleanChildEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  const out = new Promise<void>((resolve) => child.stdout!.once('data', () => { firstByte = performance.now(); resolve(); }));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`${bin} create failed`);
  const created = performance.now();
  if (inProcessStart) await new CradleRuntime({ binary: bin, root }).start(id);
  else spawnSync(bin, ['--root', root, 'start', id], { env: cleanChildEnv(), stdio: 'ignore' });
  await out;
  child.stdout!.destroy();
  spawnSync(bin, ['--root', root, 'delete', '--force', id], { env: cleanChildEnv(), stdio: 'ignore' });
  return { create: created - t0, total: firstByte - t0 };
}

const CONMON = '/usr/bin/conmon';

/** conmon as cri-o runs it, then `start`: ms to the pid on the sync pipe (create) and to start's return (total). */
async function onceConmon(bin: string, root: string, dir: string, bundle: string, id: string, inProcessStart: boolean): Promise<{ create: number; total: number }> {
  const d = path.join(dir, id);
  for (const sub of ['exits', 'persist', 'sock']) fs.mkdirSync(path.join(d, sub), { recursive: true });
  const t0 = performance.now();
  const child = spawn(CONMON, [
    '--api-version', '1', '-b', bundle, '-c', id, '-u', id, '-n', id, '--exit-dir', path.join(d, 'exits'),
    '-l', `k8s-file:${path.join(d, 'ctr.log')}`, '--log-level', 'error', '-P', path.join(d, 'conmon.pid'), '-p', path.join(d, 'pid'),
    '--persist-dir', path.join(d, 'persist'), '-r', bin, '--runtime-arg', `--root=${root}`, '--socket-dir-path', path.join(d, 'sock'),
  ], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'], env: cleanChildEnv({ _OCI_SYNCPIPE: '3' }) });
  const msg = await new Promise<string>((resolve) => {
    let buf = '';
    const sync = child.stdio[3] as NodeJS.ReadableStream;
    sync.on('data', (x: Buffer) => { buf += x.toString(); if (buf.includes('}')) resolve(buf); });
    sync.on('close', () => resolve(buf));
  });
  const created = performance.now();
  if (!/"data":\s*[1-9]/.test(msg)) throw new Error(`conmon create with ${bin} failed: ${msg}`);
  if (inProcessStart) await new CradleRuntime({ binary: bin, root }).start(id);
  else spawnSync(bin, ['--root', root, 'start', id], { env: cleanChildEnv(), stdio: 'ignore' });
  const total = performance.now() - t0;
  (child.stdio[3] as NodeJS.ReadableStream & { destroy(): void }).destroy();
  // conmon exits with the container (echo): wait for its exit file before deleting.
  for (let i = 0; i < 500 && !fs.existsSync(path.join(d, 'exits', id)); i++) await new Promise((r) => setTimeout(r, 2));
  spawnSync(bin, ['--root', root, 'delete', '--force', id], { env: cleanChildEnv(), stdio: 'ignore' });
  return { create: created - t0, total };
}

/** One bundle per container (conmon writes into it), sharing one rootfs. */
function bundleFor(dir: string, rootfs: string, id: string, cgroupsPath: string): string {
  const b = path.join(dir, 'bundles', id);
  fs.mkdirSync(b, { recursive: true });
  const spec = defaultSpec(['echo', 'MARK'], cgroupsPath);
  spec.root = { path: rootfs, readonly: true };
  writeSpec(b, spec);
  return b;
}

type Variant = { name: string; bin: string; plan: boolean; inproc?: boolean; conmon?: boolean };

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-bench-rt-'));
  try {
    const base = path.join(dir, 'base');
    fs.mkdirSync(base);
    const rootfs = makeBusyboxRootfs(base);
    const cgroupsPath = `/cradle-bench-rt-${process.pid}`;
    const root = path.join(dir, 'state');
    const variants: Variant[] = [
      { name: 'cradle native', bin: CRADLE_RUNTIME_BIN, plan: true },
      { name: 'cradle native+inproc', bin: CRADLE_RUNTIME_BIN, plan: true, inproc: true },
      { name: 'cradle node', bin: CRADLE_RUNTIME_BIN, plan: false },
      { name: 'runc', bin: RUNC, plan: false },
      { name: 'conmon+cradle native', bin: CRADLE_RUNTIME_BIN, plan: true, conmon: true },
      { name: 'conmon+native+inproc', bin: CRADLE_RUNTIME_BIN, plan: true, conmon: true, inproc: true },
      { name: 'conmon+runc', bin: RUNC, plan: false, conmon: true },
    ];
    const results: Record<string, { create: number[]; total: number[] }> = Object.fromEntries(variants.map((v) => [v.name, { create: [], total: [] }]));
    const planMs: number[] = [];
    for (let i = 0; i < n; i++) {
      for (const v of variants) {
        const id = `bench-${i}-${v.name.replace(/\W/g, '')}`;
        const bundle = bundleFor(dir, rootfs, id, cgroupsPath);
        if (v.plan) {
          // What cradled does when it writes a bundle; outside the create+start timing.
          const t = performance.now();
          if (!writeLaunchPlan(bundle, id)) throw new Error('no launch plan for the bench bundle');
          planMs.push(performance.now() - t);
        }
        const r = v.conmon ? await onceConmon(v.bin, root, dir, bundle, id, v.inproc ?? false) : await once(v.bin, root, bundle, id, v.inproc ?? false);
        results[v.name]!.create.push(r.create);
        results[v.name]!.total.push(r.total);
      }
    }
    say(`create+start, ms, median (min-max), n=${n}, interleaved; direct: to the first container output; conmon: to start's return`);
    for (const [name, r] of Object.entries(results)) say(`  ${name.padEnd(22)} create ${fmt(r.create)}   total ${fmt(r.total)}`);
    const ratio = (a: string, b: string): string => (median(results[a]!.total) / median(results[b]!.total)).toFixed(2);
    say(`  ratio to runc: native ${ratio('cradle native', 'runc')}, native+in-process start ${ratio('cradle native+inproc', 'runc')}, node ${ratio('cradle node', 'runc')}; under conmon: native ${ratio('conmon+cradle native', 'conmon+runc')}, native+in-process start (cradled's path) ${ratio('conmon+native+inproc', 'conmon+runc')}`);
    const createRatio = (a: string, b: string): string => (median(results[a]!.create) / median(results[b]!.create)).toFixed(2);
    say(`  create alone, ratio to runc: native ${createRatio('cradle native', 'runc')}, node ${createRatio('cradle node', 'runc')}; under conmon: native ${createRatio('conmon+cradle native', 'conmon+runc')}`);
    say(`  writeLaunchPlan (in the caller, before create): ${fmt(planMs)}`);

    // The init's footprint while it waits for start, native and Node.
    for (const plan of [true, false]) {
      const id = `bench-mem-${plan ? 'native' : 'node'}`;
      const bundle = bundleFor(dir, rootfs, id, cgroupsPath);
      if (plan) writeLaunchPlan(bundle, id);
      const created = spawnSync(CRADLE_RUNTIME_BIN, ['--root', root, 'create', '--bundle', bundle, id], { env: cleanChildEnv(), stdio: 'ignore' });
      if (created.status !== 0) continue;
      const pid = Number(JSON.parse(spawnSync(CRADLE_RUNTIME_BIN, ['--root', root, 'state', id], { env: cleanChildEnv(), encoding: 'utf8' }).stdout).pid);
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      const pick = (k: string) => /^(\w+):\s+(\d+ kB)/m.exec(status.split('\n').find((l) => l.startsWith(k)) ?? '')?.[2] ?? '?';
      const charged = fs.readFileSync(`/sys/fs/cgroup/memory${cgroupsPath}/memory.usage_in_bytes`, 'utf8').trim();
      say(`created-state ${plan ? 'native' : 'Node'} init: VmHWM ${pick('VmHWM')}, VmRSS ${pick('VmRSS')}, threads ${/^Threads:\s+(\d+)/m.exec(status)?.[1]}, charged to the container's memory cgroup ${(Number(charged) / 1048576).toFixed(2)} MiB`);
      spawnSync(CRADLE_RUNTIME_BIN, ['--root', root, 'delete', '--force', id], { env: cleanChildEnv(), stdio: 'ignore' });
    }
    const out = path.join(REPO_ROOT, 'bench', 'results', `${new Date().toISOString().slice(0, 10)}-runtime-vs-runc.md`);
    fs.writeFileSync(out, [`# cradle-runtime against runc, ${new Date().toISOString()}`, '',
      `${os.cpus().length} CPUs, Linux ${os.release()}; load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.`, '',
      '```', ...report, '```', ''].join('\n'));
    console.log(`wrote ${path.relative(REPO_ROOT, out)}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
