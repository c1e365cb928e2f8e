// A pull's CPU work (downloads, digests, decompression, tar parsing, file writes)
// runs on worker threads: the thread that answers RPCs spends a small share of the pull's
// CPU time. Measured with per-thread CPU clocks, which other load on the machine
// does not inflate, so the assertion is a ratio within one run, not a timing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { entry, pushImage, type LayerEntry } from '../../helpers/image-builder';
import { layerDirs, newService, registriesConf, useFixtureRegistry } from './setup';

const fixtureRegistry = useFixtureRegistry();

/** ~6 MB of gzip per layer: half noise (cheap to inflate, costly to hash), half text (costly to inflate). */
function layerEntries(seed: number): LayerEntry[] {
  const entries: LayerEntry[] = [entry.dir(`l${seed}`)];
  for (let i = 0; i < 24; i++) {
    const text = Buffer.from(`cradle layer ${seed} file ${i} `.repeat(12000)).subarray(0, 256 << 10);
    entries.push(entry.file(`l${seed}/f${i}`, Buffer.concat([randomBytes(256 << 10), text])));
  }
  return entries;
}

test('the main thread spends a small share of a pull\'s CPU time', async (t) => {
  const registry = fixtureRegistry();
  const pushed = await pushImage(registry, 'offload/big:v1', { layers: [0, 1, 2, 3].map((seed) => ({ entries: layerEntries(seed) })) });
  const { service, root } = newService(t, registriesConf([registry.host]));

  const main0 = process.threadCpuUsage();
  const all0 = process.cpuUsage();
  const image = await service.pull(pushed.reference);
  const main = process.threadCpuUsage(main0);
  const all = process.cpuUsage(all0);

  assert.equal(image.chainIds.length, 4);
  assert.equal(layerDirs(root).length, 4, 'every layer was unpacked');
  const mainMs = (main.user + main.system) / 1000;
  const allMs = (all.user + all.system) / 1000;
  const share = mainMs / allMs;
  t.diagnostic(`main thread ${mainMs.toFixed(0)} ms of ${allMs.toFixed(0)} ms process CPU (${(share * 100).toFixed(0)}%)`);
  // With hashing and tar parsing on the main thread (zlib inflates on libuv's pool either way) it
  // was about half, and a fifth while the main thread still received the layers' bodies; with the
  // workers downloading too it is the manifest, the config and the commits, ~5%.
  assert.ok(share < 0.15, `the main thread did ${(share * 100).toFixed(0)}% of the pull's CPU work`);
});
