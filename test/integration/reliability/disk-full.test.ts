// The state filesystem full or read-only, for real: cradled's root on a small tmpfs
// that the test resizes and remounts. Pulls and creates fail with a clear error,
// nothing half-made is visible (no image listed, no container, no mount), and once
// space (or write access) is back the same calls succeed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { PodFixture } from '../../helpers/pod-fixture';
import { grpcError } from '../../helpers/cri-client';
import { entry, pushImage, type LayerEntry, type PushedImage } from '../../helpers/image-builder';
import { mountsContaining } from '../../helpers/pod-network';

const f = new PodFixture('cradle-tdf0', '10.223.0.0/24');
const MiB = 1024 * 1024;

/** Incompressible, deterministic bytes (gzip cannot make the image fit). */
function seededBytes(seed: string, length: number): Buffer {
  return createCipheriv('aes-256-ctr', createHash('sha256').update(seed).digest(), Buffer.alloc(16)).update(Buffer.alloc(length));
}

function remount(options: string): void {
  // A read-only remount is refused while a file is open for writing: the pull
  // workers of the previous case may still be closing theirs. A descriptor that
  // stays open fails this after the deadline (wide: a loaded machine is slow to
  // close), naming the processes that hold files open for writing.
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      execFileSync('mount', ['-o', `remount,${options}`, f.dirs.root], { stdio: ['ignore', 'ignore', 'pipe'] });
      return;
    } catch (err) {
      const busy = /busy/.test(String((err as { stderr?: Buffer }).stderr ?? ''));
      if (!busy) throw err;
      if (Date.now() > deadline) throw new Error(`remount,${options} of ${f.dirs.root} still busy; open for writing: ${writersUnder(f.dirs.root).join(', ') || 'none seen'}`);
      execFileSync('sleep', ['0.2']);
    }
  }
}

