// The image RPCs through a real cradled, pulling from the fixture registry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { allowInsecureRegistry, makeTempDirs, startCradled, type Cradled, type TempDirs } from '../../helpers/daemon';
import { startFixtureRegistry, type FixtureRegistry } from '../../helpers/registry';
import { busyboxImage, pushImage, pushIndex, type PushedImage } from '../../helpers/image-builder';
import { grpcError, type CriClient } from '../../helpers/cri-client';

let registry: FixtureRegistry;
let dirs: TempDirs;
let daemon: Cradled;
let cri: CriClient;
let busybox: PushedImage;

function sample(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(found.lastIndexOf(' ') + 1));
}

before(async () => {
  registry = await startFixtureRegistry();
  busybox = await pushImage(registry, 'cradle/busybox:1.0', busyboxImage({ config: { User: '1000' } }));
  await pushImage(registry, 'cradle/busybox:latest', busyboxImage({ config: { User: '1000' } }));
  dirs = makeTempDirs();
  allowInsecureRegistry(dirs, registry.host);
  daemon = await startCradled({ args: ['--log-level', 'debug', '--metrics-enable', '--metrics-port', '0'] }, dirs);
  cri = daemon.client();
});

after(async () => {
  await daemon?.stop();
  await registry?.stop();
});

test('PullImage by tag answers the image ID; ListImages, StreamImages and ImageStatus agree', async () => {
  const ref = `${registry.host}/cradle/busybox:1.0`;
  const pulled = await cri.image.PullImage({ image: { image: ref } });
  assert.equal(pulled.imageRef, busybox.imageId);
  const listed = (await cri.image.ListImages({})).images.find((i) => i.id === busybox.imageId);
  assert.ok(listed, 'listed');
  assert.deepEqual(listed.repoTags, [ref]);
  assert.deepEqual(listed.repoDigests, [busybox.digestReference]);
  assert.equal(listed.uid?.value, '1000');
  assert.ok(Number(listed.size) > 100_000);
  const streamed = (await cri.imageStreams.StreamImages({})).flatMap((m) => m.images);
  assert.deepEqual(streamed.map((i) => i.id), (await cri.image.ListImages({})).images.map((i) => i.id));

  for (const key of [ref, busybox.imageId, busybox.digestReference]) {
    const status = await cri.image.ImageStatus({ image: { image: key }, verbose: true });
    assert.equal(status.image?.id, busybox.imageId, key);
    const info = JSON.parse(status.info.info!) as { imageConfig: { config: { User: string } } };
    assert.equal(info.imageConfig.config.User, '1000');
  }
});

test('a second tag of the same image shares the ID; removing one tag keeps the other', async () => {
  const latest = `${registry.host}/cradle/busybox:latest`;
  const pulled = await cri.image.PullImage({ image: { image: latest } });
  assert.equal(pulled.imageRef, busybox.imageId, 'same config, same image');
  let status = await cri.image.ImageStatus({ image: { image: busybox.imageId } });
  assert.deepEqual([...status.image!.repoTags].sort(), [`${registry.host}/cradle/busybox:1.0`, latest].sort());
  await cri.image.RemoveImage({ image: { image: latest } });
  status = await cri.image.ImageStatus({ image: { image: busybox.imageId } });
  assert.deepEqual(status.image!.repoTags, [`${registry.host}/cradle/busybox:1.0`]);
  assert.equal((await cri.image.ImageStatus({ image: { image: latest } })).image, null, 'absent tag: no image, no error');
});

