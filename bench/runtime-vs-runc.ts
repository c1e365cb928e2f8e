// create+start latency of cradle-runtime against runc on the same busybox bundle,
// interleaved, measured to the first byte the container writes (as the notes' Q4
// harness). Also: start through CradleRuntime's in-process fast path, and the Node
// init's memory while it waits in the created state.
// Usage (root): node dist/bench/runtime-vs-runc.js [iterations=10]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { cleanChildEnv } from '../src/common/child-env';
import { CRADLE_RUNTIME_BIN, CradleRuntime } from '../src/runtime/cradle-runtime';
import { defaultSpec, makeBusyboxRootfs, writeSpec } from '../test/helpers/rootfs';

const RUNC = '/usr/sbin/runc';
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

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-bench-rt-'));
  try {
    const bundle = path.join(dir, 'bundle');
    fs.mkdirSync(bundle);
    makeBusyboxRootfs(bundle);
    writeSpec(bundle, defaultSpec(['echo', 'MARK'], `/cradle-bench-rt-${process.pid}`));
    const root = path.join(dir, 'state');
    const results: Record<string, { create: number[]; total: number[] }> = { cradle: { create: [], total: [] }, 'cradle+inproc-start': { create: [], total: [] }, runc: { create: [], total: [] } };
    for (let i = 0; i < n; i++) {
      for (const [name, bin, inproc] of [['cradle', CRADLE_RUNTIME_BIN, false], ['cradle+inproc-start', CRADLE_RUNTIME_BIN, true], ['runc', RUNC, false]] as const) {
        const r = await once(bin, root, bundle, `bench-${i}-${name.replace(/\W/g, '')}`, inproc);
        results[name]!.create.push(r.create);
        results[name]!.total.push(r.total);
      }
    }
    console.log(`create+start to first container output, ms, median (min-max), n=${n}, interleaved`);
    for (const [name, r] of Object.entries(results)) console.log(`  ${name.padEnd(20)} create ${fmt(r.create)}   total ${fmt(r.total)}`);
    const ratio = median(results.cradle!.total) / median(results.runc!.total);
    const ratioFast = median(results['cradle+inproc-start']!.total) / median(results.runc!.total);
    console.log(`  ratio cradle/runc: ${ratio.toFixed(2)} (CLI start), ${ratioFast.toFixed(2)} (in-process start); budget 1.5`);

    // The Node init's footprint while it waits for start.
    const created = spawnSync(CRADLE_RUNTIME_BIN, ['--root', root, 'create', '--bundle', bundle, 'bench-mem'], { env: cleanChildEnv(), stdio: 'ignore' });
    if (created.status === 0) {
      const pid = Number(JSON.parse(spawnSync(CRADLE_RUNTIME_BIN, ['--root', root, 'state', 'bench-mem'], { env: cleanChildEnv(), encoding: 'utf8' }).stdout).pid);
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      const pick = (k: string) => /^(\w+):\s+(\d+ kB)/m.exec(status.split('\n').find((l) => l.startsWith(k)) ?? '')?.[2] ?? '?';
      const charged = fs.readFileSync(`/sys/fs/cgroup/memory/cradle-bench-rt-${process.pid}/memory.usage_in_bytes`, 'utf8').trim();
      console.log(`created-state Node init: VmHWM ${pick('VmHWM')}, VmRSS ${pick('VmRSS')}, threads ${/^Threads:\s+(\d+)/m.exec(status)?.[1]}, charged to the container's memory cgroup ${(Number(charged) / 1048576).toFixed(1)} MiB`);
      spawnSync(CRADLE_RUNTIME_BIN, ['--root', root, 'delete', '--force', 'bench-mem'], { env: cleanChildEnv(), stdio: 'ignore' });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
