// Pods with their own user namespace (KEP-127, hostUsers: false) through cradled: the
// pod's root is an unprivileged host uid, its network, IPC and UTS namespaces are the
// user namespace's, its root filesystem and volumes are idmapped, and nothing is left
// after the pod is removed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import { PodFixture } from '../../helpers/pod-fixture';
import { mountsContaining } from '../../helpers/pod-network';
import { grpcError } from '../../helpers/cri-client';
import { entry } from '../../helpers/image-builder';
import type { PodSandboxConfig } from '../../../src/generated/runtime/v1/PodSandboxConfig';
import type { UserNamespace } from '../../../src/generated/runtime/v1/UserNamespace';
import { probeUsernsSupport } from '../../../src/sys/userns-support';

const f = new PodFixture('cradle-tun0', '10.231.0.0/24');
// A range no other test or host account uses: the pod's uid 0 is host uid BASE.
const BASE = 2_000_000_000;
const LEN = 65536;
const podUserns = (base = BASE): UserNamespace => ({
  mode: 'POD',
  uids: [{ containerId: 0, hostId: base, length: LEN }],
  gids: [{ containerId: 0, hostId: base, length: LEN }],
});
const usernsPod = (userns: UserNamespace = podUserns()): Partial<PodSandboxConfig> => ({
  linux: { cgroupParent: f.cgroupParent, securityContext: { namespaceOptions: { usernsOptions: userns } } },
});

/** Uid: and Gid: lines of a host pid, as the host sees them (real, effective, saved, fs). */
function hostIds(pid: number): { uid: number; gid: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)![1]);
  return { uid: field('Uid'), gid: field('Gid') };
}

before(async () => {
  await f.start();
});
after(async () => {
  await f.stop();
});

