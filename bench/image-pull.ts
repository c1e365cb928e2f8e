// Image pull benchmark: a ~100 MB (uncompressed) three-layer gzip image from the
// fixture registry on 127.0.0.1 into a cold store, median of N pulls, plus where
// the time goes: network+verify (blob download into the content store), gunzip,
// sha256, and the full unpack (gunzip + hash + untar + write) per layer.
// Run: npm run build && ./node_modules/.bin/node dist/bench/image-pull.js [rounds]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createHash, randomBytes } from 'node:crypto';
import { startFixtureRegistry } from '../test/helpers/registry';
import { entry, pushImage, type LayerEntry } from '../test/helpers/image-builder';
import { ImageService } from '../src/image/image-service';
import { unpackLayerFile } from '../src/image/unpack';
import { silentLogger } from '../src/common/logger';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { referenceAvailable, startReferenceContainerd } from '../test/reference/containerd';

function stats(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return `${median.toFixed(0)} ms median (${sorted[0]!.toFixed(0)}–${sorted[sorted.length - 1]!.toFixed(0)}), n=${sorted.length}`;
}

/** ~33 MB of files that compress about as well as binaries do (~2:1). */
function layerEntries(seed: number): LayerEntry[] {
  const entries: LayerEntry[] = [entry.dir(`l${seed}`)];
  for (let i = 0; i < 64; i++) {
    const noise = randomBytes(256 << 10);
    const text = Buffer.from(`cradle bench layer ${seed} file ${i} `.repeat(7000)).subarray(0, 256 << 10);
    entries.push(entry.file(`l${seed}/f${i}`, Buffer.concat([noise, text])));
  }
  return entries;
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 5);
  const registry = await startFixtureRegistry();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-pull-bench-'));
  try {
    const pushed = await pushImage(registry, 'bench/big:v1', { layers: [0, 1, 2].map((seed) => ({ entries: layerEntries(seed) })) });
    const compressed = pushed.layers.reduce((sum, l) => sum + l.size, 0);
    const uncompressed = pushed.layers.reduce((sum, l) => sum + zlib.gunzipSync(l.blob).length, 0);
    console.log(`image: 3 layers, ${(compressed / 1e6).toFixed(1)} MB compressed, ${(uncompressed / 1e6).toFixed(1)} MB uncompressed`);
    fs.writeFileSync(path.join(work, 'registries.conf'), `[[registry]]\nlocation = "${registry.host}"\ninsecure = true\n`);

    const pulls: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const root = path.join(work, `store${i}`);
      const service = new ImageService({
        root, registries: { confPath: path.join(work, 'registries.conf'), confDir: path.join(work, 'none') },
        maxConcurrentDownloads: 3, pullProgressTimeoutSec: 60, log: silentLogger(),
      });
      const t0 = performance.now();
      await service.pull(pushed.reference);
      pulls.push(performance.now() - t0);
      service.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
    console.log(`cold pull (download + verify + unpack, 3 parallel): ${stats(pulls)}`);

    // The same pull by the reference containerd (ctr: fetch + unpack into its overlayfs snapshotter), fresh each round.
    if (referenceAvailable()) {
      const ctrPulls: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const reference = await startReferenceContainerd({ cniConfDir: path.join(work, 'cni') });
        try {
          const t0 = performance.now();
          await promisify(execFile)('ctr', ['--address', reference.endpoint.replace('unix://', ''), '-n', 'bench', 'images', 'pull', '--plain-http', pushed.reference]);
          ctrPulls.push(performance.now() - t0);
        } finally {
          await reference.stop();
        }
      }
      console.log(`containerd 1.6 \`ctr images pull\` (same image, cold): ${stats(ctrPulls)}`);
    }

    // Where the time goes, one stage at a time, on the same blobs.
    const download: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      await Promise.all(pushed.layers.map(async (layer) => {
        const res = await fetch(`${registry.url}/v2/bench/big/blobs/${layer.digest}`);
        const hash = createHash('sha256');
        for await (const chunk of res.body!) hash.update(chunk as Uint8Array);
      }));
      download.push(performance.now() - t0);
    }
    console.log(`  network + sha256 of compressed blobs (3 parallel): ${stats(download)}`);
    const gunzip: number[] = [];
    const hashing: number[] = [];
    const unpack: number[] = [];
    for (let i = 0; i < rounds; i++) {
      let t0 = performance.now();
      const tars = pushed.layers.map((layer) => zlib.gunzipSync(layer.blob));
      gunzip.push(performance.now() - t0);
      t0 = performance.now();
      for (const tar of tars) createHash('sha256').update(tar).digest();
      hashing.push(performance.now() - t0);
      for (const [n, layer] of pushed.layers.entries()) {
        const blob = path.join(work, `blob${n}`);
        fs.writeFileSync(blob, layer.blob);
        const dest = path.join(work, `unpack${i}-${n}`);
        fs.mkdirSync(dest);
        const start = performance.now();
        await unpackLayerFile(blob, dest, { layer: layer.digest, expectedDiffId: layer.diffId });
        unpack.push(performance.now() - start);
        fs.rmSync(dest, { recursive: true, force: true });
      }
    }
    console.log(`  gunzip of all layers (in memory, sequential): ${stats(gunzip)}`);
    console.log(`  sha256 of all uncompressed tars: ${stats(hashing)}`);
    console.log(`  unpack one layer (gunzip + diff_id + untar + write): ${stats(unpack)}`);
  } finally {
    await registry.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
