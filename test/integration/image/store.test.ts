// The image store against a real registry and a real overlay mount: removal
// semantics, GC, holds, restart, whiteouts, and hostile layers.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startFixtureRegistry, type FixtureRegistry } from '../../helpers/registry';
import { entry, pushImage, type ImageSpec, type LayerEntry } from '../../helpers/image-builder';
import { errors } from '../../../src/common/errors';
import { ImageService } from '../../../src/image/image-service';
import { blobs, layerDirs, newService, registriesConf, sweepStale, tempDir } from './setup';

let registry: FixtureRegistry;

before(async () => {
  sweepStale();
  registry = await startFixtureRegistry();
});
after(async () => {
  await registry?.stop();
});

const base = [entry.dir('etc'), entry.file('etc/base', 'base\n')];

function image(name: string): ImageSpec {
  return { layers: [{ entries: base }, { entries: [entry.file(`etc/${name}`, name)] }] };
}

test('RemoveImage: a tag at a time, by ID, idempotent; GC deletes what nothing uses', async (t) => {
  const a = await pushImage(registry, 'store/a:v1', image('a'));
  await pushImage(registry, 'store/a:v2', image('a'));
  const b = await pushImage(registry, 'store/b:v1', image('b'));
  const { service, root } = newService(t, registriesConf([registry.host]));
  await service.pull(a.reference);
  const twoTags = await service.pull(`${registry.host}/store/a:v2`);
  assert.deepEqual(twoTags.repoTags.sort(), [`${registry.host}/store/a:v1`, `${registry.host}/store/a:v2`]);
  await service.pull(b.reference);
  assert.equal(layerDirs(root).length, 3, 'the base layer is stored once');

  await service.remove(a.reference);
  assert.deepEqual(service.status(a.imageId)?.repoTags, [`${registry.host}/store/a:v2`], 'removing one tag keeps the others');
  assert.equal(layerDirs(root).length, 3);

  await service.remove(`${registry.host}/store/a:v2`);
  assert.equal(service.status(a.imageId), undefined);
  assert.equal(layerDirs(root).length, 2, "a's own layer is collected, the shared base stays");
  assert.ok(!blobs(root).includes(a.configDigest));

  await service.remove(a.imageId);
  await service.remove(`${registry.host}/store/never:pulled`);

  const hold = service.hold(b.reference);
  await service.remove(b.imageId);
  assert.deepEqual(service.list(), []);
  assert.equal(layerDirs(root).length, 2, 'held layers survive removal');
  for (const dir of hold.lowerDirs) assert.ok(fs.existsSync(dir));
  hold.release();
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(layerDirs(root), []);
  assert.deepEqual(blobs(root), []);
  assert.deepEqual(fs.readdirSync(path.join(root, 'layers')), ['l'], 'trash was emptied');
  assert.deepEqual(fs.readdirSync(path.join(root, 'layers', 'l')), [], 'links went with their layers');
  assert.throws(() => service.hold(b.reference), (err: unknown) => errors.imageNotFound.is(err));
});

test('a new ImageService on the same root keeps images; crash leftovers are cleaned', async (t) => {
  const a = await pushImage(registry, 'store/restart:v1', image('restart'));
  const { service, root, options } = newService(t, registriesConf([registry.host]), { pinned: [`${registry.host}/store/restart:v1`] });
  const pulled = await service.pull(a.reference);
  assert.equal(pulled.pinned, true);
  const usage = await service.fsInfo();
  assert.equal(usage.mountpoint, root);
  assert.ok(usage.usedBytes > 0 && usage.inodesUsed >= 10, `usage counted: ${JSON.stringify(usage)}`);
  service.close();
  // What a crash mid-unpack or mid-download leaves behind.
  fs.mkdirSync(path.join(root, 'layers', '.tmp-crashed', 'diff'), { recursive: true });
  fs.writeFileSync(path.join(root, 'ingest', `sha256-${'1'.repeat(64)}`), 'partial');

  const again = new ImageService(options);
  t.after(() => again.close());
  const listed = again.list();
  assert.equal(listed.length, 1);
  assert.deepEqual(listed[0], pulled);
  const hold = again.hold(pulled.id);
  assert.equal(fs.readFileSync(path.join(hold.lowerDirs[0]!, 'etc/restart'), 'utf8'), 'restart');
  hold.release();
  // A recovered container holds its layers by chain ID, even once the image is removed.
  const byChain = again.holdLayers(pulled.chainIds);
  await again.remove(pulled.id);
  assert.ok(byChain.lowerDirs.every((dir) => fs.existsSync(dir)));
  byChain.release();
  assert.deepEqual(layerDirs(root), []);
  assert.throws(() => again.holdLayers(pulled.chainIds), (err: unknown) => errors.notFound.is(err));
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.ok(!fs.existsSync(path.join(root, 'layers', '.tmp-crashed')));
});

