import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildContainerSpec } from '../../../src/runtime/oci-config/build';
import { buildCriMounts, imageVolumes } from '../../../src/runtime/oci-config/mounts';
import { buildDevices } from '../../../src/runtime/oci-config/devices';
import { propagationFromMountInfo, realHostProbe } from '../../../src/runtime/oci-config/host-probe';
import type { Mount__Output } from '../../../src/generated/runtime/v1/Mount';
import type { Device__Output } from '../../../src/generated/runtime/v1/Device';
import { containerInput, fakeProbe } from './fixtures';

const mount = (o: Partial<Mount__Output>): Mount__Output => ({
  containerPath: '/data', hostPath: '/srv/data', readonly: false, selinuxRelabel: false, propagation: 'PROPAGATION_PRIVATE',
  uidMappings: [], gidMappings: [], recursiveReadOnly: false, image: null, imageSubPath: '', ...o,
});

test('mounts: default set, sandbox files and shm in order', () => {
  const { spec } = buildContainerSpec(containerInput());
  assert.deepEqual(spec.mounts.map((m) => m.destination), [
    '/proc', '/dev', '/dev/pts', '/dev/mqueue', '/sys', '/sys/fs/cgroup', '/dev/shm', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf',
  ]);
  const shm = spec.mounts.find((m) => m.destination === '/dev/shm')!;
  assert.deepEqual(shm, { destination: '/dev/shm', type: 'bind', source: '/run/cradle/sandboxes/sandbox0123/shm', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'rw'] });
  const resolv = spec.mounts.find((m) => m.destination === '/etc/resolv.conf')!;
  assert.equal(resolv.source, '/var/lib/cradle/sandboxes/sandbox0123/resolv.conf');
  assert.ok(resolv.options!.includes('rw'));
  assert.ok(spec.mounts.find((m) => m.destination === '/sys')!.options!.includes('ro'));
  assert.equal(spec.root.readonly, false);
});

test('mounts: read-only rootfs makes the sandbox files read-only too', () => {
  const { spec } = buildContainerSpec(containerInput({ config: { linux: { securityContext: { readonlyRootfs: true } } } }));
  assert.equal(spec.root.readonly, true);
  for (const d of ['/etc/hosts', '/etc/resolv.conf', '/etc/hostname']) assert.ok(spec.mounts.find((m) => m.destination === d)!.options!.includes('ro'), d);
});

test('mounts: no shm path gives a private tmpfs; missing sandbox files are not mounted', () => {
  const { spec } = buildContainerSpec(containerInput({ sandbox: { shmPath: undefined, hostsPath: undefined } as never }));
  assert.equal(spec.mounts.find((m) => m.destination === '/dev/shm')!.type, 'tmpfs');
  assert.ok(!spec.mounts.some((m) => m.destination === '/etc/hosts'));
});

test('mounts: CRI mount overrides the sandbox /etc/hosts (kubelet-managed hosts file)', () => {
  const { spec } = buildContainerSpec(containerInput({
    config: { mounts: [{ containerPath: '/etc/hosts', hostPath: '/var/lib/kubelet/pods/uid/etc-hosts' }] },
  }));
  const hosts = spec.mounts.filter((m) => m.destination === '/etc/hosts');
  assert.equal(hosts.length, 1);
  assert.equal(hosts[0]!.source, '/var/lib/kubelet/pods/uid/etc-hosts');
  assert.equal(spec.mounts.at(-1)!.destination, '/etc/hosts', 'CRI mounts come last');
});

test('mounts: propagation modes map to rprivate/rslave/rshared and set rootfs propagation', () => {
  const probe = fakeProbe({ propagation: { '/': 'shared', '/private': 'private', '/slave': 'slave' } });
  const r = buildCriMounts([
    mount({ containerPath: '/a', hostPath: '/srv/a' }),
    mount({ containerPath: '/b', hostPath: '/srv/b', propagation: 'PROPAGATION_HOST_TO_CONTAINER', readonly: true }),
  ], probe, true);
  assert.deepEqual(r.mounts, [
    { destination: '/a', type: 'bind', source: '/srv/a', options: ['rbind', 'rprivate', 'rw'] },
    { destination: '/b', type: 'bind', source: '/srv/b', options: ['rbind', 'rslave', 'ro'] },
  ]);
  assert.equal(r.rootfsPropagation, 'rslave');
  const bi = buildCriMounts([
    mount({ containerPath: '/b', hostPath: '/slave/x', propagation: 'PROPAGATION_HOST_TO_CONTAINER' }),
    mount({ containerPath: '/c', hostPath: '/srv/c', propagation: 'PROPAGATION_BIDIRECTIONAL' }),
  ], probe, true);
  assert.deepEqual(bi.mounts[1]!.options, ['rbind', 'rshared', 'rw']);
  assert.equal(bi.rootfsPropagation, 'rshared');
  assert.equal(buildCriMounts([mount({})], probe, true).rootfsPropagation, undefined);
});