describe('user namespaces (hostUsers: false)', () => {
  let dir = '';
  let pod: { id: string; config: PodSandboxConfig };
  let info: { pinnedNamespaces: Record<string, string>; pause: { pid: number } };

  const exec = async (id: string, script: string): Promise<string> => {
    const r = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['sh', '-c', script], timeout: 30 });
    return (r.stdout.toString() + r.stderr.toString()).trim();
  };
  const containerPid = async (id: string): Promise<number> =>
    (JSON.parse((await f.cri.runtime.ContainerStatus({ containerId: id, verbose: true })).info.info!) as { pid: number }).pid;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-userns-'));
    fs.chmodSync(dir, 0o755);
    fs.mkdirSync(path.join(dir, 'vol'));
    fs.mkdirSync(path.join(dir, 'secret'));
    fs.writeFileSync(path.join(dir, 'secret', 'key'), 'host secret\n', { mode: 0o600 });
    pod = await f.runPod('userns', usernsPod());
    info = JSON.parse((await f.cri.runtime.PodSandboxStatus({ podSandboxId: pod.id, verbose: true })).info.info!) as typeof info;
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('Status reports userNamespaces for the default handler, from a probe that says why not where it fails', async () => {
    const s = await f.cri.runtime.Status({});
    assert.equal(s.runtimeHandlers.find((h) => h.name === '')?.features?.userNamespaces, true);
    const helper = path.resolve(__dirname, '../../../../bin/cradle-runtime');
    assert.deepEqual(probeUsernsSupport(helper, f.dirs.layout.root), { supported: true });
    assert.deepEqual(fs.readdirSync(f.dirs.layout.root).filter((n) => n.includes('userns-probe')), [], 'the probe leaves nothing');
    assert.match(probeUsernsSupport(helper, '/proc/sys').reason!, /mkdtemp in \/proc\/sys/);
  });

  it('the pause runs in a pinned user namespace that owns the pod\'s network, IPC and UTS namespaces, reported by PodSandboxStatus', async () => {
    const status = await f.cri.runtime.PodSandboxStatus({ podSandboxId: pod.id });
    const opts = status.status!.linux!.namespaces!.options!.usernsOptions!;
    assert.equal(opts.mode, 'POD');
    assert.deepEqual(opts.uids, [{ containerId: 0, hostId: BASE, length: LEN }]);
    assert.deepEqual(opts.gids, [{ containerId: 0, hostId: BASE, length: LEN }]);
    const pausePid = info.pause.pid;
    assert.equal(fs.readlinkSync(`/proc/${pausePid}/ns/user`), `user:[${fs.statSync(info.pinnedNamespaces.user!).ino}]`);
    assert.notEqual(fs.readlinkSync(`/proc/${pausePid}/ns/user`), fs.readlinkSync('/proc/self/ns/user'));
    assert.equal(fs.readFileSync(`/proc/${pausePid}/uid_map`, 'utf8').trim().split(/\s+/).join(' '), `0 ${BASE} ${LEN}`);
    assert.equal(fs.readFileSync(`/proc/${pausePid}/gid_map`, 'utf8').trim().split(/\s+/).join(' '), `0 ${BASE} ${LEN}`);
    // The pause image runs as its own user (65535 in the pod): a host uid of the pod's range.
    const ids = hostIds(pausePid);
    assert.ok(ids.uid >= BASE && ids.uid < BASE + LEN, `pause host uid ${ids.uid}`);
  });

  it('a container\'s root is the mapped unprivileged host uid; inside, id -u is 0 and its caps act on the pod\'s network', async () => {
    const id = await f.runContainer(pod, f.containerConfig('root', ['sleep', '1000']));
    await f.waitForState(id, 'CONTAINER_RUNNING');
    const pid = await containerPid(id);
    assert.deepEqual(hostIds(pid), { uid: BASE, gid: BASE }, 'the host sees the pod\'s uid 0 as BASE');
    assert.equal(fs.readlinkSync(`/proc/${pid}/ns/user`), fs.readlinkSync(`/proc/${info.pause.pid}/ns/user`), 'the container joins the pod\'s user namespace');
    assert.equal(await exec(id, 'id -u; id -g'), '0\n0');
    assert.equal((await exec(id, 'cat /proc/self/uid_map')).split(/\s+/).join(' '), `0 ${BASE} ${LEN}`);
    // The image's files are root's in the pod (idmapped layers, no copy).
    assert.match(await exec(id, 'ls -ln /bin/busybox'), /^\S+\s+\d+\s+0\s+0\s/);
    // The Node CLI's exec (what runs without an exec plan) refuses: it could only run as the host's root.
    const conmonPid = (JSON.parse((await f.cri.runtime.ContainerStatus({ containerId: id, verbose: true })).info.info!) as { conmonPid: number }).conmonPid;
    const root = fs.readFileSync(`/proc/${conmonPid}/cmdline`, 'utf8').split('\0').find((a) => a.startsWith('--root='))!.slice('--root='.length);
    const processFile = path.join(dir, 'process.json');
    fs.writeFileSync(processFile, JSON.stringify({ args: ['id', '-u'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] }));
    const nodeExec = spawnSync(process.execPath, [path.resolve(__dirname, '../../../src/oci-runtime/main.js'), `--root=${root}`, 'exec', '--process', processFile, id], { encoding: 'utf8' });
    assert.notEqual(nodeExec.status, 0);
    assert.match(nodeExec.stderr, /the container has a user namespace, which only the native launcher joins/);
    assert.equal(nodeExec.stdout, '', 'nothing ran');
    assert.equal(await exec(id, 'touch /made-here && echo ok'), 'ok', 'the pod\'s root writes its root filesystem');
    // Its own files and /dev/shm are its root's (owned on the host by the pod's root, not idmapped).
    for (const file of ['/etc/hosts', '/etc/resolv.conf', '/etc/hostname', '/dev/shm']) assert.match(await exec(id, `ls -lnd ${file}`), /^\S+\s+\d+\s+0\s+0\s/, file);
    assert.equal(await exec(id, 'echo x > /dev/shm/x && echo "10.0.0.9 extra" >> /etc/hosts && echo ok'), 'ok');
    // Port 80 needs CAP_NET_BIND_SERVICE in the user namespace owning the network
    // namespace: nc listens until timeout ends it (a refused bind exits at once, status 1).
    const listened = await exec(id, 'timeout 1 nc -l -p 80 2>&1; echo status=$?');
    assert.match(listened, /status=(124|143)$/);
    assert.doesNotMatch(listened, /denied/);
    assert.match(await exec(id, 'nc -l -p 80 & sleep 0.3; netstat -ltn; kill $!'), /:80\s.*LISTEN/);
    await f.cri.runtime.RemoveContainer({ containerId: id });
  });

  it('the root filesystem is the only mount the host sees of an idmapped overlay: no layer clone after create, after remove, or after a failed mount', async () => {
    // mountinfo's root and mount point fields, for every mount of this test's state.
    const ours = () => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' '))
      .filter((x) => x.length > 4 && (x[3]!.includes(f.dirs.dir) || x[4]!.includes(f.dirs.dir)))
      .map((x) => `${x[3]} ${x[4]} ${x[x.indexOf('-') + 1]}`).sort();
    const before = ours();
    const id = await f.runContainer(pod, f.containerConfig('mounts', ['sleep', '1000']));
    const added = ours().filter((m) => !before.includes(m));
    assert.equal(added.length, 1, `one new mount: ${added.join('; ')}`);
    assert.match(added[0]!, new RegExp(`^/ \\S*${id}\\S*/rootfs overlay$`));
    await f.cri.runtime.RemoveContainer({ containerId: id });
    assert.deepEqual(ours(), before, 'nothing left after remove');
    // The launcher's step itself, failing early (a missing layer) and late (overlayfs refuses a missing upper).
    const helper = path.resolve(__dirname, '../../../../bin/cradle-runtime');
    const work = fs.mkdtempSync(path.join(f.dirs.dir, 'idmap-'));
    try {
      for (const d of ['l0', 'l1', 'upper', 'work', 'target']) fs.mkdirSync(path.join(work, d));
      const run = (lowers: string[], upper: string) => spawnSync(helper, ['__idmap-overlay', info.pinnedNamespaces.user!, path.join(work, 'target'), work, upper, path.join(work, 'work'), ...lowers], { encoding: 'utf8' });
      const missingLayer = run(['l0', 'gone'], path.join(work, 'upper'));
      assert.notEqual(missingLayer.status, 0);
      assert.match(missingLayer.stderr, /idmapped overlay: open_tree .*\/gone: No such file or directory/);
      const missingUpper = run(['l0', 'l1'], path.join(work, 'no-upper'));
      assert.notEqual(missingUpper.status, 0);
      assert.match(missingUpper.stderr, /mount overlayfs on the attached idmapped layers \(2\): No such file or directory/);
      assert.deepEqual(ours(), before, 'a failed overlay leaves no mount');
      const made = run(['l0', 'l1'], path.join(work, 'upper'));
      assert.equal(made.status, 0, made.stderr);
      assert.deepEqual(ours().filter((m) => !before.includes(m)), [`/ ${path.join(work, 'target')} overlay`], 'the overlay alone');
      assert.deepEqual(fs.readdirSync(path.join(work, 'target')), [], 'the scratch tmpfs is not what the host sees');
    } finally {
      spawnSync('umount', ['-l', path.join(work, 'target')]);
      fs.rmSync(work, { recursive: true, force: true });
    }
    assert.deepEqual(ours(), before);
  });

  it('the pod\'s UTS and mount namespaces are its user namespace\'s: CAP_SYS_ADMIN of the pod sets the hostname and mounts, never the host\'s, and cannot undo the runtime\'s mounts', async () => {
    const hostHostname = fs.readFileSync('/proc/sys/kernel/hostname', 'utf8');
    const id = await f.runContainer(pod, f.containerConfig('admin', ['sleep', '1000'], {
      linux: { securityContext: { capabilities: { addCapabilities: ['SYS_ADMIN'], dropCapabilities: [], addAmbientCapabilities: [] }, namespaceOptions: { usernsOptions: podUserns() } } },
    }));
    await f.waitForState(id, 'CONTAINER_RUNNING');
    assert.equal(await exec(id, 'hostname renamed-in-pod && hostname'), 'renamed-in-pod');
    assert.equal(fs.readFileSync('/proc/sys/kernel/hostname', 'utf8'), hostHostname);
    // Its mount namespace is the user namespace's: it mounts there, but what the runtime
    // mounted is locked (masked paths stay masked, read-only stays read-only).
    assert.equal(await exec(id, 'mkdir -p /tmp/m && mount -t tmpfs none /tmp/m && touch /tmp/m/x && echo mounted'), 'mounted');
    assert.equal(await exec(id, 'wc -c < /proc/keys'), '0', '/proc/keys is masked (/dev/null)');
    assert.match(await exec(id, 'umount /proc/keys 2>&1; echo status=$?'), /status=[1-9]/);
    assert.match(await exec(id, 'mount -o remount,rw /sys 2>&1; echo status=$?'), /status=[1-9]/);
    assert.equal(await exec(id, 'wc -c < /proc/keys'), '0', '/proc/keys is still masked');
    assert.match(await exec(id, 'touch /sys/x 2>&1'), /Read-only file system/);
    // Nothing it mounted reached the host.
    assert.deepEqual(mountsContaining('/tmp/m').filter((m) => m.endsWith('/tmp/m')), []);
    await f.cri.runtime.RemoveContainer({ containerId: id });
  });

  it('the pod\'s root cannot read a root-only host file its maps do not cover; through the pod\'s maps it reads it as its own', async () => {
    const unmapped = {
      containerPath: '/unmapped', hostPath: path.join(dir, 'secret'), readonly: true, propagation: 'PROPAGATION_PRIVATE' as const,
      // Host files of uid/gid 0 shown as ids outside the pod's range: nobody's in the pod.
      uidMappings: [{ containerId: 0, hostId: BASE + LEN, length: 1 }], gidMappings: [{ containerId: 0, hostId: BASE + LEN, length: 1 }],
    };
    const mapped = { containerPath: '/mapped', hostPath: path.join(dir, 'secret'), readonly: true, propagation: 'PROPAGATION_PRIVATE' as const };
    const id = await f.runContainer(pod, f.containerConfig('reader', ['sleep', '1000'], { mounts: [unmapped, mapped] }));
    await f.waitForState(id, 'CONTAINER_RUNNING');
    // CAP_DAC_OVERRIDE is in the default set, but only for files of ids the pod maps.
    assert.match(await exec(id, 'cat /unmapped/key 2>&1; ls -ln /unmapped/key'), /Permission denied[\s\S]*65534\s+65534/);
    assert.equal(await exec(id, 'cat /mapped/key'), 'host secret');
    await f.cri.runtime.RemoveContainer({ containerId: id });
  });

  it('files written on an idmapped volume carry the ids the pod sees, on the host too', async () => {
    const vol = { containerPath: '/vol', hostPath: path.join(dir, 'vol'), readonly: false, propagation: 'PROPAGATION_PRIVATE' as const };
    const root = await f.runContainer(pod, f.containerConfig('writer', ['sleep', '1000'], { mounts: [vol] }));
    const user = await f.runContainer(pod, f.containerConfig('writer1000', ['sleep', '1000'], {
      mounts: [vol], linux: { securityContext: { runAsUser: { value: '1000' }, runAsGroup: { value: '1000' }, namespaceOptions: { usernsOptions: podUserns() } } },
    }));
    await f.waitForState(root, 'CONTAINER_RUNNING');
    await f.waitForState(user, 'CONTAINER_RUNNING');
    assert.equal(await exec(root, 'echo a > /vol/by-root && chmod 777 /vol && echo ok'), 'ok');
    assert.equal(await exec(user, 'id -u && echo b > /vol/by-1000 && echo ok'), '1000\nok');
    const byRoot = fs.statSync(path.join(dir, 'vol', 'by-root'));
    const by1000 = fs.statSync(path.join(dir, 'vol', 'by-1000'));
    assert.deepEqual([byRoot.uid, byRoot.gid], [0, 0], 'the pod\'s root writes as uid 0 on the volume');
    assert.deepEqual([by1000.uid, by1000.gid], [1000, 1000]);
    // The writable layer is not idmapped: the host ids of the pod's are stored there.
    const upper = path.join(f.dirs.root, 'containers-data', root, 'upper');
    if (fs.existsSync(upper)) assert.equal(fs.statSync(upper).uid, BASE);
    await f.cri.runtime.RemoveContainer({ containerId: root });
    await f.cri.runtime.RemoveContainer({ containerId: user });
  });

  it('an image mount (KEP-4639) shows the image\'s files as the pod\'s, on idmapped layers too', async () => {
    const data = await f.pushAndPull('test/userns-image-mount:1', { layers: [{ entries: [entry.dir('data'), entry.file('data/a.txt', 'from the image\n', { mode: 0o600 })] }] });
    const imageRef = (await f.cri.image.ImageStatus({ image: { image: data.reference } })).image!.id;
    const id = await f.runContainer(pod, f.containerConfig('imgmount', ['sleep', '1000'], {
      mounts: [{ containerPath: '/img', image: { image: imageRef }, readonly: true, propagation: 'PROPAGATION_PRIVATE' }],
    }));
    await f.waitForState(id, 'CONTAINER_RUNNING');
    // Root-only in the image (0600, uid 0): the pod's root reads it because the layers show it as its own.
    assert.equal(await exec(id, 'cat /img/data/a.txt'), 'from the image');
    assert.match(await exec(id, 'ls -ln /img/data/a.txt'), /^-rw-------\s+\d+\s+0\s+0\s/);
    await f.cri.runtime.RemoveContainer({ containerId: id });
  });

  it('mode NODE is the host\'s user namespace; a container cannot leave the pod\'s or ask for one in a pod without it', async () => {
    const nodeMode = f.containerConfig('node', ['true'], { linux: { securityContext: { namespaceOptions: { usernsOptions: { mode: 'NODE' } } } } });
    await assert.rejects(f.cri.runtime.CreateContainer({ podSandboxId: pod.id, config: nodeMode, sandboxConfig: pod.config }), (err) => {
      assert.equal(grpcError(err).code, grpcStatus.INVALID_ARGUMENT, grpcError(err).details);
      assert.match(grpcError(err).details, /usernsOptions\.mode: the pod sandbox has a user namespace/);
      return true;
    });
    // hostUsers: true, as the kubelet says it: mode NODE, the host's user namespace.
    const hostPod = await f.runPod('hostusers', usernsPod({ mode: 'NODE', uids: [], gids: [] }));
    const hostPause = (JSON.parse((await f.cri.runtime.PodSandboxStatus({ podSandboxId: hostPod.id, verbose: true })).info.info!) as typeof info).pause.pid;
    assert.equal(fs.readlinkSync(`/proc/${hostPause}/ns/user`), fs.readlinkSync('/proc/self/ns/user'));
    const podMode = f.containerConfig('pod', ['true'], { linux: { securityContext: { namespaceOptions: { usernsOptions: podUserns() } } } });
    await assert.rejects(f.cri.runtime.CreateContainer({ podSandboxId: hostPod.id, config: podMode, sandboxConfig: hostPod.config }), (err) => {
      assert.equal(grpcError(err).code, grpcStatus.INVALID_ARGUMENT, grpcError(err).details);
      assert.match(grpcError(err).details, /has no user namespace of its own/);
      return true;
    });
    const unmapped = f.containerConfig('unmapped', ['true'], { linux: { securityContext: { runAsUser: { value: '70000' }, namespaceOptions: { usernsOptions: podUserns() } } } });
    await assert.rejects(f.cri.runtime.CreateContainer({ podSandboxId: pod.id, config: unmapped, sandboxConfig: pod.config }), (err) => {
      assert.equal(grpcError(err).code, grpcStatus.INVALID_ARGUMENT, grpcError(err).details);
      assert.match(grpcError(err).details, /runAsUser: uid 70000 is not mapped in the pod's user namespace \(uids 0-65535\)/);
      return true;
    });
    const status = await f.cri.runtime.PodSandboxStatus({ podSandboxId: hostPod.id });
    assert.equal(status.status!.linux!.namespaces!.options!.usernsOptions!.mode, 'NODE');
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: hostPod.id });
  });

  it('mappings the node cannot honour are INVALID_ARGUMENT, and nothing is made', async () => {
    const runDirs = () => (fs.existsSync(f.dirs.layout.podRunDirs) ? fs.readdirSync(f.dirs.layout.podRunDirs).sort() : []);
    const before = runDirs();
    const map = (containerId: number, hostId: number, length: number) => ({ containerId, hostId, length });
    const cases: [UserNamespace, RegExp][] = [
      [{ mode: 'POD', uids: [map(0, BASE, 1000), map(500, BASE + 5000, 10)], gids: [map(0, BASE, LEN)] }, /uids: container uid ranges overlap/],
      [{ mode: 'POD', uids: [map(0, BASE, 1000), map(2000, BASE + 500, 10)], gids: [map(0, BASE, LEN)] }, /uids: host uid ranges overlap/],
      [{ mode: 'POD', uids: [map(1, BASE, LEN)], gids: [map(0, BASE, LEN)] }, /uids: container uid 0 is not mapped/],
      [{ mode: 'POD', uids: [map(0, 0, LEN)], gids: [map(0, BASE, LEN)] }, /uids\[0\]\.hostId: maps the host's root uid 0/],
      [{ mode: 'POD', uids: [map(0, BASE, 0)], gids: [map(0, BASE, LEN)] }, /uids\[0\]\.length: must be at least 1/],
      [{ mode: 'POD', uids: [map(0, BASE, LEN)], gids: [] }, /gids: at least one gid mapping is required/],
      [{ mode: 'POD', uids: Array.from({ length: 341 }, (_, i) => map(i, BASE + i, 1)), gids: [map(0, BASE, LEN)] }, /341 uid mappings: the kernel accepts at most 340/],
      [{ mode: 'POD', uids: [map(0, 4294967000, LEN)], gids: [map(0, BASE, LEN)] }, /host uids 4294967000\+65536 run past/],
      [{ mode: 'CONTAINER', uids: [], gids: [] }, /mode CONTAINER is not supported/],
    ];
    for (const [userns, pattern] of cases) {
      await assert.rejects(f.cri.runtime.RunPodSandbox({ config: f.podConfig('bad-userns', usernsPod(userns)) }), (err) => {
        assert.equal(grpcError(err).code, grpcStatus.INVALID_ARGUMENT, grpcError(err).details);
        assert.match(grpcError(err).details, pattern);
        return true;
      });
    }
    const hostNet = f.podConfig('bad-userns', usernsPod());
    hostNet.linux!.securityContext!.namespaceOptions!.network = 'NODE';
    await assert.rejects(f.cri.runtime.RunPodSandbox({ config: hostNet }), (err) => grpcError(err).code === grpcStatus.INVALID_ARGUMENT && /host's network/.test(grpcError(err).details));
    assert.deepEqual(runDirs(), before, 'no pod run directory was made');
  });

  it('a pod whose pause fails in its user namespace leaves no pin, mount or run directory', async () => {
    const pins = () => ['user', 'net', 'ipc', 'uts'].flatMap((k) => fs.readdirSync(f.dirs.layout.namespacePinDir(k as 'user')));
    const runDirs = () => fs.readdirSync(f.dirs.layout.podRunDirs).sort();
    const mounts = () => mountsContaining(f.dirs.dir + '/').sort();
    const before = { pins: pins(), runDirs: runDirs(), mounts: mounts() };
    // A valid key whose value the kernel refuses: the launcher fails on it in the pause.
    const config = f.podConfig('userns-fails', usernsPod());
    config.linux!.sysctls = { 'net.ipv4.ip_local_port_range': '3000 1000' };
    await assert.rejects(f.cri.runtime.RunPodSandbox({ config }), (err) => {
      assert.match(grpcError(err).details, /net\.ipv4\.ip_local_port_range/);
      return true;
    });
    assert.deepEqual({ pins: pins(), runDirs: runDirs(), mounts: mounts() }, before);
  });

  it('a restarted cradled keeps the pod\'s user namespace: a new container joins it', async () => {
    await f.restart();
    const status = await f.cri.runtime.PodSandboxStatus({ podSandboxId: pod.id });
    assert.equal(status.status!.state, 'SANDBOX_READY');
    assert.equal(status.status!.linux!.namespaces!.options!.usernsOptions!.mode, 'POD');
    const id = await f.runContainer(pod, f.containerConfig('after-restart', ['sleep', '1000']));
    await f.waitForState(id, 'CONTAINER_RUNNING');
    const pid = await containerPid(id);
    assert.equal(fs.readlinkSync(`/proc/${pid}/ns/user`), fs.readlinkSync(`/proc/${info.pause.pid}/ns/user`));
    assert.deepEqual(hostIds(pid), { uid: BASE, gid: BASE });
    assert.equal(await exec(id, 'id -u'), '0');
    await f.cri.runtime.RemoveContainer({ containerId: id });
  });

  it('removing the pod leaves no mount, pin or process behind', async () => {
    const other = await f.runPod('userns-gone', usernsPod(podUserns(BASE + LEN)));
    const id = await f.runContainer(other, f.containerConfig('c', ['sleep', '1000'], {
      mounts: [{ containerPath: '/vol', hostPath: path.join(dir, 'vol'), readonly: false, propagation: 'PROPAGATION_PRIVATE' }],
    }));
    await f.waitForState(id, 'CONTAINER_RUNNING');
    const pins = (JSON.parse((await f.cri.runtime.PodSandboxStatus({ podSandboxId: other.id, verbose: true })).info.info!) as typeof info).pinnedNamespaces;
    const pid = await containerPid(id);
    assert.deepEqual(Object.keys(pins).sort(), ['ipc', 'net', 'user', 'uts']);
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: other.id });
    for (const pin of Object.values(pins)) {
      assert.equal(fs.existsSync(pin), false, `${pin} removed`);
      assert.deepEqual(mountsContaining(pin), []);
    }
    assert.deepEqual(mountsContaining(other.id), [], 'no mount of the pod');
    assert.deepEqual(mountsContaining(id), [], 'no mount of the container');
    assert.equal(fs.existsSync(`/proc/${pid}`), false, 'the container process is gone');
  });
});