test('whiteouts and opaque directories are correct through a real overlay mount', async (t) => {
  const pushed = await pushImage(registry, 'store/whiteout:v1', {
    layers: [
      { entries: [entry.dir('etc'), entry.file('etc/keep', 'keep'), entry.file('etc/gone', 'gone'),
        entry.dir('var/cache'), entry.file('var/cache/old1', '1'), entry.file('var/cache/old2', '2'), entry.dir('var/cache/sub')] },
      { entries: [entry.whiteout('etc/gone'), entry.opaque('var/cache'), entry.file('var/cache/new', 'new')] },
    ],
  });
  const { service, dir } = newService(t, registriesConf([registry.host]));
  const pulled = await service.pull(pushed.reference);
  const hold = service.hold(pulled.id);
  t.after(() => hold.release());
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(mnt);
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${hold.lowerDirs.join(':')}`, mnt]);
  try {
    assert.deepEqual(fs.readdirSync(path.join(mnt, 'etc')).sort(), ['keep']);
    assert.deepEqual(fs.readdirSync(path.join(mnt, 'var/cache')).sort(), ['new']);
    assert.equal(fs.readFileSync(path.join(mnt, 'var/cache/new'), 'utf8'), 'new');
  } finally {
    execFileSync('umount', [mnt]);
  }
});

test('ownership, modes (setuid), symlinks, hard links, devices and fifos survive the pull', async (t) => {
  const pushed = await pushImage(registry, 'store/meta:v1', {
    layers: [{ entries: [
      entry.dir('bin', { mode: 0o755 }),
      entry.file('bin/tool', '#!/bin/sh\n', { mode: 0o4755, uid: 0, gid: 0 }),
      entry.file('bin/owned', 'x', { mode: 0o640, uid: 1000, gid: 2000 }),
      entry.hardlink('bin/tool2', 'bin/tool'),
      entry.symlink('bin/sh', '/bin/busybox'),
      entry.dir('dev'),
      entry.charDevice('dev/null', 1, 3, { mode: 0o666 }),
      entry.fifo('dev/fifo'),
    ] }],
  });
  const { service } = newService(t, registriesConf([registry.host]));
  const hold = service.hold((await service.pull(pushed.reference)).id);
  t.after(() => hold.release());
  const layer = hold.lowerDirs[0]!;
  assert.equal(fs.statSync(path.join(layer, 'bin/tool')).mode & 0o7777, 0o4755);
  const owned = fs.statSync(path.join(layer, 'bin/owned'));
  assert.deepEqual([owned.uid, owned.gid, owned.mode & 0o7777], [1000, 2000, 0o640]);
  assert.equal(fs.statSync(path.join(layer, 'bin/tool2')).ino, fs.statSync(path.join(layer, 'bin/tool')).ino);
  assert.equal(fs.readlinkSync(path.join(layer, 'bin/sh')), '/bin/busybox');
  assert.equal(fs.lstatSync(path.join(layer, 'dev/null')).rdev, 259);
  assert.ok(fs.lstatSync(path.join(layer, 'dev/fifo')).isFIFO());
});

// Hostile layers: every case must fail with CRADLE_ERR_HOSTILE_LAYER or stay inside the layer;
// the sentinel directory outside must never change.
test('hostile layers are contained', async (t) => {
  const outside = tempDir(t);
  fs.writeFileSync(path.join(outside, 'victim'), 'original');
  const climb = '../'.repeat(20) + outside.slice(1);
  const cases: { name: string; entries: LayerEntry[]; expect: 'reject' | 'contained' }[] = [
    { name: 'dotdot', entries: [entry.raw({ name: `${climb}/pwned`, type: 'file' }, 'x')], expect: 'reject' },
    { name: 'dotdot-middle', entries: [entry.raw({ name: 'a/../../pwned', type: 'file' }, 'x')], expect: 'reject' },
    { name: 'absolute', entries: [entry.raw({ name: `${outside}/pwned`, type: 'file' }, 'x')], expect: 'contained' },
    { name: 'abs-symlink-dir', entries: [entry.symlink('esc', outside), entry.file('esc/pwned', 'x')], expect: 'contained' },
    { name: 'rel-symlink-dir', entries: [entry.symlink('esc', climb), entry.file('esc/pwned', 'x')], expect: 'contained' },
    { name: 'symlink-then-file', entries: [entry.symlink('victim', `${outside}/victim`), entry.file('victim', 'overwritten')], expect: 'contained' },
    { name: 'symlink-chain', entries: [entry.dir('d'), entry.symlink('d/up', '../../../../..'), entry.symlink('s', `d/up${outside}`), entry.file('s/pwned', 'x')], expect: 'contained' },
    { name: 'hardlink-outside-abs', entries: [entry.hardlink('h', `${outside}/victim`)], expect: 'reject' },
    { name: 'hardlink-outside-rel', entries: [entry.hardlink('h', `${climb}/victim`)], expect: 'reject' },
    { name: 'hardlink-through-symlink', entries: [entry.symlink('esc', outside), entry.hardlink('h', 'esc/victim')], expect: 'reject' },
    { name: 'dir-replaced-by-symlink', entries: [entry.dir('d'), entry.symlink('d', outside), entry.file('d/pwned', 'x')], expect: 'contained' },
    { name: 'whiteout-through-symlink', entries: [entry.symlink('esc', outside), entry.whiteout('esc/victim'), entry.opaque('esc')], expect: 'contained' },
    { name: 'symlink-loop', entries: [entry.symlink('l1', 'l2'), entry.symlink('l2', 'l1'), entry.file('l1/x', 'x')], expect: 'reject' },
    { name: 'overlay-xattr', entries: [entry.dir('d', { pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } })], expect: 'reject' },
  ];
  const { service, root } = newService(t, registriesConf([registry.host]));
  for (const c of cases) {
    const pushed = await pushImage(registry, `hostile/${c.name}:v1`, { layers: [{ entries: c.entries }] });
    if (c.expect === 'reject') {
      await assert.rejects(service.pull(pushed.reference), (err: unknown) => errors.hostileLayer.is(err), c.name);
      assert.equal(service.status(pushed.reference), undefined, `${c.name}: not listed`);
    } else {
      const pulled = await service.pull(pushed.reference);
      const hold = service.hold(pulled.id);
      assert.ok(hold.lowerDirs[0]!.startsWith(root));
      hold.release();
    }
    assert.deepEqual(fs.readdirSync(outside), ['victim'], `${c.name}: nothing created outside`);
    assert.equal(fs.readFileSync(path.join(outside, 'victim'), 'utf8'), 'original', `${c.name}: outside file untouched`);
    assert.equal(fs.statSync(path.join(outside, 'victim')).nlink, 1, `${c.name}: no hard link to the outside file`);
  }
});

test('shared layers: GC removes a layer only when no image and no hold (container) has it', async (t) => {
  const x = await pushImage(registry, 'store/share-x:v1', image('share-x'));
  const y = await pushImage(registry, 'store/share-y:v1', image('share-y'));
  const { service, root } = newService(t, registriesConf([registry.host]));
  const px = await service.pull(x.reference);
  const py = await service.pull(y.reference);
  const hex = (chains: string[]) => chains.map((c) => c.slice(7));
  assert.equal(px.chainIds[0], py.chainIds[0], 'one base layer');
  const [base, xTop, yTop] = [px.chainIds[0]!, px.chainIds[1]!, py.chainIds[1]!];
  const links = () => fs.readdirSync(path.join(root, 'layers', 'l')).length;

  const container = service.hold(py.id);
  await service.remove(py.id);
  assert.deepEqual(layerDirs(root), hex([base, xTop, yTop]).sort(), "a container keeps the removed image's layers");
  await service.remove(px.id);
  assert.deepEqual(layerDirs(root), hex([base, yTop]).sort(), "x's own layer goes; the base stays for the container");
  const recovered = service.holdLayers(py.chainIds);
  container.release();
  assert.deepEqual(layerDirs(root), hex([base, yTop]).sort(), 'a second holder keeps them');
  assert.equal(links(), 2);
  await service.pull(x.reference);
  recovered.release();
  assert.deepEqual(layerDirs(root), hex([base, xTop]).sort(), 'the base stays for the re-pulled image only');
  assert.equal(links(), 2);
  await service.remove(x.reference);
  assert.deepEqual(layerDirs(root), []);
  assert.equal(links(), 0);
});
