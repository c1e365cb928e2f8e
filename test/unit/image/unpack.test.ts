import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { unpackLayerStream, unpackLayerFile, type Compression } from '../../../src/image/unpack';
import { lgetxattr } from '../../../src/sys/xattr';
import { errors } from '../../../src/common/errors';
import { buildTar, gzip, zstd, sha256, type TarEntry } from './tar-fixture';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-unpack-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Unpacks entries into <dir>/layer; <dir>/outside is a sibling that must stay untouched. */
async function unpack(dir: string, entries: TarEntry[], compression: Compression = 'none') {
  const layer = path.join(dir, 'layer');
  fs.mkdirSync(layer, { recursive: true });
  fs.mkdirSync(path.join(dir, 'outside'), { recursive: true });
  const data = await buildTar(entries);
  const body = compression === 'gzip' ? gzip(data) : compression === 'zstd' ? zstd(data) : data;
  const result = await unpackLayerStream(Readable.from([body]), compression, layer, { layer: 'sha256:test', expectedDiffId: sha256(data) });
  return { layer, result, diffId: sha256(data) };
}

function outsideUntouched(dir: string): void {
  assert.deepEqual(fs.readdirSync(path.join(dir, 'outside')), [], 'nothing was written outside the layer');
}

test('regular files, directories, symlinks, hard links, modes, ownership and mtimes are unpacked', async (t) => {
  const dir = tempDir(t);
  const mtime = new Date('2020-01-02T03:04:05Z');
  const { layer, result, diffId } = await unpack(dir, [
    { name: 'etc/', type: 'directory', mode: 0o751, mtime },
    { name: 'etc/hello', content: 'hi\n', mode: 0o640, uid: 1000, gid: 1001, mtime },
    { name: 'bin/su', content: 'x', mode: 0o4755 },
    { name: 'etc/link', type: 'symlink', linkname: '/etc/hello' },
    { name: 'etc/hard', type: 'link', linkname: 'etc/hello' },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'run/fifo', type: 'fifo', mode: 0o600 },
  ], 'gzip');
  assert.equal(result.diffId, diffId);
  assert.equal(fs.readFileSync(path.join(layer, 'etc/hello'), 'utf8'), 'hi\n');
  const hello = fs.statSync(path.join(layer, 'etc/hello'));
  assert.equal(hello.mode & 0o7777, 0o640);
  assert.equal(hello.uid, 1000);
  assert.equal(hello.gid, 1001);
  assert.equal(hello.mtimeMs, mtime.getTime());
  assert.equal(hello.nlink, 2);
  assert.equal(fs.statSync(path.join(layer, 'etc/hard')).ino, hello.ino);
  assert.equal(fs.statSync(path.join(layer, 'etc')).mode & 0o7777, 0o751);
  assert.equal(fs.statSync(path.join(layer, 'etc')).mtimeMs, mtime.getTime());
  assert.equal(fs.statSync(path.join(layer, 'bin/su')).mode & 0o7777, 0o4755);
  assert.equal(fs.readlinkSync(path.join(layer, 'etc/link')), '/etc/hello');
  const devNull = fs.lstatSync(path.join(layer, 'dev/null'));
  assert.ok(devNull.isCharacterDevice());
  assert.equal(devNull.rdev, 259);
  assert.ok(fs.lstatSync(path.join(layer, 'run/fifo')).isFIFO());
});

test('zstd layers are unpacked and the diff ID is verified', async (t) => {
  const dir = tempDir(t);
  const { layer } = await unpack(dir, [{ name: 'a', content: 'zstd!' }], 'zstd');
  assert.equal(fs.readFileSync(path.join(layer, 'a'), 'utf8'), 'zstd!');
});

test('a diff ID mismatch is rejected naming the layer and both digests', async (t) => {
  const dir = tempDir(t);
  const layer = path.join(dir, 'layer');
  fs.mkdirSync(layer);
  const data = await buildTar([{ name: 'a', content: 'x' }]);
  const wrong = `sha256:${'0'.repeat(64)}`;
  await assert.rejects(
    unpackLayerStream(Readable.from([data]), 'none', layer, { layer: 'sha256:blob', expectedDiffId: wrong }),
    (err: unknown) => errors.digestMismatch.is(err) && err.message.includes(wrong) && err.message.includes(sha256(data)),
  );
});