test('mounts: propagation needs a suitable host mount', () => {
  const probe = fakeProbe({ propagation: { '/': 'private', '/slave': 'slave', '/shared': 'shared' } });
  assert.throws(() => buildCriMounts([mount({ hostPath: '/srv/x', propagation: 'PROPAGATION_HOST_TO_CONTAINER' })], probe, true),
    /config\.mounts\[0\]\.propagation: host-to-container propagation needs \/srv\/x on a shared or slave host mount/);
  assert.throws(() => buildCriMounts([mount({ hostPath: '/slave/x', propagation: 'PROPAGATION_BIDIRECTIONAL' })], probe, true),
    /bidirectional propagation needs \/slave\/x on a shared host mount \(it is slave\)/);
  assert.doesNotThrow(() => buildCriMounts([mount({ hostPath: '/shared/x', propagation: 'PROPAGATION_BIDIRECTIONAL' })], probe, true));
  assert.doesNotThrow(() => buildCriMounts([mount({ hostPath: '/slave/x', propagation: 'PROPAGATION_HOST_TO_CONTAINER' })], probe, true));
});

test('mounts: recursive read-only', () => {
  const probe = fakeProbe();
  assert.deepEqual(buildCriMounts([mount({ readonly: true, recursiveReadOnly: true })], probe, true).mounts[0]!.options, ['rbind', 'rprivate', 'ro', 'rro']);
  assert.throws(() => buildCriMounts([mount({ readonly: true, recursiveReadOnly: true })], probe, false), /recursiveReadOnly: recursive read-only mounts are not supported by the OCI runtime/);
  assert.throws(() => buildCriMounts([mount({ recursiveReadOnly: true })], probe, true), /recursiveReadOnly: requires readonly/);
  assert.throws(() => buildCriMounts([mount({ readonly: true, recursiveReadOnly: true, propagation: 'PROPAGATION_HOST_TO_CONTAINER' })], fakeProbe({ propagation: { '/': 'shared' } }), true), /requires PROPAGATION_PRIVATE/);
});

test('mounts: bad CRI mounts are INVALID_ARGUMENT naming the index', () => {
  const probe = fakeProbe({ allExist: false, realPaths: { '/exists': '/real/exists' } });
  assert.throws(() => buildCriMounts([mount({ hostPath: '/exists' }), mount({ containerPath: '/x', hostPath: '/missing' })], probe, true),
    /config\.mounts\[1\]\.hostPath: mount source \/missing does not exist/);
  assert.deepEqual(buildCriMounts([mount({ hostPath: '/exists' })], probe, true).mounts[0]!.source, '/real/exists', 'symlinks in the source are resolved');
  const ok = fakeProbe();
  assert.throws(() => buildCriMounts([mount({ containerPath: 'rel' })], ok, true), /containerPath: "rel" is not an absolute path/);
  assert.throws(() => buildCriMounts([mount({ hostPath: 'rel' })], ok, true), /hostPath: "rel" is not an absolute path/);
  assert.throws(() => buildCriMounts([mount({ containerPath: '/' })], ok, true), /cannot mount over the container root/);
  assert.throws(() => buildCriMounts([mount({}), mount({ containerPath: '/data/' })], ok, true), /config\.mounts\[1\]\.containerPath: \/data is mounted twice/);
  assert.throws(() => buildCriMounts([mount({ uidMappings: [{ hostId: 1, containerId: 0, length: 1 }] })], ok, true),
    /config\.mounts\[0\]\.uidMappings: idmapped mounts are only supported in a pod with its own user namespace/);
});

