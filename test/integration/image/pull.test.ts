// Pulls from a real registry (docker-registry on 127.0.0.1): tags, digests,
// multi-arch indexes, auth, mirrors, dedup, faults.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { cleanChildEnv } from '../../../src/common/child-env';
import { startFixtureRegistry, type FixtureRegistry } from '../../helpers/registry';
import { buildImage, entry, pushImage, pushIndex, type ImageSpec } from '../../helpers/image-builder';
import { putManifest, uploadBlob } from '../../helpers/registry-client';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startRegistryProxy, type RegistryProxy } from '../../helpers/registry-proxy';
import { makeTestCertificates } from '../../helpers/tls-cert';
import { errors } from '../../../src/common/errors';
import { ImageService } from '../../../src/image/image-service';
import { blobs, layerDirs, newService, registriesConf, sweepStale, tempDir } from './setup';

let registry: FixtureRegistry;
const proxies: RegistryProxy[] = [];

before(async () => {
  sweepStale();
  registry = await startFixtureRegistry();
});
after(async () => {
  for (const proxy of proxies) await proxy.stop();
  await registry?.stop();
});

async function proxy(...args: Parameters<typeof startRegistryProxy> extends [unknown, ...infer R] ? R : never): Promise<RegistryProxy> {
  const p = await startRegistryProxy(registry, ...args);
  proxies.push(p);
  return p;
}

function smallImage(name: string, extra: ImageSpec['layers'] = []): ImageSpec {
  return {
    layers: [
      { entries: [entry.dir('etc'), entry.file('etc/base', 'base layer\n')] },
      { entries: [entry.file(`etc/${name}`, `${name}\n`)] },
      ...extra,
    ],
    config: { User: '1234:5678', Cmd: ['sh'] },
  };
}

test('pull by tag stores the image with CRI names, size and layers; by digest finds the same image', async (t) => {
  const pushed = await pushImage(registry, 'pull/tag:v1', smallImage('tag'));
  const metrics = recordingMetrics();
  const { service, root } = newService(t, registriesConf([registry.host]), { metrics });
  const image = await service.pull(pushed.reference);
  assert.equal(image.id, pushed.configDigest);
  assert.deepEqual(image.repoTags, [`${registry.host}/pull/tag:v1`]);
  assert.deepEqual(image.repoDigests, [`${registry.host}/pull/tag@${pushed.manifestDigest}`]);
  assert.equal(image.size, pushed.layers.reduce((sum, l) => sum + l.size, 0));
  assert.equal(image.uid, 1234);
  assert.deepEqual(image.config.config?.Cmd, ['sh']);
  assert.equal(image.pinned, false);
  const hold = service.hold(image.id);
  t.after(() => hold.release());
  assert.equal(hold.lowerDirs.length, 2);
  assert.equal(fs.readFileSync(path.join(hold.lowerDirs[0]!, 'etc/tag'), 'utf8'), 'tag\n', 'top layer first');
  assert.equal(fs.readFileSync(path.join(hold.lowerDirs[1]!, 'etc/base'), 'utf8'), 'base layer\n');
  assert.equal(layerDirs(root).length, 2);
  // Layer blobs are not kept once unpacked; manifest and config are.
  assert.deepEqual(blobs(root), [pushed.configDigest, pushed.manifestDigest].sort());

  assert.deepEqual(metrics.calls.splice(0).sort(), [
    ...pushed.layers.flatMap((l) => [`bytes ${l.mediaType} ${l.size}`, `layer-size ${l.size}`]),
    'result ok',
  ].sort(), 'downloads and success recorded');
  const byDigest = await service.pull(pushed.digestReference);
  assert.equal(byDigest.id, image.id);
  assert.deepEqual(metrics.calls.splice(0).sort(), [
    ...pushed.layers.flatMap((l) => [`skipped ${l.size}`, `reuse ${l.digest}`]),
    'result ok',
  ].sort(), 'a second pull downloads no layer');
  const withTag = await service.pull(`${registry.host}/pull/tag:unchecked@${pushed.manifestDigest}`);
  assert.deepEqual(withTag.repoTags, [`${registry.host}/pull/tag:v1`], 'name:tag@digest pulls by digest and records no unchecked tag');
  assert.equal(service.list().length, 1);
  for (const ref of [image.id, image.id.slice(7), image.id.slice(7, 19), pushed.reference, pushed.digestReference]) {
    assert.equal(service.status(ref)?.id, image.id, `status(${ref})`);
  }
  assert.equal(service.status(`${registry.host}/pull/tag:v2`), undefined);
  assert.deepEqual(service.list(pushed.reference).map((i) => i.id), [image.id]);
  assert.deepEqual(service.list(`${registry.host}/nothing:here`), []);
});

