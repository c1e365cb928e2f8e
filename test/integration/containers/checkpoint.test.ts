// CheckpointContainer and create-from-checkpoint through a real cradled: what is
// refused and why, on any host. A successful checkpoint and restore need CRIU
// working with the kernel: test/vm/checkpoint.test.ts runs them in the VM lane.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { PodFixture } from '../../helpers/pod-fixture';
import { grpcError } from '../../helpers/cri-client';
import { findCriu } from '../../../src/containers/checkpoint';
import { writeTar } from '../../../src/containers/checkpoint-archive';

const f = new PodFixture('cradle-tck0', '10.249.0.0/24');
const CRIU = findCriu();
/** Whether CRIU can work with this kernel at all (`criu check`). */
const CRIU_WORKS = CRIU !== undefined && spawnSync(CRIU, ['check'], { encoding: 'utf8' }).status === 0
  && !/Error/.test(spawnSync(CRIU, ['check'], { encoding: 'utf8' }).stderr);

/** A checkpoint archive with these dumps and nothing else (for the refusals before any CRIU image is read). */
async function fakeArchive(name: string, config: object, spec: object, extra: Record<string, string> = {}): Promise<string> {
  const dir = path.join(f.dirs.dir, `archive-${name}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.dump'), JSON.stringify(config));
  fs.writeFileSync(path.join(dir, 'spec.dump'), JSON.stringify(spec));
  for (const [file, content] of Object.entries(extra)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  }
  const out = path.join(f.dirs.dir, `${name}.tar`);
  await writeTar(out, dir, ['config.dump', 'spec.dump', ...new Set(Object.keys(extra).map((k) => k.split('/')[0]!))]);
  return out;
}

describe('container checkpoints', () => {
  before(() => f.start());
  after(() => f.stop());

  it('CheckpointContainer refuses unknown ids, containers not running and a missing location', async () => {
    const location = path.join(f.dirs.dir, 'never.tar');
    await assert.rejects(f.cri.runtime.CheckpointContainer({ containerId: 'nope', location }), (err) => {
      assert.equal(grpcError(err).code, grpc.status.NOT_FOUND);
      return true;
    });
    const pod = await f.runPod('refused');
    const { containerId: created } = await f.cri.runtime.CreateContainer({ podSandboxId: pod.id, sandboxConfig: pod.config, config: f.containerConfig('created', ['sleep', '1000']) });
    await assert.rejects(f.cri.runtime.CheckpointContainer({ containerId: created, location }), (err) => {
      assert.equal(grpcError(err).code, grpc.status.FAILED_PRECONDITION);
      assert.match(grpcError(err).details, /is created: only a running container can be checkpointed/);
      return true;
    });
    const running = await f.runContainer(pod, f.containerConfig('running', ['sleep', '1000']));
    await assert.rejects(f.cri.runtime.CheckpointContainer({ containerId: running, location: '' }), (err) => {
      assert.equal(grpcError(err).code, grpc.status.INVALID_ARGUMENT);
      assert.match(grpcError(err).details, /location is required/);
      return true;
    });
    await assert.rejects(f.cri.runtime.CheckpointContainer({ containerId: running, location: '/nonexistent-dir/x.tar' }), (err) => {
      assert.equal(grpcError(err).code, grpc.status.INVALID_ARGUMENT);
      return true;
    });
    const tty = await f.runContainer(pod, f.containerConfig('tty', ['sleep', '1000'], { tty: true }));
    await assert.rejects(f.cri.runtime.CheckpointContainer({ containerId: tty, location }), (err) => {
      assert.equal(grpcError(err).code, grpc.status.FAILED_PRECONDITION);
      assert.match(grpcError(err).details, /has a terminal/);
      return true;
    });
    assert.equal(fs.existsSync(location), false);
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
  });

  it('a container\'s stdio on /dev/null is its own /dev/null (as runc reopens it), which CRIU can dump', async () => {
    const pod = await f.runPod('dev-null');
    const id = await f.runContainer(pod, f.containerConfig('quiet', ['sleep', '1000']));
    const { pid } = JSON.parse((await f.cri.runtime.ContainerStatus({ containerId: id, verbose: true })).info.info!) as { pid: number };
    const stdin = fs.statSync(`/proc/${pid}/fd/0`);
    assert.ok(stdin.isCharacterDevice());
    assert.equal(stdin.dev, fs.statSync(`/proc/${pid}/root/dev/null`).dev, 'on the container\'s /dev');
    assert.notEqual(stdin.dev, fs.statSync('/dev/null').dev, 'not the host\'s /dev');
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
  });

  it('where CRIU cannot work with the kernel, the checkpoint fails with CRIU\'s error and the container runs on, thawed',
    { skip: CRIU === undefined ? 'criu is not installed' : CRIU_WORKS ? 'CRIU works with this kernel: test/vm/checkpoint.test.ts covers checkpoints' : false }, async () => {
      const pod = await f.runPod('criu-fails');
      const id = await f.runContainer(pod, f.containerConfig('counter', ['sh', '-c', 'while :; do echo tick; sleep 0.1; done']));
      const location = path.join(f.dirs.dir, 'failed.tar');
      await assert.rejects(f.cri.runtime.CheckpointContainer({ containerId: id, location }), (err) => {
        assert.equal(grpcError(err).code, grpc.status.INTERNAL);
        assert.match(grpcError(err).details, /criu dump failed \(exit status \d+\): .*Error/);
        assert.match(grpcError(err).details, /CRIU's log: \S+dump\.log/);
        return true;
      });
      assert.deepEqual(fs.readdirSync(f.dirs.dir).filter((n) => n.startsWith('failed.tar')), [], 'no archive, no partial file');
      assert.equal((await f.cri.runtime.ContainerStatus({ containerId: id })).status?.state, 'CONTAINER_RUNNING');
      // Paused for the dump, resumed after its failure: it still runs commands.
      const exec = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['echo', 'thawed'], timeout: '10' });
      assert.equal(Buffer.from(exec.stdout!).toString(), 'thawed\n');
      await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
    });

  it('CreateContainer from a checkpoint archive refuses what it cannot restore, and makes nothing', { skip: CRIU === undefined ? 'criu is not installed' : false }, async () => {
    const pod = await f.runPod('restore-refused');
    const create = (image: string) => f.cri.runtime.CreateContainer({ podSandboxId: pod.id, sandboxConfig: pod.config, config: f.containerConfig('restored', [], { image: { image } }) });
    const containerDirs = () => fs.readdirSync(f.dirs.layout.containerDataDirs).filter((n) => !n.startsWith('.')).sort();
    const dirsBefore = containerDirs();
    const config = { id: 'c0ffee', name: 'counter', rootfsImageName: f.busybox.reference, createdTime: new Date().toISOString(), checkpointedTime: new Date().toISOString() };
    const spec = { process: { args: ['sh'], cwd: '/' }, mounts: [{ destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind'] }] };

    const notTar = path.join(f.dirs.dir, 'not-a.tar');
    fs.writeFileSync(notTar, 'this is not a tar archive at all, and is long enough to be read as a header'.repeat(10));
    await assert.rejects(create(notTar), (err) => {
      assert.equal(grpcError(err).code, grpc.status.INVALID_ARGUMENT, grpcError(err).details);
      assert.match(grpcError(err).details, /checkpoint archive .*not-a\.tar/);
      return true;
    });
    await assert.rejects(create(await fakeArchive('needs-mount', config, spec)), (err) => {
      assert.equal(grpcError(err).code, grpc.status.INVALID_ARGUMENT);
      assert.match(grpcError(err).details, /needs these bind mounts in config\.mounts: \/data/);
      return true;
    });
    await assert.rejects(create(await fakeArchive('other-image', { ...config, rootfsImageName: `${f.registry.host}/never/pulled:1` }, { process: { args: ['sh'] } })), (err) => {
      assert.equal(grpcError(err).code, grpc.status.NOT_FOUND);
      assert.match(grpcError(err).details, /never\/pulled:1/);
      return true;
    });
    await assert.rejects(create(await fakeArchive('terminal', config, { process: { args: ['sh'], terminal: true } })), (err) => {
      assert.equal(grpcError(err).code, grpc.status.INVALID_ARGUMENT);
      assert.match(grpcError(err).details, /had a terminal/);
      return true;
    });
    await assert.rejects(create(await fakeArchive('no-images', config, { process: { args: ['sh'] } })), (err) => {
      assert.equal(grpcError(err).code, grpc.status.INVALID_ARGUMENT);
      assert.match(grpcError(err).details, /holds no CRIU images/);
      return true;
    });
    await assert.rejects(create(await fakeArchive('escapes', config, { process: { args: ['sh'] } }, { 'checkpoint': '' }).then((file) => {
      // A member that leaves the archive's directory: rewritten in place, same length.
      const data = fs.readFileSync(file);
      let at = 0;
      while (data.subarray(at, at + 11).toString() !== 'checkpoint\0') at += 512;
      data.write('../../../x', at);
      // The header checksum covers the name: recompute it (ustar: sum of bytes with the field as spaces).
      const header = data.subarray(at, at + 512);
      header.fill(0x20, 148, 156);
      let sum = 0;
      for (const b of header) sum += b;
      header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
      fs.writeFileSync(file, data);
      return file;
    })), (err) => {
      assert.equal(grpcError(err).code, grpc.status.INVALID_ARGUMENT);
      assert.match(grpcError(err).details, /leaves the archive/);
      return true;
    });
    assert.deepEqual((await f.cri.runtime.ListContainers({ filter: { podSandboxId: pod.id } })).containers, []);
    assert.deepEqual(containerDirs(), dirsBefore, 'no container directory left behind');
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
  });

  it('a container made from an archive stays created across a restart; a restore CRIU refuses is a StartError; it is removed without a stop',
    { skip: CRIU === undefined ? 'criu is not installed' : false }, async () => {
      const pod = await f.runPod('restore-fails');
      const config = { id: 'c0ffee', name: 'counter', rootfsImageName: f.busybox.reference, createdTime: new Date().toISOString(), checkpointedTime: new Date().toISOString() };
      const archive = await fakeArchive('not-criu-images', config, { process: { args: ['sh'], cwd: '/' } }, {
        'checkpoint/inventory.img': 'not an image', 'checkpoint/descriptors.json': '["/dev/null","pipe:[1]","pipe:[2]"]',
        'rootfs-diff.tar': '', 'deleted.files': '["/etc/group"]',
      });
      const create = () => f.cri.runtime.CreateContainer({ podSandboxId: pod.id, sandboxConfig: pod.config, config: f.containerConfig('restored', [], { image: { image: archive } }) });
      const { containerId: never } = await create();
      const status = (await f.cri.runtime.ContainerStatus({ containerId: never })).status!;
      assert.equal(status.state, 'CONTAINER_CREATED');
      assert.equal(status.image?.image, f.busybox.reference, 'the checkpoint\'s image');
      await f.restart();
      assert.equal((await f.cri.runtime.ContainerStatus({ containerId: never })).status?.state, 'CONTAINER_CREATED', 'no monitor is expected before the restore');
      // Removed before any restore: nothing to stop, nothing left.
      await f.cri.runtime.RemoveContainer({ containerId: never });
      assert.equal(fs.existsSync(path.join(f.dirs.layout.containerDataDirs, never)), false);

      const { containerId } = await create();
      await assert.rejects(f.cri.runtime.StartContainer({ containerId }), (err) => {
        assert.equal(grpcError(err).code, grpc.status.INTERNAL);
        assert.match(grpcError(err).details, /restoring container .* from .*not-criu-images\.tar.*criu restore failed/);
        return true;
      });
      const failed = (await f.cri.runtime.ContainerStatus({ containerId })).status!;
      assert.equal(failed.state, 'CONTAINER_EXITED');
      assert.equal(failed.reason, 'StartError');
      assert.match(failed.message, /criu restore failed/);
      await f.cri.runtime.RemoveContainer({ containerId });
      await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
    });

  it('without CRIU, checkpoint and restore are refused saying so', async () => {
    await f.restart(false, { CRADLE_CRIU: '/nonexistent/criu' });
    const pod = await f.runPod('no-criu');
    const id = await f.runContainer(pod, f.containerConfig('running', ['sleep', '1000']));
    await assert.rejects(f.cri.runtime.CheckpointContainer({ containerId: id, location: path.join(f.dirs.dir, 'no-criu.tar') }), (err) => {
      assert.equal(grpcError(err).code, grpc.status.FAILED_PRECONDITION);
      assert.match(grpcError(err).details, /checkpoint and restore need CRIU.*\/nonexistent\/criu.*install the criu package/);
      return true;
    });
    const archive = path.join(f.dirs.dir, 'some.tar');
    fs.writeFileSync(archive, '');
    await assert.rejects(f.cri.runtime.CreateContainer({ podSandboxId: pod.id, sandboxConfig: pod.config, config: f.containerConfig('restored', [], { image: { image: archive } }) }), (err) => {
      assert.equal(grpcError(err).code, grpc.status.FAILED_PRECONDITION);
      return true;
    });
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
  });
});