test('mounts: a CRI mount\'s own uid/gid mappings in a pod with a user namespace, checked', () => {
  const userns = { uids: [{ containerId: 0, hostId: 100000, length: 65536 }], gids: [{ containerId: 0, hostId: 100000, length: 65536 }] };
  const maps = { uidMappings: [{ hostId: 5000, containerId: 0, length: 10 }], gidMappings: [{ hostId: 6000, containerId: 0, length: 10 }] };
  const [m] = buildCriMounts([mount(maps)], fakeProbe(), true, new Map(), userns).mounts;
  assert.deepEqual(m!.uidMappings, [{ containerID: 0, hostID: 5000, size: 10 }]);
  assert.deepEqual(m!.gidMappings, [{ containerID: 0, hostID: 6000, size: 10 }]);
  const overlapping = { ...maps, gidMappings: [{ hostId: 6000, containerId: 0, length: 10 }, { hostId: 7000, containerId: 5, length: 10 }] };
  assert.throws(() => buildCriMounts([mount(overlapping)], fakeProbe(), true, new Map(), userns), /config\.mounts\[0\]\.gidMappings: container gid ranges overlap/);
  assert.throws(() => buildCriMounts([mount({ ...maps, uidMappings: [] })], fakeProbe(), true, new Map(), userns), /uidMappings: at least one uid mapping/);
});