describe('state filesystem full or read-only', () => {
  let big: PushedImage;

  before(async () => {
    await f.start();
    // Move the daemon's root (busybox and the pause image already in it) onto a 40 MiB tmpfs.
    await f.daemon.stop({ keepDirs: true });
    const saved = `${f.dirs.root}.saved`;
    fs.renameSync(f.dirs.root, saved);
    fs.mkdirSync(f.dirs.root);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m,mode=0711', 'cradle-test-full', f.dirs.root]);
    execFileSync('cp', ['-a', `${saved}/.`, f.dirs.root]);
    fs.rmSync(saved, { recursive: true, force: true });
    await f.restart();
    const layers = [0, 1].map((l) => {
      const entries: LayerEntry[] = [entry.dir(`data${l}`)];
      for (let i = 0; i < 6; i++) entries.push(entry.file(`data${l}/blob${i}`, seededBytes(`disk-full-${l}-${i}`, 2 * MiB)));
      return { entries };
    });
    big = await pushImage(f.registry, 'test/big:1', { layers }); // ~24 MiB, twice that while unpacking
  });
  after(async () => {
    try { remount('rw,size=40m'); } catch { /* not mounted */ }
    await f.stop(); // unmounts what is under the temp dir, the tmpfs included
  });

  it('a pull that runs out of space is RESOURCE_EXHAUSTED, lists nothing, and succeeds once there is room', async () => {
    remount('size=30m');
    const images = (await f.cri.image.ListImages({})).images.length;
    await assert.rejects(f.cri.image.PullImage({ image: { image: big.reference } }), (err) => {
      assert.equal(grpcError(err).code, grpc.status.RESOURCE_EXHAUSTED, grpcError(err).details);
      assert.match(grpcError(err).details, /no space left/i);
      return true;
    });
    assert.equal((await f.cri.image.ImageStatus({ image: { image: big.reference } })).image, null);
    assert.equal((await f.cri.image.ListImages({})).images.length, images);
    remount('size=200m');
    await f.cri.image.PullImage({ image: { image: big.reference } });
    assert.ok((await f.cri.image.ImageStatus({ image: { image: big.reference } })).image);
    await f.cri.image.RemoveImage({ image: { image: big.reference } });
  });

  it('CreateContainer on a full disk fails clearly and leaves no container, mount or directory', async () => {
    remount('size=200m');
    const pod = await f.runPod('full');
    const dataDir = f.dirs.layout.containerDataDirs;
    const before = fs.existsSync(dataDir) ? fs.readdirSync(dataDir).length : 0;
    const filler = path.join(f.dirs.root, 'filler');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M', 'count=400'], { stdio: 'ignore' });
    } catch { /* dd stops at ENOSPC: the disk is full */ }
    const config = f.containerConfig('nospace', ['sleep', '1000']);
    await assert.rejects(f.cri.runtime.CreateContainer({ podSandboxId: pod.id, config, sandboxConfig: pod.config }), (err) => {
      assert.equal(grpcError(err).code, grpc.status.RESOURCE_EXHAUSTED, grpcError(err).details);
      return true;
    });
    assert.deepEqual((await f.cri.runtime.ListContainers({ filter: { podSandboxId: pod.id } })).containers, []);
    assert.equal(fs.existsSync(dataDir) ? fs.readdirSync(dataDir).length : 0, before, 'no containers-data dir left');
    assert.deepEqual(mountsContaining(dataDir), []);
    fs.rmSync(filler);
    const id = await f.runContainer(pod, config);
    await f.waitForState(id, 'CONTAINER_RUNNING');
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
  });

  it('a read-only state filesystem: pull fails clearly, nothing is listed, and it works once writable', async () => {
    remount('ro');
    try {
      await assert.rejects(f.cri.image.PullImage({ image: { image: big.reference } }), (err) => {
        assert.equal(grpcError(err).code, grpc.status.FAILED_PRECONDITION, grpcError(err).details);
        assert.match(grpcError(err).details, /read-only/i);
        return true;
      });
      assert.equal((await f.cri.image.ImageStatus({ image: { image: big.reference } })).image, null);
    } finally {
      remount('rw');
    }
    await f.cri.image.PullImage({ image: { image: big.reference } });
    assert.ok((await f.cri.image.ImageStatus({ image: { image: big.reference } })).image);
  });

  it('CreateContainer on a read-only state filesystem: FAILED_PRECONDITION, nothing left, works once writable', async () => {
    const pod = await f.runPod('readonly');
    const config = f.containerConfig('ro', ['sleep', '1000']);
    remount('ro');
    try {
      await assert.rejects(f.cri.runtime.CreateContainer({ podSandboxId: pod.id, config, sandboxConfig: pod.config }), (err) => {
        assert.equal(grpcError(err).code, grpc.status.FAILED_PRECONDITION, grpcError(err).details);
        assert.match(grpcError(err).details, /read-only/i);
        return true;
      });
    } finally {
      remount('rw');
    }
    assert.deepEqual((await f.cri.runtime.ListContainers({ filter: { podSandboxId: pod.id } })).containers, []);
    assert.deepEqual(mountsContaining(f.dirs.layout.containerDataDirs), []);
    const id = await f.runContainer(pod, config);
    await f.waitForState(id, 'CONTAINER_RUNNING');
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
  });
  // A record's new state is visible only once it is on disk (RecordStore.update):
  // when the write fails mid-RPC, what cradled reports and what it would recover
  // after a restart are the same old state.
  const recorded = (records: string, id: string): string =>
    (JSON.parse(fs.readFileSync(path.join(records, `${id}.json`), 'utf8')) as { state: string }).state;
  const containerState = async (id: string): Promise<string> => String((await f.cri.runtime.ContainerStatus({ containerId: id })).status!.state);
  const podState = async (id: string): Promise<string> => String((await f.cri.runtime.PodSandboxStatus({ podSandboxId: id })).status!.state);
  const rejectsReadOnly = async (call: Promise<unknown>) => assert.rejects(call, (err) => {
    assert.equal(grpcError(err).code, grpc.status.FAILED_PRECONDITION, grpcError(err).details);
    assert.match(grpcError(err).details, /read-only/i);
    return true;
  });

  it('StartContainer whose new state cannot be saved: still created in memory and on disk; a retry records it running', async () => {
    const pod = await f.runPod('ro-start');
    const { containerId } = await f.cri.runtime.CreateContainer({ podSandboxId: pod.id, config: f.containerConfig('ro-start', ['sleep', '1000']), sandboxConfig: pod.config });
    remount('ro');
    try {
      await rejectsReadOnly(f.cri.runtime.StartContainer({ containerId }));
      assert.equal(await containerState(containerId), 'CONTAINER_CREATED');
      assert.equal(recorded(f.dirs.layout.containerRecords, containerId), 'CONTAINER_CREATED');
    } finally {
      remount('rw');
    }
    await f.cri.runtime.StartContainer({ containerId });
    assert.equal(await containerState(containerId), 'CONTAINER_RUNNING');
    assert.equal(recorded(f.dirs.layout.containerRecords, containerId), 'CONTAINER_RUNNING');
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
  });

  it('StopContainer whose exit cannot be saved: memory and disk agree, and a restart records the exit', async () => {
    const pod = await f.runPod('ro-stop');
    const id = await f.runContainer(pod, f.containerConfig('ro-stop', ['sleep', '1000']));
    remount('ro');
    try {
      await rejectsReadOnly(f.cri.runtime.StopContainer({ containerId: id, timeout: 0 }));
      assert.equal(await containerState(id), recorded(f.dirs.layout.containerRecords, id));
    } finally {
      remount('rw');
    }
    await f.restart();
    assert.equal(await containerState(id), 'CONTAINER_EXITED');
    assert.equal(recorded(f.dirs.layout.containerRecords, id), 'CONTAINER_EXITED');
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
  });

  it('StopPodSandbox whose new state cannot be saved: memory and disk agree; a retry and a restart see it stopped', async () => {
    const pod = await f.runPod('ro-stoppod');
    remount('ro');
    try {
      await assert.rejects(f.cri.runtime.StopPodSandbox({ podSandboxId: pod.id }), (err) => {
        assert.equal(grpcError(err).code, grpc.status.FAILED_PRECONDITION, grpcError(err).details);
        return true;
      });
      assert.equal(await podState(pod.id), recorded(f.dirs.layout.podRecords, pod.id));
    } finally {
      remount('rw');
    }
    await f.cri.runtime.StopPodSandbox({ podSandboxId: pod.id });
    assert.equal(await podState(pod.id), 'SANDBOX_NOTREADY');
    assert.equal(recorded(f.dirs.layout.podRecords, pod.id), 'SANDBOX_NOTREADY');
    await f.restart();
    assert.equal(await podState(pod.id), 'SANDBOX_NOTREADY');
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
  });
});

/** `pid (comm): path` of each file under `dir` that a process holds open for writing. */
function writersUnder(dir: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let fds: string[];
    try { fds = fs.readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      try {
        const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (!target.startsWith(dir + '/')) continue;
        const flags = parseInt(/flags:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0', 8);
        if ((flags & 3) !== 0) found.push(`${pid} (${fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()}): ${target}`);
      } catch { /* closed meanwhile */ }
    }
  }
  return found;
}
