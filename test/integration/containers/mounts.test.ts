// Mount kinds current kubelets ask for, through cradled: recursive read-only binds
// (KEP-3857), where a host directory with a submount stays read-only all the way down,
// and image mounts (KEP-4639), an image pulled by the kubelet mounted read-only.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import { PodFixture } from '../../helpers/pod-fixture';
import { mountsContaining } from '../../helpers/pod-network';
import { entry, type PushedImage } from '../../helpers/image-builder';
import { grpcError } from '../../helpers/cri-client';
import type { Mount } from '../../../src/generated/runtime/v1/Mount';

const f = new PodFixture('cradle-tmv0', '10.229.0.0/24');

before(async () => {
  await f.start();
});
after(async () => {
  await f.stop();
});

describe('recursive read-only mounts', () => {
  let dir = '';
  let vol = '';
  let sub = '';
  let pod: { id: string; config: Parameters<PodFixture['runContainer']>[0]['config'] };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-rro-'));
    vol = path.join(dir, 'vol');
    sub = path.join(vol, 'sub');
    fs.mkdirSync(sub, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'cradle-rro-test', sub]);
    pod = await f.runPod('rro');
  });
  after(async () => {
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
    execFileSync('umount', ['-l', sub], { stdio: 'ignore' });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const touch = async (id: string, file: string): Promise<string> => {
    const r = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['sh', '-c', `touch ${file} 2>&1 && echo written`], timeout: 30 });
    return r.stdout.toString().trim();
  };
  const volume = (extra: Partial<Mount>): Mount => ({ containerPath: '/vol', hostPath: vol, readonly: true, propagation: 'PROPAGATION_PRIVATE', ...extra });

  it('Status reports the feature for the default handler', async () => {
    const s = await f.cri.runtime.Status({});
    const handler = s.runtimeHandlers.find((h) => h.name === '');
    assert.equal(handler?.features?.recursiveReadOnlyMounts, true);
  });

  it('recursive_read_only makes the submount read-only too; plain readonly leaves it writable', async () => {
    const rro = await f.runContainer(pod, f.containerConfig('rro', ['sleep', '1000'], { mounts: [volume({ recursiveReadOnly: true })] }));
    const ro = await f.runContainer(pod, f.containerConfig('ro', ['sleep', '1000'], { mounts: [volume({})] }));
    await f.waitForState(rro, 'CONTAINER_RUNNING');
    await f.waitForState(ro, 'CONTAINER_RUNNING');
    assert.match(await touch(rro, '/vol/top'), /Read-only file system/);
    assert.match(await touch(rro, '/vol/sub/x'), /Read-only file system/, 'the submount is read-only with recursive_read_only');
    assert.match(await touch(ro, '/vol/top'), /Read-only file system/);
    assert.equal(await touch(ro, '/vol/sub/x'), 'written', 'plain readonly reaches only the top mount');
    assert.ok(fs.existsSync(path.join(sub, 'x')), 'the write landed on the host submount');
  });

  it('recursive_read_only without readonly is INVALID_ARGUMENT', async () => {
    await assert.rejects(
      f.cri.runtime.CreateContainer({ podSandboxId: pod.id, config: f.containerConfig('bad', ['true'], { mounts: [volume({ readonly: false, recursiveReadOnly: true })] }), sandboxConfig: pod.config }),
      (err: { code: number; details: string }) => err.code === 3 && /recursiveReadOnly: requires readonly/.test(err.details),
    );
  });
});