test('a multi-arch index picks linux/amd64 and reports the index digest', async (t) => {
  const variants = ['arm64', 'amd64', 's390x'].map((architecture) => ({
    platform: { os: 'linux', architecture, ...(architecture === 'arm64' ? { variant: 'v8' } : {}) },
    spec: { layers: [{ entries: [entry.file('arch', architecture)] }] },
  }));
  for (const format of ['oci', 'docker'] as const) {
    const index = await pushIndex(registry, `pull/multi-${format}:latest`, variants, { format });
    const { service } = newService(t, registriesConf([registry.host]), { platform: { os: 'linux', architecture: 'amd64' } });
    const image = await service.pull(index.reference);
    const amd64 = index.images.find((i) => i.platform.architecture === 'amd64')!;
    assert.equal(image.id, amd64.configDigest, format);
    assert.equal(image.config.architecture, 'amd64');
    assert.deepEqual(image.repoDigests, [`${registry.host}/pull/multi-${format}@${index.digest}`]);
    const hold = service.hold(image.id);
    assert.equal(fs.readFileSync(path.join(hold.lowerDirs[0]!, 'arch'), 'utf8'), 'amd64');
    hold.release();
  }
});

test('an index without the host platform fails naming what it offers', async (t) => {
  const index = await pushIndex(registry, 'pull/armonly:latest', [{ platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, spec: { layers: [{ entries: [entry.file('a', 'a')] }] } }]);
  const { service } = newService(t, registriesConf([registry.host]), { platform: { os: 'linux', architecture: 'amd64' } });
  await assert.rejects(service.pull(index.reference), (err: unknown) => errors.notFound.is(err) && /linux\/amd64/.test(err.message) && /linux\/arm64\/v8/.test(err.message));
  assert.equal(service.list().length, 0);
});

test('unknown tags and unreachable registries give clear errors and leave nothing listed', async (t) => {
  const metrics = recordingMetrics();
  const { service, root } = newService(t, registriesConf([registry.host, '127.0.0.1:1']), { metrics });
  await assert.rejects(service.pull(`${registry.host}/pull/missing:nope`),
    (err: unknown) => errors.imageNotFound.is(err) && err.message.includes(`${registry.host}/pull/missing:nope`));
  await assert.rejects(service.pull('127.0.0.1:1/any/image:tag'),
    (err: unknown) => errors.registry.is(err) && err.message.includes('127.0.0.1:1'));
  assert.deepEqual(service.list(), []);
  assert.deepEqual(layerDirs(root), []);
  assert.deepEqual(metrics.calls, ['result CRADLE_ERR_IMAGE_NOT_FOUND', 'result CRADLE_ERR_REGISTRY']);
});

function recordingMetrics() {
  const calls: string[] = [];
  return {
    calls,
    recordPullBytes: (mediaType: string, bytes: number) => { calls.push(`bytes ${mediaType} ${bytes}`); },
    recordPullSkippedBytes: (bytes: number) => { calls.push(`skipped ${bytes}`); },
    recordPullResult: (code?: string) => { calls.push(`result ${code ?? 'ok'}`); },
    recordLayerSize: (bytes: number) => { calls.push(`layer-size ${bytes}`); },
    recordLayerReuse: (digest: string) => { calls.push(`reuse ${digest}`); },
  };
}

test('zstd and uncompressed layers, Docker schema2 manifests and blob redirects', async (t) => {
  const spec: ImageSpec = {
    layers: [
      { entries: [entry.file('z', 'zstd layer')], compression: 'zstd' },
      { entries: [entry.file('plain', 'plain layer')], compression: 'none' },
    ],
  };
  const oci = await pushImage(registry, 'pull/compress:v1', spec);
  const docker = await pushImage(registry, 'pull/docker:v1', { format: 'docker', layers: [{ entries: [entry.file('d', 'docker')] }] });
  const redirecting = await proxy({ kind: 'none' }, { redirectBlobs: true });
  const { service } = newService(t, registriesConf([registry.host, redirecting.host]));
  const a = await service.pull(oci.reference.replace(registry.host, redirecting.host));
  assert.equal(a.id, oci.configDigest);
  assert.ok(redirecting.requests.some((r) => r.path.startsWith('/_redirect/')), 'blobs came through the redirect');
  const hold = service.hold(a.id);
  assert.equal(fs.readFileSync(path.join(hold.lowerDirs[1]!, 'z'), 'utf8'), 'zstd layer');
  assert.equal(fs.readFileSync(path.join(hold.lowerDirs[0]!, 'plain'), 'utf8'), 'plain layer');
  hold.release();
  assert.equal((await service.pull(docker.reference)).id, docker.configDigest);
});

