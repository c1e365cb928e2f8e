import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { parseManifest, selectPlatform, layerMediaType, MediaType, type ManifestIndex } from '../../../src/image/manifest';
import { parseChallenge, endpointHost } from '../../../src/image/registry-client';
import { credentialsFromAuth } from '../../../src/image/credentials';
import { chainIds } from '../../../src/image/layer-store';
import { errors } from '../../../src/common/errors';

const d = (c: string) => `sha256:${c.repeat(64)}`;

function index(entries: { arch: string; variant?: string; os?: string; digest: string }[]): ManifestIndex {
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: entries.map((e) => ({ mediaType: MediaType.ociManifest, digest: e.digest, size: 10, platform: { os: e.os ?? 'linux', architecture: e.arch, ...(e.variant ? { variant: e.variant } : {}) } })),
  }));
  const parsed = parseManifest(bytes, undefined, 'test');
  assert.equal(parsed.kind, 'index');
  return parsed as ManifestIndex;
}

test('platform selection picks os/arch and the best compatible variant', () => {
  const idx = index([
    { arch: 'arm', variant: 'v6', digest: d('1') },
    { arch: 'arm', variant: 'v7', digest: d('2') },
    { arch: 'arm64', digest: d('3') },
    { arch: 'amd64', os: 'windows', digest: d('4') },
    { arch: 'amd64', variant: 'v3', digest: d('5') },
    { arch: 'amd64', digest: d('6') },
    { arch: 'unknown', os: 'unknown', digest: d('7') },
  ]);
  assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'amd64' }, 'x').digest, d('6'), 'plain amd64, not v3 or windows');
  assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'amd64', variant: 'v3' }, 'x').digest, d('5'));
  assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'arm64', variant: 'v8' }, 'x').digest, d('3'), 'arm64 without variant means v8');
  assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'arm', variant: 'v7' }, 'x').digest, d('2'));
  assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'arm', variant: 'v6' }, 'x').digest, d('1'));
  const onlyV6 = index([{ arch: 'arm', variant: 'v6', digest: d('1') }]);
  assert.equal(selectPlatform(onlyV6, { os: 'linux', architecture: 'arm', variant: 'v7' }, 'x').digest, d('1'), 'v7 hosts run v6');
  const onlyV3 = index([{ arch: 'amd64', variant: 'v3', digest: d('5') }]);
  assert.throws(() => selectPlatform(onlyV3, { os: 'linux', architecture: 'amd64' }, 'img'),
    (err: unknown) => errors.notFound.is(err) && err.message.includes('linux/amd64/v3') && err.message.includes('img'));
});

test('manifests: OCI and Docker parsed; schema1, artifacts and junk rejected clearly', () => {
  const manifest = (mediaType: string, configType: string = MediaType.ociConfig) => Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType, config: { mediaType: configType, digest: d('c'), size: 2 }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('e'), size: 5 }],
  }));
  const oci = parseManifest(manifest(MediaType.ociManifest), undefined, 'x');
  assert.equal(oci.kind, 'manifest');
  const docker = parseManifest(manifest(MediaType.dockerManifest, MediaType.dockerConfig), undefined, 'x');
  assert.equal(docker.kind === 'manifest' && docker.layers[0]!.size, 5);
  const schema1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }));
  assert.throws(() => parseManifest(schema1, MediaType.dockerSchema1Signed, 'r.io/x:y'),
    (err: unknown) => errors.unsupportedMediaType.is(err) && /schema 1/.test(err.message) && err.message.includes('r.io/x:y'));
  assert.throws(() => parseManifest(manifest(MediaType.ociManifest, 'application/vnd.cncf.helm.config.v1+json'), undefined, 'x'),
    (err: unknown) => errors.unsupportedMediaType.is(err) && /helm/.test(err.message));
  assert.throws(() => parseManifest(Buffer.from('not json'), undefined, 'x'), /not valid JSON/);
  const badDigest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: { mediaType: MediaType.ociConfig, digest: 'sha256:xyz', size: 1 }, layers: [] }));
  assert.throws(() => parseManifest(badDigest, undefined, 'x'), /digest/);
});

test('layer media types: gzip, zstd, plain and foreign accepted; others refused', () => {
  assert.equal(layerMediaType('application/vnd.oci.image.layer.v1.tar+zstd', 'l').compression, 'zstd');
  assert.equal(layerMediaType('application/vnd.docker.image.rootfs.diff.tar.gzip', 'l').compression, 'gzip');
  assert.equal(layerMediaType('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', 'l').foreign, true);
  assert.throws(() => layerMediaType('application/vnd.oci.image.layer.v1.tar+gzip+encrypted', 'layer 0'),
    (err: unknown) => errors.unsupportedMediaType.is(err) && err.message.includes('layer 0'));
});

test('WWW-Authenticate challenges are parsed', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), {
    scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' },
  });
  assert.deepEqual(parseChallenge('Basic realm="x"'), { scheme: 'basic', params: { realm: 'x' } });
  assert.equal(parseChallenge('Negotiate abc'), undefined);
  assert.equal(parseChallenge(undefined), undefined);
});

test('kubelet AuthConfig: auth field decoded, explicit fields win, empty means anonymous', () => {
  assert.deepEqual(credentialsFromAuth({ auth: Buffer.from('u:p:q').toString('base64') }), { username: 'u', password: 'p:q' });
  assert.deepEqual(credentialsFromAuth({ identityToken: 't' }), { identityToken: 't' });
  assert.equal(credentialsFromAuth({}), undefined);
  assert.equal(credentialsFromAuth(undefined), undefined);
  assert.throws(() => credentialsFromAuth({ auth: Buffer.from('nocolon').toString('base64') }), /username:password/);
});

test('chain IDs follow the OCI spec', () => {
  const ids = chainIds([d('a'), d('b')]);
  assert.equal(ids[0], d('a'));
  // sha256("sha256:aaa… sha256:bbb…")
  assert.equal(ids[1], `sha256:${createHash('sha256').update(`${d('a')} ${d('b')}`).digest('hex')}`);
});

test('Docker Hub is reached at registry-1.docker.io; other registries at their own host', () => {
  assert.equal(endpointHost('docker.io'), 'registry-1.docker.io');
  assert.equal(endpointHost('quay.io'), 'quay.io');
  assert.equal(endpointHost('127.0.0.1:5000'), '127.0.0.1:5000');
});