describe('image mounts', () => {
  let pod: { id: string; config: Parameters<PodFixture['runContainer']>[0]['config'] };
  let data: PushedImage;
  let imageRef: string;
  const mountsDir = () => path.join(f.dirs.root, 'containers-data');
  const leftMounts = () => mountsContaining(`${mountsDir()}/`).filter((m) => m.includes('/image-mounts/'));
  const layerDir = () => path.join(f.dirs.root, 'image', 'layers', data.diffIds[0]!.replace('sha256:', ''));

  before(async () => {
    // Two layers: the mount is the overlay of both; a script (noexec must stop it) and symlinks out of the image.
    data = await f.pushAndPull('test/image-mount-data:1', {
      layers: [
        { entries: [
          entry.dir('data'), entry.file('data/a.txt', `one ${Date.now()}\n`), entry.file('data/run.sh', '#!/bin/sh\necho ran\n', { mode: 0o755 }),
          entry.symlink('etc-link', '/etc'), entry.symlink('data/up', '../../../../..'),
        ] },
        { entries: [entry.file('data/b.txt', 'two\n')] },
      ],
    });
    imageRef = (await f.cri.image.ImageStatus({ image: { image: data.reference } })).image!.id;
    pod = await f.runPod('imgmount');
  });
  after(async () => {
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id }).catch(() => undefined);
  });

  const exec = async (id: string, script: string): Promise<string> => {
    const r = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['sh', '-c', `${script} 2>&1`], timeout: 30 });
    return r.stdout.toString().trim();
  };
  const imageMount = (containerPath: string, extra: Partial<Mount> = {}): Mount =>
    ({ containerPath, image: { image: imageRef }, readonly: true, propagation: 'PROPAGATION_PRIVATE', ...extra });
  const create = (name: string, mounts: Mount[]) =>
    f.cri.runtime.CreateContainer({ podSandboxId: pod.id, config: f.containerConfig(name, ['sleep', '1000'], { mounts }), sandboxConfig: pod.config });

  it('the image is mounted read-only and noexec, whole or by sub-path; RemoveImage waits for the container; RemoveContainer unmounts', async () => {
    const id = await f.runContainer(pod, f.containerConfig('img', ['sleep', '1000'], {
      mounts: [imageMount('/img'), imageMount('/sub', { imageSubPath: 'data' })],
    }));
    await f.waitForState(id, 'CONTAINER_RUNNING');
    assert.match(await exec(id, 'cat /img/data/a.txt /img/data/b.txt'), /^one \d+\ntwo$/, 'both layers are in the mount');
    assert.match(await exec(id, 'cat /sub/a.txt'), /^one \d+$/, 'image_sub_path mounts that directory');
    assert.match(await exec(id, 'touch /img/x'), /Read-only file system/);
    assert.match(await exec(id, 'touch /sub/x'), /Read-only file system/);
    assert.match(await exec(id, '/sub/run.sh'), /Permission denied/, 'noexec');
    assert.equal(await exec(id, 'sh /sub/run.sh'), 'ran', 'readable');
    assert.equal(leftMounts().length, 2, 'one overlay per image mount on the host');

    // As for a container's own image: the image goes from the list, its layers stay while the container uses them.
    await f.cri.image.RemoveImage({ image: { image: imageRef } });
    assert.equal((await f.cri.image.ImageStatus({ image: { image: imageRef } })).image, null);
    assert.ok(fs.existsSync(layerDir()), 'the layers are kept while mounted');
    assert.equal(await exec(id, 'cat /img/data/b.txt'), 'two');

    // A restart loses nothing: the record still knows its mounts, and removal after it unmounts them.
    await f.restart();
    assert.ok(fs.existsSync(layerDir()), 'the layers are held again after a restart');
    await f.cri.runtime.RemoveContainer({ containerId: id });
    assert.deepEqual(leftMounts(), [], 'RemoveContainer unmounted the image');
    assert.ok(!fs.existsSync(layerDir()), 'the removed image\'s layers are collected once unused');
    await f.cri.image.PullImage({ image: { image: data.reference } });
    imageRef = (await f.cri.image.ImageStatus({ image: { image: data.reference } })).image!.id;
  });

  it('bad sub-paths and a host path next to the image are INVALID_ARGUMENT, an unknown image NOT_FOUND; nothing is left', async () => {
    const before = fs.readdirSync(mountsDir()).length;
    for (const [sub, message] of [
      ['../etc', /must not contain "\.\."/], ['data/../../etc', /must not contain "\.\."/], ['/data', /must be relative/],
      ['nope', /"nope" does not exist in image/], ['etc-link', /leads out of image/], ['data/up', /leads out of image/],
    ] as const) {
      await assert.rejects(create('bad', [imageMount('/img', { imageSubPath: sub })]), (err) => {
        const e = grpcError(err);
        return e.code === grpcStatus.INVALID_ARGUMENT && message.test(e.details) && e.details.includes('imageSubPath');
      }, sub);
    }
    await assert.rejects(create('bad', [imageMount('/img', { hostPath: '/tmp' })]),
      (err) => grpcError(err).code === grpcStatus.INVALID_ARGUMENT && /hostPath: must be empty for an image mount/.test(grpcError(err).details));
    await assert.rejects(create('bad', [imageMount('/img', { image: { image: 'sha256:' + '0'.repeat(64) } })]),
      (err) => grpcError(err).code === grpcStatus.NOT_FOUND);
    assert.deepEqual(leftMounts(), [], 'no overlay left mounted');
    assert.equal(fs.readdirSync(mountsDir()).length, before, 'no container directory left');
  });

  it('a crash after the image is mounted leaves nothing once cradled restarts', async () => {
    await f.restart(false, { CRADLE_TEST_HOOKS: JSON.stringify({ crashAt: ['CreateContainer:image-mounts-mounted'] }) });
    const before = fs.readdirSync(mountsDir()).length;
    await assert.rejects(create('crash', [imageMount('/img')]));
    assert.equal((await f.daemon.waitExit()).signal, 'SIGKILL');
    assert.equal(leftMounts().length, 1, 'the crash left the overlay mounted');
    await f.restart();
    assert.deepEqual(leftMounts(), [], 'reclaimed at start');
    assert.equal(fs.readdirSync(mountsDir()).length, before);
    // The kubelet's retry works.
    const id = await f.runContainer(pod, f.containerConfig('crash', ['sleep', '1000'], { mounts: [imageMount('/img')] }));
    await f.waitForState(id, 'CONTAINER_RUNNING');
    assert.equal(await exec(id, 'cat /img/data/b.txt'), 'two');
  });
});
