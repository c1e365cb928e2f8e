// Images with Docker's maximum of 127 layers: pulled from the fixture registry and
// mounted as a container root filesystem (src/runtime/rootfs/overlay.ts), both
// through the new mount API (lowerdir+) and through mount(2) with the short links
// in one page. Links survive a restart, are made for stores that predate them and
// go with their layer.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startFixtureRegistry, type FixtureRegistry } from '../../helpers/registry';
import { entry, pushImage, type ImageSpec } from '../../helpers/image-builder';
import { ImageService } from '../../../src/image/image-service';
import { LINKS_DIR } from '../../../src/image/layer-store';
import { mountOverlay, unmountOverlay } from '../../../src/runtime/rootfs/overlay';
import { kernelHasLowerdirPlus, legacyOverlayOptions, mountOverlayFs } from '../../../src/sys/overlay-mount';
import { layerDirs, newService, registriesConf, sweepStale } from './setup';

const LAYERS = 127;
let registry: FixtureRegistry;
let pushed: Awaited<ReturnType<typeof pushImage>>;

before(async () => {
  sweepStale();
  registry = await startFixtureRegistry();
  const spec: ImageSpec = {
    layers: Array.from({ length: LAYERS }, (_, i) => ({
      entries: [
        ...(i === 0 ? [entry.dir('etc'), entry.file('etc/bottom', 'lowest layer\n')] : []),
        ...(i === LAYERS - 1 ? [entry.file('etc/top', 'top layer\n')] : []),
        entry.file('etc/which', `${i}\n`),
        entry.file(`layer-${i}`, `${i}`),
      ],
    })),
  };
  pushed = await pushImage(registry, 'many/layers:v1', spec);
});
after(async () => {
  await registry?.stop();
});

function readThrough(rootfs: string): void {
  assert.equal(fs.readFileSync(path.join(rootfs, 'etc/bottom'), 'utf8'), 'lowest layer\n');
  assert.equal(fs.readFileSync(path.join(rootfs, 'etc/top'), 'utf8'), 'top layer\n');
  assert.equal(fs.readFileSync(path.join(rootfs, 'etc/which'), 'utf8'), `${LAYERS - 1}\n`, 'the top-most layer wins');
  assert.equal(fs.readdirSync(rootfs).filter((name) => name.startsWith('layer-')).length, LAYERS);
}

test(`a ${LAYERS}-layer image pulls and mounts as a container root filesystem`, async (t) => {
  const { service, dir, root } = newService(t, registriesConf([registry.host]));
  const image = await service.pull(pushed.reference);
  assert.equal(image.chainIds.length, LAYERS);
  const hold = service.hold(image.id);
  t.after(() => hold.release());
  assert.equal(hold.overlay.root, path.join(root, 'layers'));
  assert.equal(hold.overlay.lowers.length, LAYERS);
  assert.ok(hold.overlay.lowers.every((lower) => /^l\/[A-Z2-7]{26}$/.test(lower)), 'short links');
  assert.ok(`lowerdir=${hold.lowerDirs.join(':')}`.length > 4096, 'full paths would not fit in a page');
  assert.equal(fs.realpathSync(path.join(hold.overlay.root, hold.overlay.lowers[0]!)), hold.lowerDirs[0]);

  const cwd = process.cwd();
  // The container layer's mount (lowerdir+ on this kernel).
  const container = path.join(dir, 'container');
  fs.mkdirSync(container);
  const overlay = mountOverlay(container, hold.overlay);
  try {
    readThrough(overlay.rootfs);
    fs.writeFileSync(path.join(overlay.rootfs, 'etc/written'), 'upper');
    assert.equal(fs.readFileSync(path.join(overlay.upper, 'etc/written'), 'utf8'), 'upper');
  } finally {
    unmountOverlay(overlay.rootfs);
  }

  // The fallback for kernels without lowerdir+: mount(2) with relative links, from the layer root.
  const options = legacyOverlayOptions({ target: '/x', lowerRoot: hold.overlay.root, lowers: hold.overlay.lowers, upper: overlay.upper, work: overlay.work });
  assert.ok(options.length < 4096, `${options.length} bytes`);
  const legacy = path.join(dir, 'legacy');
  for (const d of ['rootfs', 'upper', 'work']) fs.mkdirSync(path.join(legacy, d), { recursive: true });
  const api = mountOverlayFs({
    target: path.join(legacy, 'rootfs'), lowerRoot: hold.overlay.root, lowers: hold.overlay.lowers,
    upper: path.join(legacy, 'upper'), work: path.join(legacy, 'work'),
  }, 'mount');
  assert.equal(api, 'mount');
  try {
    readThrough(path.join(legacy, 'rootfs'));
  } finally {
    unmountOverlay(path.join(legacy, 'rootfs'));
  }
  assert.equal(process.cwd(), cwd, 'the daemon never changes directory');
  t.diagnostic(`kernel has lowerdir+: ${kernelHasLowerdirPlus()}`);
});

test('links survive a restart, are made for stores without them, and go with their layer', async (t) => {
  const { service, options, root, dir } = newService(t, registriesConf([registry.host]));
  const image = await service.pull(pushed.reference);
  const links = service.hold(image.id);
  links.release();
  const linksDir = path.join(root, 'layers', LINKS_DIR);
  assert.equal(fs.readdirSync(linksDir).length, LAYERS);
  service.close();

  const again = new ImageService(options);
  t.after(() => again.close());
  const held = again.hold(image.id);
  assert.deepEqual(held.overlay.lowers, links.overlay.lowers, 'the same links after a restart');
  held.release();
  again.close();

  // A store from before links: no l/ and no link files; plus a dangling link left by a crash.
  fs.rmSync(linksDir, { recursive: true });
  for (const hex of layerDirs(root)) fs.rmSync(path.join(root, 'layers', hex, 'link'));
  const old = new ImageService(options);
  t.after(() => old.close());
  fs.symlinkSync(`../${'0'.repeat(64)}/diff`, path.join(linksDir, 'AAAAAAAAAAAAAAAAAAAAAAAAAA'));
  old.close();
  const repaired = new ImageService(options);
  t.after(() => repaired.close());
  assert.equal(fs.readdirSync(linksDir).length, LAYERS, 'one link per layer, the dangling one dropped');
  const hold = repaired.hold(image.id);
  const container = path.join(dir, 'container');
  fs.mkdirSync(container);
  const overlay = mountOverlay(container, hold.overlay);
  try {
    readThrough(overlay.rootfs);
  } finally {
    unmountOverlay(overlay.rootfs);
  }
  await repaired.remove(image.id);
  assert.equal(fs.readdirSync(linksDir).length, LAYERS, 'held layers keep their links');
  hold.release();
  assert.deepEqual(fs.readdirSync(linksDir), [], 'links go with their layers');
  assert.deepEqual(layerDirs(root), []);
});
