// How a large image pull affects the daemon's answers to other RPCs: latency of
// Version and ListPodSandbox on a real cradled, idle and while PullImage runs (a
// gzip image from the fixture registry on 127.0.0.1, ~17 MB per layer, 6 layers by
// default: ~100 MB). Whatever CPU work of the pull stays on the main thread shows up here.
// Run: npm run build && ./node_modules/.bin/node dist/bench/pull-rpc-latency.js [layers]
import { randomBytes } from 'node:crypto';
import { startFixtureRegistry } from '../test/helpers/registry';
import { entry, pushImage, type LayerEntry } from '../test/helpers/image-builder';
import { allowInsecureRegistry, makeTempDirs, startCradled } from '../test/helpers/daemon';
import { cpuTimeOf, memoryOf, threadCpuTimeOf } from './lib/procfs';

function layerEntries(seed: number): LayerEntry[] {
  const entries: LayerEntry[] = [entry.dir(`l${seed}`)];
  for (let i = 0; i < 64; i++) {
    const noise = randomBytes(256 << 10);
    const text = Buffer.from(`cradle bench layer ${seed} file ${i} `.repeat(7000)).subarray(0, 256 << 10);
    entries.push(entry.file(`l${seed}/f${i}`, Buffer.concat([noise, text])));
  }
  return entries;
}

function summary(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(2);
  return `n=${s.length} p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${s[s.length - 1]!.toFixed(2)} ms`;
}

async function main(): Promise<void> {
  const registry = await startFixtureRegistry();
  const dirs = makeTempDirs('cradle-bench-');
  allowInsecureRegistry(dirs, registry.host);
  const daemon = await startCradled({}, dirs);
  try {
    const layerCount = Number(process.argv[2] ?? 6);
    const seeds = Array.from({ length: layerCount }, (_, i) => i);
    const pushed = await pushImage(registry, 'bench/big:v1', { layers: seeds.map((seed) => ({ entries: layerEntries(seed) })) });
    const mb = pushed.layers.reduce((sum, l) => sum + l.size, 0) / 1e6;
    const cri = daemon.client();
    const sample = async (until: () => boolean, minMs: number) => {
      const version: number[] = [];
      const list: number[] = [];
      const start = performance.now();
      while (!until() || performance.now() - start < minMs) {
        let t0 = performance.now();
        await cri.runtime.Version({});
        version.push(performance.now() - t0);
        t0 = performance.now();
        await cri.runtime.ListPodSandbox({});
        list.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 2));
        if (until() && performance.now() - start >= minMs) break;
      }
      return { version, list };
    };
    const idle = await sample(() => true, 3000);
    let done = false;
    const pid = daemon.proc.pid!;
    const rssBefore = memoryOf(pid);
    const cpu0 = { main: threadCpuTimeOf(pid, pid), all: cpuTimeOf(pid).self };
    const t0 = performance.now();
    const pull = cri.image.PullImage({ image: { image: pushed.reference } }).finally(() => { done = true; });
    const busy = await sample(() => done, 0);
    await pull;
    const cpu = { main: threadCpuTimeOf(pid, pid) - cpu0.main, all: cpuTimeOf(pid).self - cpu0.all };
    const rssAfter = memoryOf(pid);
    // Pull workers exit after 1 s idle.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const rssSettled = memoryOf(pid);
    console.log(`image: ${layerCount} layers, ${mb.toFixed(1)} MB compressed; pull took ${(performance.now() - t0).toFixed(0)} ms`);
    console.log(`idle:        Version ${summary(idle.version)}; ListPodSandbox ${summary(idle.list)}`);
    console.log(`during pull: Version ${summary(busy.version)}; ListPodSandbox ${summary(busy.list)}`);
    // Independent of other load on the machine: how much of the pull's CPU work the RPC-serving thread did.
    const mib = (bytes: number) => (bytes / 1048576).toFixed(0);
    console.log(`cradled RSS (anonymous) MiB: before the pull ${mib(rssBefore.rss)} (${mib(rssBefore.anon)}), at its end ${mib(rssAfter.rss)} (${mib(rssAfter.anon)}), 3 s later ${mib(rssSettled.rss)} (${mib(rssSettled.anon)})`);
    console.log(`cradled CPU during the pull: main thread ${cpu.main} ms of ${cpu.all} ms (${(100 * cpu.main / cpu.all).toFixed(0)}%)`);
  } finally {
    await daemon.stop();
    await registry.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