test('unpackLayerFile sniffs the compression from the blob', async (t) => {
  const dir = tempDir(t);
  const data = await buildTar([{ name: 'f', content: 'sniffed' }]);
  fs.writeFileSync(path.join(dir, 'blob'), gzip(data));
  fs.mkdirSync(path.join(dir, 'layer'));
  const result = await unpackLayerFile(path.join(dir, 'blob'), path.join(dir, 'layer'), { layer: 'x' });
  assert.equal(result.diffId, sha256(data));
  assert.equal(fs.readFileSync(path.join(dir, 'layer/f'), 'utf8'), 'sniffed');
});

test('OCI whiteouts become overlayfs whiteouts and opaque directories', async (t) => {
  const dir = tempDir(t);
  const { layer } = await unpack(dir, [
    { name: 'etc/.wh.removed', content: '' },
    { name: 'var/', type: 'directory' },
    { name: 'var/.wh..wh..opq', content: '' },
    { name: 'var/kept', content: 'new' },
    { name: 'opt/.wh.same', content: '' },
    { name: 'opt/same', content: 'same layer wins' },
    { name: 'srv/.wh.was-a-file', content: '' },
    { name: 'srv/was-a-file/now-a-dir', content: 'nested' },
  ]);
  assert.equal(fs.readFileSync(path.join(layer, 'srv/was-a-file/now-a-dir'), 'utf8'), 'nested');
  const whiteout = fs.lstatSync(path.join(layer, 'etc/removed'));
  assert.ok(whiteout.isCharacterDevice());
  assert.equal(whiteout.rdev, 0);
  assert.ok(!fs.existsSync(path.join(layer, 'etc/.wh.removed')));
  assert.equal(lgetxattr(path.join(layer, 'var'), 'trusted.overlay.opaque')?.toString(), 'y');
  assert.ok(!fs.existsSync(path.join(layer, 'var/.wh..wh..opq')));
  assert.equal(fs.readFileSync(path.join(layer, 'var/kept'), 'utf8'), 'new');
  assert.equal(fs.readFileSync(path.join(layer, 'opt/same'), 'utf8'), 'same layer wins');
});

// Hostile layers: each must either be rejected with CRADLE_ERR_HOSTILE_LAYER or land inside the layer.
test('hostile: ".." in an entry name is rejected', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(unpack(dir, [{ name: '../outside/pwned', content: 'x' }]), (err: unknown) => errors.hostileLayer.is(err) && /\.\./.test(err.message));
  await assert.rejects(unpack(dir, [{ name: 'a/../../outside/pwned', content: 'x' }]), (err: unknown) => errors.hostileLayer.is(err));
  outsideUntouched(dir);
});

test('hostile: absolute entry names are kept inside the layer', async (t) => {
  const dir = tempDir(t);
  const { layer } = await unpack(dir, [{ name: `/${path.join(dir, 'outside')}/pwned`, content: 'x' }]);
  outsideUntouched(dir);
  assert.equal(fs.readFileSync(path.join(layer, dir, 'outside/pwned'), 'utf8'), 'x');
});

test('hostile: writing through an absolute symlink stays inside the layer', async (t) => {
  const dir = tempDir(t);
  const { layer } = await unpack(dir, [
    { name: 'escape', type: 'symlink', linkname: path.join(dir, 'outside') },
    { name: 'escape/pwned', content: 'x' },
  ]);
  outsideUntouched(dir);
  assert.equal(fs.readFileSync(path.join(layer, dir, 'outside', 'pwned'), 'utf8'), 'x');
  assert.equal(fs.readlinkSync(path.join(layer, 'escape')), path.join(dir, 'outside'), 'the symlink itself is kept as written');
});

test('hostile: writing through a relative symlink climbing out stays inside the layer', async (t) => {
  const dir = tempDir(t);
  const { layer } = await unpack(dir, [
    { name: 'a/', type: 'directory' },
    { name: 'a/up', type: 'symlink', linkname: '../../../../../../outside' },
    { name: 'a/up/pwned', content: 'x' },
    { name: 'chain1', type: 'symlink', linkname: 'a/up' },
    { name: 'chain1/second', content: 'y' },
  ]);
  outsideUntouched(dir);
  assert.equal(fs.readFileSync(path.join(layer, 'outside/pwned'), 'utf8'), 'x');
  assert.equal(fs.readFileSync(path.join(layer, 'outside/second'), 'utf8'), 'y');
});