test('a multi-arch index resolves to linux/amd64', async () => {
  const amd64 = busyboxImage({ config: { Env: ['ARCH=amd64'] } });
  const arm64 = busyboxImage({ config: { Env: ['ARCH=arm64'] }, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  const index = await pushIndex(registry, 'cradle/multi:1', [
    { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, spec: arm64 },
    { platform: { os: 'linux', architecture: 'amd64' }, spec: amd64 },
  ]);
  const pulled = await cri.image.PullImage({ image: { image: `${registry.host}/cradle/multi:1` } });
  const status = await cri.image.ImageStatus({ image: { image: pulled.imageRef }, verbose: true });
  assert.ok((JSON.parse(status.info.info!) as { imageConfig: { config: { Env: string[] } } }).imageConfig.config.Env.includes('ARCH=amd64'));
  assert.deepEqual(status.image!.repoDigests, [`${registry.host}/cradle/multi@${index.digest}`]);
});

test('bad input: unknown image is NOT_FOUND naming it, empty image is INVALID_ARGUMENT, absent removal is fine', async () => {
  await assert.rejects(cri.image.PullImage({ image: { image: `${registry.host}/cradle/nope:1` } }), (err) => {
    const e = grpcError(err);
    assert.equal(e.code, grpc.status.NOT_FOUND);
    assert.match(e.details, /cradle\/nope:1/);
    return true;
  });
  await assert.rejects(cri.image.PullImage({ image: { image: '' } }), (err) => {
    assert.equal(grpcError(err).code, grpc.status.INVALID_ARGUMENT);
    assert.match(grpcError(err).details, /image\.image is required/);
    return true;
  });
  await assert.rejects(cri.image.PullImage({}), (err) => grpcError(err).code === grpc.status.INVALID_ARGUMENT);
  await cri.image.RemoveImage({ image: { image: `${registry.host}/cradle/never-pulled:1` } });
  assert.ok(!(await cri.image.ListImages({})).images.some((i) => i.repoTags.some((t) => t.includes('nope'))), 'nothing half-listed');
});

test('credentials sent with a pull never reach the log, even at debug', async () => {
  await cri.image.PullImage({
    image: { image: `${registry.host}/cradle/busybox:1.0` },
    auth: { username: 'someone', password: 'hunter2-very-secret', auth: Buffer.from('someone:hunter2-very-secret').toString('base64'), registryToken: 'tok-abcdef-123' },
  });
  const text = daemon.stderrLines.join('\n');
  for (const secret of ['hunter2-very-secret', Buffer.from('someone:hunter2-very-secret').toString('base64'), 'tok-abcdef-123']) {
    assert.ok(!text.includes(secret), `secret ${secret} logged`);
  }
  assert.ok(daemon.logRecords().some((r) => r.msg === 'pulling image' && r.withAuth === true), 'the pull itself is logged');
});

test('pull metrics count successes and failures by error code', async () => {
  const line = daemon.logRecords().find((r) => r.msg === 'metrics server listening')!;
  const text = await (await fetch(`http://${String(line.address)}/metrics`)).text();
  const p = 'container_runtime_cradle_';
  assert.ok((sample(text, `${p}image_pulls_success_total`) ?? 0) >= 3);
  assert.equal(sample(text, `${p}image_pulls_failure_total{error="CRADLE_ERR_IMAGE_NOT_FOUND"}`), 1);
  assert.ok((sample(text, `${p}image_pulls_layer_size_count`) ?? 0) >= 1);
});

test('ImageFsInfo reports the store; a restarted cradled keeps its images', async () => {
  const fsInfo = await cri.image.ImageFsInfo({});
  const usage = fsInfo.imageFilesystems[0]!;
  assert.ok(Number(usage.usedBytes!.value) > 100_000);
  assert.ok(Number(usage.inodesUsed!.value) > 0);
  assert.ok(usage.fsId!.mountpoint.startsWith(dirs.root), usage.fsId!.mountpoint);
  assert.ok(BigInt(usage.timestamp) > BigInt(Date.now() - 60_000) * 1_000_000n, 'timestamp in nanoseconds');

  const before = (await cri.image.ListImages({})).images.map((i) => i.id).sort();
  await daemon.stop({ keepDirs: true });
  daemon = await startCradled({}, dirs);
  cri = daemon.client();
  const afterRestart = (await cri.image.ListImages({})).images.map((i) => i.id).sort();
  assert.deepEqual(afterRestart, before);
  await cri.image.RemoveImage({ image: { image: busybox.imageId } });
  assert.equal((await cri.image.ImageStatus({ image: { image: busybox.imageId } })).image, null);
});