test('Basic auth: refused without credentials, accepted from AuthConfig fields and the auth file', async (t) => {
  await pushImage(registry, 'auth/basic:v1', smallImage('basic'));
  const guarded = await proxy({ kind: 'basic', username: 'alice', password: 's3cret' });
  const ref = `${guarded.host}/auth/basic:v1`;
  const { service } = newService(t, registriesConf([guarded.host]));
  await assert.rejects(service.pull(ref), (err: unknown) => errors.registryAuth.is(err) && err.message.includes(guarded.host));
  await assert.rejects(service.pull(ref, { username: 'alice', password: 'wrong' }), (err: unknown) => errors.registryAuth.is(err) && /rejected/.test(err.message));
  assert.ok((await service.pull(ref, { username: 'alice', password: 's3cret' })).id);
  await service.remove(ref);
  assert.ok((await service.pull(ref, { auth: Buffer.from('alice:s3cret').toString('base64') })).id);

  const second = newService(t, registriesConf([guarded.host]));
  const authFile = path.join(second.dir, 'auth.json');
  fs.writeFileSync(authFile, JSON.stringify({ auths: { [`http://${guarded.host}`]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }));
  const withFile = newService(t, registriesConf([guarded.host]), { authFile });
  assert.ok((await withFile.service.pull(ref)).id);
});

test('Bearer auth: token flow with username/password, identity token and registry token', async (t) => {
  await pushImage(registry, 'auth/bearer:v1', smallImage('bearer'));
  const guarded = await proxy({ kind: 'bearer', username: 'bob', password: 'hunter2', refreshToken: 'refresh-me', staticToken: 'kubelet-token' });
  const ref = `${guarded.host}/auth/bearer:v1`;
  const fresh = () => newService(t, registriesConf([guarded.host])).service;
  await assert.rejects(fresh().pull(ref), (err: unknown) => errors.registryAuth.is(err));
  await assert.rejects(fresh().pull(ref, { username: 'bob', password: 'nope' }), (err: unknown) => errors.registryAuth.is(err) && /token server/.test(err.message));
  guarded.reset();
  const image = await fresh().pull(ref, { username: 'bob', password: 'hunter2' });
  assert.ok(image.id);
  assert.equal(guarded.tokenRequests(), 1, 'one token serves the whole pull');
  assert.ok(guarded.requests.filter((r) => r.path.startsWith('/v2/auth/')).every((r, i) => i === 0 || r.authorization?.startsWith('Bearer ')));
  assert.ok((await fresh().pull(ref, { identityToken: 'refresh-me' })).id);
  assert.ok((await fresh().pull(ref, { registryToken: 'kubelet-token' })).id);
});

test('mirrors are tried in order and fall back to the origin', async (t) => {
  const pushed = await pushImage(registry, 'mirrored/app:v1', smallImage('mirror'));
  const origin = await proxy();
  const mirror = await proxy();
  const emptyMirror = await proxy({ kind: 'none' }, { notFound: true });
  const conf = (mirrors: string[], extra = '') => registriesConf([], `
[[registry]]
prefix = "mirrored.test"
location = "${origin.host}"
insecure = true
${extra}
${mirrors.map((m) => `[[registry.mirror]]\nlocation = "${m}"\ninsecure = true\n`).join('\n')}
`);
  const ref = 'mirrored.test/mirrored/app:v1';

  // A dead mirror is skipped, the second mirror serves everything.
  const first = newService(t, conf(['127.0.0.1:1', mirror.host]));
  const image = await first.service.pull(ref);
  assert.equal(image.id, pushed.configDigest);
  assert.deepEqual(image.repoTags, [ref], 'names stay those the user asked for');
  assert.ok(mirror.blobGets(pushed.configDigest) === 1);
  assert.equal(origin.requests.length, 0, 'the origin was not contacted');

  // A mirror without the image falls back to the origin.
  const second = newService(t, conf([emptyMirror.host]));
  assert.equal((await second.service.pull(ref)).id, pushed.configDigest);
  assert.ok(emptyMirror.manifestGets() >= 1);
  assert.ok(origin.manifestGets() >= 1);

  // A digest-only mirror is not used for tag pulls.
  mirror.reset();
  const third = newService(t, conf([mirror.host], 'mirror-by-digest-only = true'));
  await third.service.pull(ref);
  assert.equal(mirror.requests.length, 0);
  await third.service.pull(`mirrored.test/mirrored/app@${pushed.manifestDigest}`);
  assert.ok(mirror.manifestGets() >= 1);

  // Blocked registries are refused.
  const blocked = newService(t, registriesConf([], `[[registry]]\nprefix = "mirrored.test"\nlocation = "${origin.host}"\nblocked = true\n`));
  await assert.rejects(blocked.service.pull(ref), (err: unknown) => errors.registry.is(err) && /blocked/.test(err.message));
});

test('short names resolve through unqualified-search-registries and aliases', async (t) => {
  const pushed = await pushImage(registry, 'shorty:v1', smallImage('shorty'));
  const { service } = newService(t, registriesConf([registry.host],
    `unqualified-search-registries = ["127.0.0.1:1", "${registry.host}"]\n[aliases]\n"nick" = "${registry.host}/shorty"\n`));
  const image = await service.pull('shorty:v1');
  assert.equal(image.id, pushed.configDigest);
  assert.deepEqual(image.repoTags, [`${registry.host}/shorty:v1`]);
  assert.equal(service.status('shorty:v1')?.id, image.id);
  assert.equal((await service.pull('nick:v1')).id, image.id);
  const enforcing = newService(t, registriesConf([registry.host], `short-name-mode = "enforcing"\nunqualified-search-registries = ["a.test", "b.test"]\n`));
  await assert.rejects(enforcing.service.pull('shorty:v1'), (err: unknown) => errors.invalidArgument.is(err) && /ambiguous/.test(err.message));
});

test('concurrent pulls of one image, and of images sharing layers, fetch each blob once', async (t) => {
  const a = await pushImage(registry, 'dedup/a:v1', smallImage('a'));
  const b = await pushImage(registry, 'dedup/b:v1', smallImage('b'));
  const counting = await proxy();
  const { service } = newService(t, registriesConf([counting.host]));
  const refA = a.reference.replace(registry.host, counting.host);
  const refB = b.reference.replace(registry.host, counting.host);
  const results = await Promise.all([service.pull(refA), service.pull(refA), service.pull(refA), service.pull(refB)]);
  assert.deepEqual(results.map((r) => r.id), [a.configDigest, a.configDigest, a.configDigest, b.configDigest]);
  assert.equal(a.layerDigests[0], b.layerDigests[0], 'the base layer is shared');
  for (const digest of new Set([...a.layerDigests, ...b.layerDigests, a.configDigest, b.configDigest])) {
    assert.equal(counting.blobGets(digest), 1, `blob ${digest} fetched once`);
  }
});

test('a corrupted blob is rejected with a digest mismatch and nothing is kept', async (t) => {
  const pushed = await pushImage(registry, 'fault/corrupt:v1', smallImage('corrupt'));
  const bad = await proxy({ kind: 'none' }, { corruptBlobs: new Set([pushed.layerDigests[1]!]) });
  const { service, root } = newService(t, registriesConf([bad.host, registry.host]));
  await assert.rejects(service.pull(pushed.reference.replace(registry.host, bad.host)),
    (err: unknown) => errors.digestMismatch.is(err) && err.message.includes(pushed.layerDigests[1]!));
  assert.deepEqual(service.list(), []);
  assert.ok(!blobs(root).includes(pushed.layerDigests[1]!), 'the corrupt blob was never stored');
  // The intact base layer may be committing when the pull fails (past the point a cancel stops); a GC after it takes it.
  const deadline = Date.now() + 20_000;
  for (;;) {
    service.collectGarbage();
    if ((layerDirs(root).length === 0 && blobs(root).length === 0) || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.deepEqual(layerDirs(root), []);
  assert.deepEqual(blobs(root), []);
  assert.equal((await service.pull(pushed.reference)).id, pushed.configDigest, 'a later pull from a good source works');
});

test('a download cut short resumes with a Range request', async (t) => {
  const big = Buffer.alloc(3 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
  const pushed = await pushImage(registry, 'fault/resume:v1', { layers: [{ entries: [entry.file('big', big)], compression: 'none' }] });
  const cutting = await proxy({ kind: 'none' }, { truncateBlobsOnce: new Map([[pushed.layerDigests[0]!, 1 << 20]]) });
  const { service } = newService(t, registriesConf([cutting.host]));
  const image = await service.pull(pushed.reference.replace(registry.host, cutting.host));
  assert.equal(image.id, pushed.configDigest);
  const gets = cutting.requests.filter((r) => r.path.endsWith(pushed.layerDigests[0]!));
  assert.equal(gets.length, 2);
  assert.match(gets[1]!.range ?? '', /^bytes=\d+-$/);
  assert.ok(Number(/bytes=(\d+)-/.exec(gets[1]!.range!)![1]) > 0);
});

/** `bytes` of a pattern that gzip barely shrinks, so a layer of it spans many HTTP chunks. */
function noisyBytes(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

test('a layer is unpacked while it downloads, and committed only once complete', async (t) => {
  const first = noisyBytes(1 << 20, 1);
  const pushed = await pushImage(registry, 'stream/early:v1', { layers: [{ entries: [entry.file('first', first), entry.file('second', noisyBytes(2 << 20, 2))], compression: 'none' }] });
  const stalling = await proxy({ kind: 'none' }, { stallBlobs: new Map([[pushed.layerDigests[0]!, (1 << 20) + (512 << 10)]]) });
  const { service, root } = newService(t, registriesConf([stalling.host]));
  const controller = new AbortController();
  const pulling = service.pull(pushed.reference.replace(registry.host, stalling.host), undefined, controller.signal);
  pulling.catch(() => undefined);
  // With half the blob downloaded, its first file is already unpacked (out of sight, in a temp dir).
  const layers = path.join(root, 'layers');
  const deadline = Date.now() + 20_000;
  const unpackedFirst = () => fs.existsSync(layers) && fs.readdirSync(layers).filter((name) => name.startsWith('.tmp-'))
    .some((name) => { try { return fs.readFileSync(path.join(layers, name, 'diff', 'first')).equals(first); } catch { return false; } });
  while (!unpackedFirst()) {
    assert.ok(Date.now() < deadline, 'the first file was unpacked before the download ended');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.deepEqual(layerDirs(root), [], 'nothing committed while the blob is incomplete');
  controller.abort();
  await assert.rejects(pulling, (err: unknown) => errors.cancelled.is(err));
  assert.deepEqual(service.list(), []);
  assert.deepEqual(layerDirs(root), []);
});

test('a blob corrupted mid-stream fails with a digest mismatch and leaves no layer, gzip or not', async (t) => {
  for (const compression of ['none', 'gzip'] as const) {
    const pushed = await pushImage(registry, `stream/corrupt-${compression}:v1`, { layers: [{ entries: [entry.file('data', noisyBytes(3 << 20, 3))], compression }] });
    const layer = pushed.layerDigests[0]!;
    const bad = await proxy({ kind: 'none' }, { corruptBlobs: new Set([layer]) });
    const { service, root } = newService(t, registriesConf([bad.host]));
    // The gzip case breaks the decompressor mid-stream: the digest mismatch is still what is reported.
    await assert.rejects(service.pull(pushed.reference.replace(registry.host, bad.host)),
      (err: unknown) => errors.digestMismatch.is(err) && err.message.includes(layer), compression);
    assert.deepEqual(service.list(), [], compression);
    assert.deepEqual(layerDirs(root), [], `${compression}: no layer committed`);
    assert.ok(!blobs(root).includes(layer), `${compression}: the corrupt blob was never stored`);
  }
});

test('a gzip layer cut mid-stream resumes; a server ignoring the Range request restarts it; both unpack intact', async (t) => {
  const data = noisyBytes(3 << 20, 4);
  for (const ignoreRange of [false, true]) {
    const pushed = await pushImage(registry, `stream/resume-${ignoreRange ? 'norange' : 'range'}:v1`, { layers: [{ entries: [entry.file('data', data)], compression: 'gzip' }] });
    const layer = pushed.layerDigests[0]!;
    const cutting = await proxy({ kind: 'none' }, {
      truncateBlobsOnce: new Map([[layer, 1 << 20]]),
      ...(ignoreRange ? { ignoreRangeBlobs: new Set([layer]) } : {}),
    });
    const { service } = newService(t, registriesConf([cutting.host]));
    const image = await service.pull(pushed.reference.replace(registry.host, cutting.host));
    assert.equal(image.id, pushed.configDigest);
    const gets = cutting.requests.filter((r) => r.path.endsWith(layer));
    assert.equal(gets.length, 2);
    const hold = service.hold(image.id);
    try {
      assert.ok(fs.readFileSync(path.join(hold.lowerDirs[0]!, 'data')).equals(data), `content intact (ignoreRange ${ignoreRange})`);
    } finally {
      hold.release();
    }
  }
});

test('a stalled download fails after pull_progress_timeout', async (t) => {
  const pushed = await pushImage(registry, 'fault/stall:v1', smallImage('stall'));
  const stalling = await proxy({ kind: 'none' }, { stallBlobs: new Map([[pushed.layerDigests[1]!, 10]]) });
  const { service } = newService(t, registriesConf([stalling.host]), { pullProgressTimeoutSec: 1 });
  await assert.rejects(service.pull(pushed.reference.replace(registry.host, stalling.host)),
    (err: unknown) => errors.pullStalled.is(err) && err.message.includes(pushed.layerDigests[1]!));
  assert.deepEqual(service.list(), []);
});

test('an aborted pull leaves no image; the next pull completes', async (t) => {
  const pushed = await pushImage(registry, 'fault/abort:v1', smallImage('abort'));
  const stalling = await proxy({ kind: 'none' }, { stallBlobs: new Map([[pushed.layerDigests[1]!, 10]]) });
  const { service, options } = newService(t, registriesConf([stalling.host, registry.host]));
  const controller = new AbortController();
  const pulling = service.pull(pushed.reference.replace(registry.host, stalling.host), undefined, controller.signal);
  setTimeout(() => controller.abort(), 300);
  await assert.rejects(pulling, (err: unknown) => errors.cancelled.is(err));
  assert.deepEqual(service.list(), []);
  service.close();
  const again = new ImageService(options);
  t.after(() => again.close());
  assert.deepEqual(again.list(), []);
  assert.equal((await again.pull(pushed.reference)).id, pushed.configDigest);
});

test('a process killed mid-pull leaves no image; the next pull resumes the partial blob', async (t) => {
  const big = Buffer.alloc(4 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
  const pushed = await pushImage(registry, 'fault/killed:v1', { layers: [{ entries: [entry.file('big', big)], compression: 'none' }] });
  const layer = pushed.layerDigests[0]!;
  const stalling = await proxy({ kind: 'none' }, { stallBlobs: new Map([[layer, 1 << 20]]) });
  const { options, root } = newService(t, registriesConf([stalling.host]));
  const ref = pushed.reference.replace(registry.host, stalling.host);
  const script = `
    const { ImageService } = require(${JSON.stringify(path.resolve(__dirname, '../../../src/image/image-service.js'))});
    const { silentLogger } = require(${JSON.stringify(path.resolve(__dirname, '../../../src/common/logger.js'))});
    const service = new ImageService({ ...${JSON.stringify({ ...options, log: undefined })}, log: silentLogger() });
    service.pull(${JSON.stringify(ref)}).then(() => process.exit(3), () => process.exit(4));`;
  const child = spawn(process.execPath, ['-e', script], { env: cleanChildEnv(), stdio: 'ignore' });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const partial = path.join(root, 'ingest', layer.replace(':', '-'));
  const deadline = Date.now() + 20_000;
  while (!(fs.existsSync(partial) && fs.statSync(partial).size >= 1 << 20)) {
    assert.ok(Date.now() < deadline, 'the child started downloading');
    assert.equal(child.exitCode, null, 'the child is still pulling');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));

  stalling.faults.stallBlobs!.clear();
  stalling.reset();
  const again = new ImageService(options);
  t.after(() => again.close());
  assert.deepEqual(again.list(), [], 'the killed pull left no image');
  const image = await again.pull(ref);
  assert.equal(image.id, pushed.configDigest);
  const gets = stalling.requests.filter((r) => r.path.endsWith(layer));
  assert.equal(gets.length, 1);
  assert.equal(gets[0]!.range, `bytes=${1 << 20}-`, 'the download resumed where the killed process stopped');
  const hold = again.hold(image.id);
  assert.ok(fs.readFileSync(path.join(hold.lowerDirs[0]!, 'big')).equals(big));
  hold.release();
});

test('TLS registries: CAs from certs.d are trusted, unknown CAs refused unless insecure', async (t) => {
  const pushed = await pushImage(registry, 'tls/app:v1', smallImage('tls'));
  const certs = makeTestCertificates(tempDir(t));
  const secure = await proxy({ kind: 'none' }, {}, { key: certs.serverKey, cert: certs.serverCert });
  const ref = `${secure.host}/tls/app:v1`;

  const untrusted = newService(t, '');
  await assert.rejects(untrusted.service.pull(ref), (err: unknown) => errors.registry.is(err) && err.message.includes(secure.host) && /certificate/i.test(err.message));

  const trusted = newService(t, '');
  fs.mkdirSync(path.join(trusted.dir, 'certs.d', secure.host), { recursive: true });
  fs.writeFileSync(path.join(trusted.dir, 'certs.d', secure.host, 'ca.crt'), certs.caCert);
  assert.equal((await trusted.service.pull(ref)).id, pushed.configDigest);

  const insecure = newService(t, registriesConf([secure.host]));
  assert.equal((await insecure.service.pull(ref)).id, pushed.configDigest);
  assert.ok(secure.requests.length > 0);
});

test('non-distributable layers the registry does not hold come from their URLs', async (t) => {
  const foreignRegistry = await startFixtureRegistry({ extraConfig: { validation: { manifests: { urls: { allow: ['^http://127\\.0\\.0\\.1'] } } } } });
  t.after(() => foreignRegistry.stop());
  const built = await buildImage({ layers: [{ entries: [entry.file('foreign', 'from a url')], mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip' }, { entries: [entry.file('local', 'x')] }] });
  const foreign = built.layers[0]!;
  let served = 0;
  const server = http.createServer((req, res) => {
    if (req.url === `/foreign/${foreign.digest}`) {
      served++;
      res.end(foreign.blob);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/foreign/${foreign.digest}`;
  const manifest = JSON.parse(built.manifest.toString()) as { layers: { urls?: string[] }[] };
  manifest.layers[0]!.urls = [url];
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  await uploadBlob(foreignRegistry, 'foreign/app', built.layers[1]!.blob);
  await uploadBlob(foreignRegistry, 'foreign/app', built.config);
  await putManifest(foreignRegistry, 'foreign/app', 'v1', built.manifestMediaType, manifestBytes);

  const { service } = newService(t, registriesConf([foreignRegistry.host]));
  const image = await service.pull(`${foreignRegistry.host}/foreign/app:v1`);
  assert.equal(image.id, built.configDigest);
  assert.equal(served, 1);
  const hold = service.hold(image.id);
  assert.equal(fs.readFileSync(path.join(hold.lowerDirs[1]!, 'foreign'), 'utf8'), 'from a url');
  hold.release();
});

test('bad images: unsupported layer media type, wrong diff_id, layer count mismatch', async (t) => {
  const encrypted = await pushImage(registry, 'bad/encrypted:v1', { layers: [{ entries: [entry.file('a', 'a')], mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip+encrypted' }] });
  const wrongDiff = await pushImage(registry, 'bad/diffid:v1', {
    layers: [{ entries: [entry.file('a', 'a')] }],
    mutateConfig: (config) => { (config.rootfs as { diff_ids: string[] }).diff_ids = [`sha256:${'0'.repeat(64)}`]; },
  });
  const wrongCount = await pushImage(registry, 'bad/count:v1', {
    layers: [{ entries: [entry.file('a', 'a')] }],
    mutateConfig: (config) => { (config.rootfs as { diff_ids: string[] }).diff_ids = []; },
  });
  const { service, root } = newService(t, registriesConf([registry.host]));
  await assert.rejects(service.pull(encrypted.reference),
    (err: unknown) => errors.unsupportedMediaType.is(err) && err.message.includes(encrypted.layerDigests[0]!) && err.message.includes('+encrypted'));
  await assert.rejects(service.pull(wrongDiff.reference),
    (err: unknown) => errors.digestMismatch.is(err) && err.message.includes(`sha256:${'0'.repeat(64)}`) && err.message.includes(wrongDiff.layers[0]!.diffId));
  await assert.rejects(service.pull(wrongCount.reference), (err: unknown) => errors.invalidArgument.is(err) && /1 layers but the config has 0/.test(err.message));
  assert.deepEqual(service.list(), []);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(layerDirs(root), []);
});