test('mounts: an image mount binds what the caller mounted for it, read-only and noexec', () => {
  const image = { image: 'sha256:abc', annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' };
  const sources = new Map([[1, '/var/lib/cradle/containers-data/c/image-mounts/1/rootfs/sub']]);
  const r = buildCriMounts([mount({}), mount({ hostPath: '', containerPath: '/img/', image })], fakeProbe(), true, sources);
  assert.deepEqual(r.mounts[1], {
    destination: '/img', type: 'bind', source: '/var/lib/cradle/containers-data/c/image-mounts/1/rootfs/sub',
    options: ['rbind', 'rprivate', 'ro', 'nosuid', 'nodev', 'noexec'],
  });
  assert.throws(() => buildCriMounts([mount({ hostPath: '', image })], fakeProbe(), true), /mounts\[0\]\.image: the image sha256:abc was not mounted/);
});

test('mounts: selinux_relabel is ignored', () => {
  assert.deepEqual(buildCriMounts([mount({ selinuxRelabel: true })], fakeProbe(), true).mounts[0]!.options, ['rbind', 'rprivate', 'rw']);
});

test('image volumes: anonymous volumes under the volume root unless a CRI mount covers them', () => {
  const vols = imageVolumes({ '/var/lib/mysql': {}, 'data/': {}, '/cache': {} }, '/vol', new Set(['/cache']));
  assert.deepEqual(vols.map((v) => v.containerPath), ['/data', '/var/lib/mysql']);
  for (const v of vols) assert.match(v.hostPath, /^\/vol\/[0-9a-f]{16}$/);
  assert.notEqual(vols[0]!.hostPath, vols[1]!.hostPath);
  const { spec, imageVolumes: fromSpec } = buildContainerSpec(containerInput({ image: { Cmd: ['/bin/sh'], Volumes: { '/var/lib/mysql': {} } } }));
  assert.equal(fromSpec.length, 1);
  assert.ok(fromSpec[0]!.hostPath.startsWith('/var/lib/cradle/containers/c0ffee/volumes/'));
  assert.deepEqual(spec.mounts.find((m) => m.destination === '/var/lib/mysql'), { destination: '/var/lib/mysql', type: 'bind', source: fromSpec[0]!.hostPath, options: ['rbind', 'rprivate', 'rw'] });
});

const dev = (o: Partial<Device__Output>): Device__Output => ({ containerPath: '/dev/xvdc', hostPath: '/dev/sdc', permissions: 'rwm', ...o });

test('devices: stat the host device for type/major/minor; cgroup rule per device', () => {
  const probe = fakeProbe({ devices: {
    '/dev/sdc': { path: '/dev/sdc', type: 'b', major: 8, minor: 32, fileMode: 0o660, uid: 0, gid: 6 },
    '/dev/fuse': { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
  } });
  const r = buildDevices([dev({ permissions: 'r' }), dev({ hostPath: '/dev/fuse', containerPath: '', permissions: '' })], false, probe);
  assert.deepEqual(r.devices, [
    { type: 'b', path: '/dev/xvdc', major: 8, minor: 32, fileMode: 0o660, uid: 0, gid: 6 },
    { type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
  ]);
  assert.deepEqual(r.cgroup, [
    { allow: false, access: 'rwm' },
    { allow: true, type: 'b', major: 8, minor: 32, access: 'r' },
    { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' },
  ]);
});

test('devices: a directory stands for the devices under it', () => {
  const probe = fakeProbe({ devices: {
    '/dev/snd': 'directory',
    '/dev/snd/pcmC0D0p': { path: '/dev/snd/pcmC0D0p', type: 'c', major: 116, minor: 16, fileMode: 0o660, uid: 0, gid: 29 },
    '/dev/snd/controlC0': { path: '/dev/snd/controlC0', type: 'c', major: 116, minor: 0, fileMode: 0o660, uid: 0, gid: 29 },
  } });
  const r = buildDevices([dev({ hostPath: '/dev/snd', containerPath: '/dev/sound', permissions: 'rw' })], false, probe);
  assert.deepEqual(r.devices.map((d) => d.path).sort(), ['/dev/sound/controlC0', '/dev/sound/pcmC0D0p']);
});

test('devices: errors name the device field', () => {
  const probe = fakeProbe();
  assert.throws(() => buildDevices([dev({})], false, probe), /config\.devices\[0\]\.hostPath: device \/dev\/sdc does not exist/);
  assert.throws(() => buildDevices([dev({ permissions: 'rwx' })], false, probe), /config\.devices\[0\]\.permissions: "rwx"/);
  assert.throws(() => buildDevices([dev({ permissions: 'rr' })], false, probe), /permissions/);
  assert.throws(() => buildDevices([dev({ containerPath: 'xvdc' })], false, probe), /containerPath/);
  const notDev = { ...probe, device: () => { throw new Error('/etc/passwd is not a device node'); } };
  assert.throws(() => buildDevices([dev({ hostPath: '/etc/passwd' })], false, notDev), /config\.devices\[0\]\.hostPath: \/etc\/passwd is not a device node/);
});

test('real host probe: /dev/null is c 1:3; a regular file is not a device', () => {
  assert.deepEqual(realHostProbe.device('/dev/null'), { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 });
  assert.equal(realHostProbe.device('/nonexistent-cradle-path'), null);
  assert.equal(realHostProbe.device('/dev'), 'directory');
  assert.throws(() => realHostProbe.device('/etc/hostname'), /not a device node/);
  const all = realHostProbe.devicesUnder('/dev');
  assert.ok(all.some((d) => d.path === '/dev/null'));
  assert.ok(!all.some((d) => d.path.startsWith('/dev/pts/')), 'pts are not host devices to pass on');
});

test('mountinfo: propagation of the longest matching mount point', () => {
  const info = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '30 22 0:25 / /run rw,nosuid shared:5 - tmpfs tmpfs rw',
    '31 30 0:26 / /run/private rw - tmpfs tmpfs rw',
    '32 22 0:27 / /mnt/slave rw master:7 - tmpfs tmpfs rw',
    '33 22 0:28 / /with\\040space rw - tmpfs tmpfs rw',
  ].join('\n');
  assert.equal(propagationFromMountInfo(info, '/srv/x'), 'shared');
  assert.equal(propagationFromMountInfo(info, '/run/x'), 'shared');
  assert.equal(propagationFromMountInfo(info, '/run/private/x'), 'private');
  assert.equal(propagationFromMountInfo(info, '/run/privateX'), 'shared');
  assert.equal(propagationFromMountInfo(info, '/mnt/slave'), 'slave');
  assert.equal(propagationFromMountInfo(info, '/with space/f'), 'private');
});

test('masked and readonly paths: kubelet lists win, defaults otherwise', () => {
  const def = buildContainerSpec(containerInput()).spec.linux;
  assert.ok(def.maskedPaths!.includes('/proc/kcore'));
  assert.ok(def.readonlyPaths!.includes('/proc/sys'));
  const kubelet = buildContainerSpec(containerInput({ config: { linux: { securityContext: { maskedPaths: ['/proc/foo'], readonlyPaths: ['/proc/bar'] } } } })).spec.linux;
  assert.deepEqual(kubelet.maskedPaths, ['/proc/foo']);
  assert.deepEqual(kubelet.readonlyPaths, ['/proc/bar']);
});

test('mounts: volumes and CRI mounts ordered parent-first', () => {
  const { spec } = buildContainerSpec(containerInput({
    image: { Cmd: ['/bin/sh'], Volumes: { '/var/lib/mysql': {} } },
    config: { mounts: [
      { containerPath: '/var/lib/mysql/conf.d', hostPath: '/srv/conf' },
      { containerPath: '/var', hostPath: '/srv/var' },
    ] },
  }));
  const user = spec.mounts.slice(10).map((m) => m.destination);
  assert.deepEqual(user, ['/var', '/var/lib/mysql', '/var/lib/mysql/conf.d']);
});