test('hostile: a file entry replacing a symlink does not write through it', async (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'outside'), { recursive: true });
  const victim = path.join(dir, 'victim');
  fs.writeFileSync(victim, 'original');
  const { layer } = await unpack(dir, [
    { name: 'f', type: 'symlink', linkname: victim },
    { name: 'f', content: 'overwritten' },
  ]);
  assert.equal(fs.readFileSync(victim, 'utf8'), 'original');
  assert.equal(fs.readFileSync(path.join(layer, 'f'), 'utf8'), 'overwritten');
  assert.ok(fs.lstatSync(path.join(layer, 'f')).isFile());
});

test('hostile: hard links to files outside the layer are rejected', async (t) => {
  const dir = tempDir(t);
  const secret = path.join(dir, 'secret');
  fs.writeFileSync(secret, 'secret');
  await assert.rejects(unpack(dir, [{ name: 'h', type: 'link', linkname: secret }]), (err: unknown) => errors.hostileLayer.is(err) && /not in this layer/.test(err.message));
  await assert.rejects(unpack(dir, [{ name: 'h', type: 'link', linkname: '../secret' }]), (err: unknown) => errors.hostileLayer.is(err));
  await assert.rejects(unpack(dir, [
    { name: 'out', type: 'symlink', linkname: dir },
    { name: 'h', type: 'link', linkname: 'out/secret' },
  ]), (err: unknown) => errors.hostileLayer.is(err));
  assert.equal(fs.statSync(secret).nlink, 1, 'no hard link to the outside file was made');
  outsideUntouched(dir);
});

test('hostile: a hard link to a symlink links the symlink, never its target', async (t) => {
  const dir = tempDir(t);
  const secret = path.join(dir, 'secret');
  fs.writeFileSync(secret, 'secret');
  const { layer } = await unpack(dir, [
    { name: 's', type: 'symlink', linkname: secret },
    { name: 'h', type: 'link', linkname: 's' },
  ]);
  assert.ok(fs.lstatSync(path.join(layer, 'h')).isSymbolicLink());
  assert.equal(fs.statSync(secret).nlink, 1);
});

test('hostile: duplicate entries: the later one replaces the earlier', async (t) => {
  const dir = tempDir(t);
  const { layer } = await unpack(dir, [
    { name: 'd/', type: 'directory' },
    { name: 'd/x', content: 'first' },
    { name: 'd', type: 'symlink', linkname: path.join(dir, 'outside') },
    { name: 'd/y', content: 'second' },
    { name: 'z', content: 'one' },
    { name: 'z', content: 'two' },
  ]);
  outsideUntouched(dir);
  assert.equal(fs.readFileSync(path.join(layer, 'z'), 'utf8'), 'two');
  assert.equal(fs.readFileSync(path.join(layer, dir, 'outside', 'y'), 'utf8'), 'second');
});

test('hostile: symlink loops are rejected', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(unpack(dir, [
    { name: 'l1', type: 'symlink', linkname: 'l2' },
    { name: 'l2', type: 'symlink', linkname: 'l1' },
    { name: 'l1/x', content: 'x' },
  ]), (err: unknown) => errors.hostileLayer.is(err) && /symbolic links/.test(err.message));
});

test('hostile: a whiteout cannot remove anything outside the layer', async (t) => {
  const dir = tempDir(t);
  const keep = path.join(dir, 'outside', 'keep');
  const { layer } = await unpack(dir, [
    { name: 'o', type: 'symlink', linkname: path.join(dir, 'outside') },
    { name: 'o/.wh.keep', content: '' },
    { name: 'o/.wh..wh..opq', content: '' },
  ]);
  assert.ok(!fs.existsSync(keep));
  assert.ok(fs.lstatSync(path.join(layer, dir, 'outside', 'keep')).isCharacterDevice());
  await assert.rejects(unpack(dir, [{ name: '.wh..', content: '' }]), (err: unknown) => errors.hostileLayer.is(err));
});

test('hostile: layers may not set overlayfs xattrs themselves', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(unpack(dir, [{ name: 'd/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc' } }]),
    (err: unknown) => errors.hostileLayer.is(err) && /trusted.overlay.redirect/.test(err.message));
});

test('a truncated or corrupt stream is rejected clearly', async (t) => {
  const dir = tempDir(t);
  const layer = path.join(dir, 'layer');
  fs.mkdirSync(layer);
  const data = gzip(await buildTar([{ name: 'a', content: 'x'.repeat(10000) }]));
  await assert.rejects(unpackLayerStream(Readable.from([data.subarray(0, data.length - 30)]), 'gzip', layer, { layer: 'sha256:cut' }),
    (err: unknown) => err instanceof Error && /sha256:cut/.test(err.message));
});
