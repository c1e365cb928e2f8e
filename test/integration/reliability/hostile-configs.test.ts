// Hostile container and pod configs through a real cradled: mount destinations
// through symlinks out of the rootfs, `..` in container paths, missing or
// escaping devices, log paths out of the pod's log dir, sysctls outside the pod's
// namespaces. Each gets a clear gRPC error or stays inside the container; nothing
// is created on the host outside the container's own dirs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { PodFixture } from '../../helpers/pod-fixture';
import { grpcError } from '../../helpers/cri-client';
import { mountsContaining } from '../../helpers/pod-network';
import { busyboxImage, entry } from '../../helpers/image-builder';
import { createCgroupParent, removeCgroupParent, removeEverything } from './resources';
import type { ContainerConfig } from '../../../src/generated/runtime/v1/ContainerConfig';

const CGROUP_PARENT = '/cradle-test-reliab-hostile';
const HOST_PREFIX = 'cradle-test-hostile-';
const f = new PodFixture('cradle-trl3', '10.233.0.0/24');

/** A fresh, empty host dir that a hostile config aims at; it must stay empty. */
function target(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${HOST_PREFIX}${name}-`));
}

function assertUntouched(dir: string): void {
  assert.deepEqual(fs.readdirSync(dir), [], `nothing was created in host dir ${dir}`);
  assert.deepEqual(mountsContaining(dir), [], `nothing is mounted under host dir ${dir}`);
}

type Outcome = { ok: true; containerId: string } | { ok: false; code: grpc.status; details: string };

/** CreateContainer + StartContainer; the result or the error of the first failing step. */
async function tryRun(pod: { id: string; config: import('../../../src/generated/runtime/v1/PodSandboxConfig').PodSandboxConfig }, config: ContainerConfig): Promise<Outcome> {
  try {
    const containerId = await f.runContainer(pod, config);
    return { ok: true, containerId };
  } catch (err) {
    return { ok: false, ...grpcError(err) };
  }
}

async function exec(containerId: string, script: string): Promise<string> {
  const r = await f.cri.runtime.ExecSync({ containerId, cmd: ['sh', '-c', script], timeout: 10 });
  return r.stdout.toString() + r.stderr.toString();
}

describe('hostile container configs', () => {
  const targets: string[] = [];
  const mkTarget = (name: string) => { const d = target(name); targets.push(d); return d; };
  let source: string;
  before(async () => {
    for (const stale of fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(HOST_PREFIX))) fs.rmSync(path.join(os.tmpdir(), stale), { recursive: true, force: true });
    removeCgroupParent(CGROUP_PARENT);
    createCgroupParent(CGROUP_PARENT);
    await f.start();
    source = path.join(f.dirs.dir, 'mount-source');
    fs.mkdirSync(source);
    fs.writeFileSync(path.join(source, 'marker'), 'from-host-source\n');
  });
  after(async () => {
    await removeEverything(f);
    await f.stop();
    removeCgroupParent(CGROUP_PARENT);
    for (const d of targets) fs.rmSync(d, { recursive: true, force: true });
  });

  it('an image whose /etc is a symlink out of the rootfs: a mount onto /etc/x lands inside the container', async () => {
    const host = mkTarget('etc');
    const img = await f.pushAndPull('test/hostile-etc:1', busyboxImage({
      extraLayers: [{ entries: [entry.whiteout('etc'), entry.symlink('etc', `/../../..${host}`)] }],
    }));
    const pod = await f.runPod('symetc', { linux: { cgroupParent: CGROUP_PARENT } });
    const outcome = await tryRun(pod, f.containerConfig('c', ['sleep', '1000'], {
      image: { image: img.reference },
      mounts: [{ containerPath: '/etc/x', hostPath: source, readonly: true }],
    }));
    if (outcome.ok) {
      await f.waitForState(outcome.containerId, 'CONTAINER_RUNNING');
      assert.match(await exec(outcome.containerId, 'cat /etc/x/marker'), /from-host-source/, 'the mount is visible inside the container');
    } else {
      assert.match(outcome.details, /etc/, `a clear error naming the path: ${grpc.status[outcome.code]} ${outcome.details}`);
    }
    assertUntouched(host);
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
    assertUntouched(host);
  });

  it('a symlinked mount destination deep in the image (/data -> ../../../host) stays in the rootfs', async () => {
    const host = mkTarget('data');
    const img = await f.pushAndPull('test/hostile-data:1', busyboxImage({
      extraLayers: [{ entries: [entry.dir('lib2'), entry.symlink('lib2/data', `../../../../../..${host}`)] }],
    }));
    const pod = await f.runPod('symdata', { linux: { cgroupParent: CGROUP_PARENT } });
    const outcome = await tryRun(pod, f.containerConfig('c', ['sleep', '1000'], {
      image: { image: img.reference },
      mounts: [{ containerPath: '/lib2/data/y', hostPath: source }],
    }));
    if (outcome.ok) {
      await f.waitForState(outcome.containerId, 'CONTAINER_RUNNING');
      assert.match(await exec(outcome.containerId, 'cat /lib2/data/y/marker'), /from-host-source/);
    } else {
      assert.match(outcome.details, /lib2|data/, `${grpc.status[outcome.code]} ${outcome.details}`);
    }
    assertUntouched(host);
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
    assertUntouched(host);
  });

  it('`..` in container paths: absolute ones are resolved inside the rootfs, relative ones refused', async () => {
    const host = mkTarget('dotdot');
    const pod = await f.runPod('dotdot', { linux: { cgroupParent: CGROUP_PARENT } });
    const escaping = await tryRun(pod, f.containerConfig('abs', ['sleep', '1000'], {
      mounts: [{ containerPath: `/../../../..${host}/y`, hostPath: source }],
    }));
    if (escaping.ok) {
      await f.waitForState(escaping.containerId, 'CONTAINER_RUNNING');
      assert.match(await exec(escaping.containerId, `cat ${host}/y/marker`), /from-host-source/, 'mounted at the normalized path in the container');
    } else {
      assert.equal(escaping.code, grpc.status.INVALID_ARGUMENT, escaping.details);
    }
    const relative = await tryRun(pod, f.containerConfig('rel', ['sleep', '1000'], {
      mounts: [{ containerPath: `../..${host}/z`, hostPath: source }],
    }));
    assert.equal(relative.ok, false, 'a relative container path is refused');
    if (!relative.ok) {
      assert.equal(relative.code, grpc.status.INVALID_ARGUMENT);
      assert.match(relative.details, /containerPath/);
    }
    const workdir = await tryRun(pod, f.containerConfig('wd', ['sleep', '1000'], { workingDir: `/../../..${host}/w` }));
    if (!workdir.ok) assert.notEqual(workdir.code, grpc.status.UNKNOWN, workdir.details);
    assertUntouched(host);
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
    assertUntouched(host);
  });

  it('devices: a host path that does not exist is refused by name; a `..` container path makes no node on the host', async () => {
    const host = mkTarget('dev');
    const pod = await f.runPod('devices', { linux: { cgroupParent: CGROUP_PARENT } });
    const missing = `/dev/${HOST_PREFIX}nonexistent`;
    const r = await tryRun(pod, f.containerConfig('missing', ['sleep', '1000'], {
      devices: [{ hostPath: missing, containerPath: '/dev/x', permissions: 'rwm' }],
    }));
    assert.equal(r.ok, false, 'a missing host device is an error');
    if (!r.ok) {
      assert.ok(r.code === grpc.status.INVALID_ARGUMENT || r.code === grpc.status.NOT_FOUND, `${grpc.status[r.code]} ${r.details}`);
      assert.ok(r.details.includes(missing), r.details);
    }
    assert.equal(fs.existsSync(missing), false);
    const escaping = await tryRun(pod, f.containerConfig('esc', ['sleep', '1000'], {
      devices: [{ hostPath: '/dev/null', containerPath: `/dev/../../../..${host}/null`, permissions: 'rw' }],
    }));
    if (!escaping.ok && escaping.code !== grpc.status.INVALID_ARGUMENT) wrongCodes.devices.push(`${grpc.status[escaping.code]}: ${escaping.details}`);
    assertUntouched(host);
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
    assertUntouched(host);
  });

  it('a container log path with `..` does not write outside the pod log directory', async (t) => {
    const host = mkTarget('log');
    const pod = await f.runPod('logs', { linux: { cgroupParent: CGROUP_PARENT } });
    const rel = path.relative(pod.config.logDirectory!, path.join(host, 'evil.log'));
    const r = await tryRun(pod, f.containerConfig('log', ['sh', '-c', 'echo escaped'], { logPath: rel }));
    if (r.ok) await f.waitForState(r.containerId, 'CONTAINER_EXITED');
    else assert.equal(r.code, grpc.status.INVALID_ARGUMENT, r.details);
    t.diagnostic(`log_path ${rel}: ${r.ok ? 'created' : `${grpc.status[r.code]} ${r.details}`}`);
    assertUntouched(host);
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
    assertUntouched(host);
  });

  it('sysctls outside the pod\'s namespaces are refused with INVALID_ARGUMENT naming the key; the host keeps its values', async () => {
    const read = (key: string) => fs.readFileSync(`/proc/sys/${key.replace(/\./g, '/')}`, 'utf8');
    const before = { hostname: read('kernel.hostname'), forward: read('net.ipv4.ip_forward'), swappiness: read('vm.swappiness'), shm: read('kernel.shm_rmid_forced') };
    const cases: { sysctls: Record<string, string>; ns?: object; key: string; traversal?: boolean }[] = [
      { sysctls: { 'kernel.hostname': 'evil' }, key: 'kernel.hostname' },
      { sysctls: { 'vm.swappiness': '1' }, key: 'vm.swappiness' },
      { sysctls: { 'net.ipv4.ip_forward': before.forward.trim() === '1' ? '0' : '1' }, ns: { network: 'NODE' }, key: 'net.ipv4.ip_forward' },
      { sysctls: { 'kernel.shm_rmid_forced': before.shm.trim() === '1' ? '0' : '1' }, ns: { ipc: 'NODE' }, key: 'kernel.shm_rmid_forced' },
      { sysctls: { 'net/../../kernel/hostname': 'evil' }, key: 'net/../../kernel/hostname', traversal: true },
      { sysctls: { 'net.ipv4.conf.all.forwarding/../../../../kernel/hostname': 'evil' }, key: 'kernel/hostname', traversal: true },
      { sysctls: { 'net.ipv4.ip_forward\n': '1' }, ns: { network: 'NODE' }, key: 'net.ipv4.ip_forward' },
    ];
    for (const c of cases) {
      const config = f.podConfig('sysctl', { linux: { cgroupParent: CGROUP_PARENT, sysctls: c.sysctls, ...(c.ns ? { securityContext: { namespaceOptions: c.ns } } : {}) } });
      const r = await f.cri.runtime.RunPodSandbox({ config }).then((x) => x, (err: unknown) => grpcError(err));
      if ('podSandboxId' in r) {
        await f.cri.runtime.RemovePodSandbox({ podSandboxId: r.podSandboxId });
        assert.fail(`sysctls ${JSON.stringify(c.sysctls)} with ${JSON.stringify(c.ns ?? {})} were accepted`);
      }
      if (c.traversal && r.code !== grpc.status.INVALID_ARGUMENT) {
        // Refused (by the runtime), but late and as INTERNAL: the todo test below.
        wrongCodes.sysctls.push(`${JSON.stringify(c.sysctls)} -> ${grpc.status[r.code]}: ${r.details}`);
        continue;
      }
      assert.equal(r.code, grpc.status.INVALID_ARGUMENT, `${JSON.stringify(c.sysctls)}: ${r.details}`);
      assert.ok(r.details.includes(c.key), `the error names the key: ${r.details}`);
    }
    assert.deepEqual({ hostname: read('kernel.hostname'), forward: read('net.ipv4.ip_forward'), swappiness: read('vm.swappiness'), shm: read('kernel.shm_rmid_forced') }, before);
  });

  it('a device container path with `..` is refused up front with INVALID_ARGUMENT', () => {
    assert.deepEqual(wrongCodes.devices, []);
  });

  it('sysctl keys with path segments (net/../../kernel/hostname) are refused up front with INVALID_ARGUMENT', () => {
    assert.deepEqual(wrongCodes.sysctls, []);
  });
});

/** Wrong codes for refused hostile input (safe, but INTERNAL instead of INVALID_ARGUMENT), for the todo tests. */
const wrongCodes: { devices: string[]; sysctls: string[] } = { devices: [], sysctls: [] };
