import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALL_CAPABILITIES, CONTAINERD_DEFAULT_CAPABILITIES, CRIO_DEFAULT_CAPABILITIES, buildCapabilities, normalizeCapability,
} from '../../../src/runtime/oci-config/capabilities';
import { buildContainerSpec } from '../../../src/runtime/oci-config/build';
import { hostCapabilities, hostMinOomScoreAdj } from '../../../src/runtime/oci-config/host-probe';
import { containerInput } from './fixtures';

const caps = (add: string[] = [], drop: string[] = [], ambient: string[] = []) =>
  ({ addCapabilities: add, dropCapabilities: drop, addAmbientCapabilities: ambient });
const sorted = (l: readonly string[]) => [...l].sort();

test('capability lists: 41 known, defaults are subsets', () => {
  assert.equal(ALL_CAPABILITIES.length, 41);
  assert.equal(new Set(ALL_CAPABILITIES).size, 41);
  assert.equal(CRIO_DEFAULT_CAPABILITIES.length, 9);
  assert.equal(CONTAINERD_DEFAULT_CAPABILITIES.length, 14);
  for (const c of [...CRIO_DEFAULT_CAPABILITIES, ...CONTAINERD_DEFAULT_CAPABILITIES]) assert.ok(ALL_CAPABILITIES.includes(c), c);
  assert.ok(!CRIO_DEFAULT_CAPABILITIES.includes('CAP_NET_RAW'));
});

test('normalizeCapability accepts CRI spellings', () => {
  assert.equal(normalizeCapability('net_admin'), 'CAP_NET_ADMIN');
  assert.equal(normalizeCapability('CAP_SYS_ADMIN'), 'CAP_SYS_ADMIN');
  assert.equal(normalizeCapability('Sys_Time'), 'CAP_SYS_TIME');
  assert.equal(normalizeCapability('FLY'), null);
});

const CASES: { name: string; c: ReturnType<typeof caps> | null; want: readonly string[] }[] = [
  { name: 'defaults when nothing asked', c: null, want: CRIO_DEFAULT_CAPABILITIES },
  { name: 'add one', c: caps(['NET_ADMIN']), want: [...CRIO_DEFAULT_CAPABILITIES, 'CAP_NET_ADMIN'] },
  { name: 'drop one', c: caps([], ['KILL']), want: CRIO_DEFAULT_CAPABILITIES.filter((x) => x !== 'CAP_KILL') },
  { name: 'drop ALL', c: caps([], ['ALL']), want: [] },
  { name: 'drop ALL add one', c: caps(['NET_BIND_SERVICE'], ['ALL']), want: ['CAP_NET_BIND_SERVICE'] },
  { name: 'add ALL', c: caps(['ALL']), want: ALL_CAPABILITIES },
  { name: 'add ALL drop one', c: caps(['ALL'], ['SYS_ADMIN']), want: ALL_CAPABILITIES.filter((x) => x !== 'CAP_SYS_ADMIN') },
  { name: 'add and drop the same: dropped', c: caps(['NET_RAW'], ['NET_RAW']), want: CRIO_DEFAULT_CAPABILITIES },
  { name: 'CAP_ prefix and case', c: caps(['cap_sys_time'], ['cap_chown']), want: [...CRIO_DEFAULT_CAPABILITIES.filter((x) => x !== 'CAP_CHOWN'), 'CAP_SYS_TIME'] },
];

for (const c of CASES) {
  test(`capabilities: ${c.name}`, () => {
    const out = buildCapabilities(c.c, false, CRIO_DEFAULT_CAPABILITIES);
    assert.deepEqual(sorted(out.bounding), sorted(c.want));
    assert.deepEqual(out.effective, out.bounding);
    assert.deepEqual(out.permitted, out.bounding);
    assert.deepEqual(out.inheritable, []);
    assert.deepEqual(out.ambient, []);
  });
}

test('capabilities: ambient caps go into every set', () => {
  const out = buildCapabilities(caps([], ['ALL'], ['NET_BIND_SERVICE']), false, CRIO_DEFAULT_CAPABILITIES);
  for (const set of [out.bounding, out.effective, out.permitted, out.inheritable, out.ambient]) assert.deepEqual(set, ['CAP_NET_BIND_SERVICE']);
});

test('capabilities: privileged means all, whatever is dropped', () => {
  const out = buildCapabilities(caps([], ['ALL']), true, CRIO_DEFAULT_CAPABILITIES);
  assert.deepEqual(out.bounding, [...ALL_CAPABILITIES]);
  assert.deepEqual(out.effective, [...ALL_CAPABILITIES]);
});

test('capabilities: unknown names are INVALID_ARGUMENT with the list index', () => {
  assert.throws(() => buildCapabilities(caps(['NET_ADMIN', 'WARP']), false, []),
    /^CradleError: config\.linux\.securityContext\.capabilities\.addCapabilities\[1\]: unknown capability "WARP"/);
  assert.throws(() => buildCapabilities(caps([], ['NOPE']), false, []), /dropCapabilities\[0\]/);
  assert.throws(() => buildCapabilities(caps([], [], ['ALL']), false, []), /addAmbientCapabilities\[0\]: "ALL" is not allowed/);
});

test('capabilities: containerd defaults can be configured', () => {
  const { spec } = buildContainerSpec(containerInput({ runtime: { defaultCapabilities: CONTAINERD_DEFAULT_CAPABILITIES } }));
  assert.equal(spec.process.capabilities!.bounding.length, 14);
});

test('full spec: privileged container gets all caps, devices, no masks, no seccomp, rw sysfs', () => {
  const probe = {
    device: () => null,
    devicesUnder: () => [{ path: '/dev/fuse', type: 'c' as const, major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }],
    realPath: (p: string) => p,
    mountPropagation: () => 'private' as const,
  };
  const { spec } = buildContainerSpec(containerInput({
    probe,
    config: { linux: { securityContext: { privileged: true, capabilities: { dropCapabilities: ['ALL'] }, maskedPaths: ['/proc/kcore'] } } },
    sandboxConfig: { linux: { securityContext: { privileged: true } } },
  }));
  assert.deepEqual(spec.process.capabilities!.bounding, [...ALL_CAPABILITIES]);
  assert.equal(spec.linux.seccomp, undefined);
  assert.equal(spec.linux.maskedPaths, undefined);
  assert.equal(spec.linux.readonlyPaths, undefined);
  assert.deepEqual(spec.linux.devices, [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }]);
  assert.deepEqual(spec.linux.resources!.devices, [{ allow: true, access: 'rwm' }]);
  const sys = spec.mounts.find((m) => m.destination === '/sys')!;
  assert.ok(sys.options!.includes('rw') && !sys.options!.includes('ro'));
  assert.ok(spec.mounts.find((m) => m.destination === '/sys/fs/cgroup')!.options!.includes('rw'));
});

test('full spec: privileged container in an unprivileged pod is refused', () => {
  assert.throws(() => buildContainerSpec(containerInput({ config: { linux: { securityContext: { privileged: true } } } })),
    /config\.linux\.securityContext\.privileged: a privileged container needs a privileged pod sandbox/);
});

test('hostCapabilities: the bounding set of cradled, by name', () => {
  // This sandbox's own mask: everything but CAP_SYS_RESOURCE (bit 24).
  const caps = hostCapabilities(ALL_CAPABILITIES, 'Name:\tx\nCapBnd:\t000001fffeffffff\n');
  assert.equal(caps.length, 40);
  assert.ok(!caps.includes('CAP_SYS_RESOURCE'));
  assert.deepEqual(hostCapabilities(ALL_CAPABILITIES, 'CapBnd:\t0000000000000401\n'), ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE']);
  assert.equal(hostCapabilities(ALL_CAPABILITIES, 'nothing').length, 41);
  assert.ok(hostCapabilities(ALL_CAPABILITIES).length > 0);
  assert.equal(hostMinOomScoreAdj('-999\n'), -999);
  assert.equal(hostMinOomScoreAdj('garbage'), 0);
  assert.equal(typeof hostMinOomScoreAdj(), 'number');
});

test('capabilities: only what the host can grant', () => {
  const host = ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE' && c !== 'CAP_KILL');
  const out = buildCapabilities(caps(['NET_ADMIN'], ['SYS_RESOURCE']), false, CRIO_DEFAULT_CAPABILITIES, host);
  assert.ok(!out.bounding.includes('CAP_KILL'), 'a default the host lacks is left out');
  assert.ok(out.bounding.includes('CAP_NET_ADMIN'));
  assert.throws(() => buildCapabilities(caps(['SYS_RESOURCE']), false, CRIO_DEFAULT_CAPABILITIES, host),
    /addCapabilities\[0\]: capability CAP_SYS_RESOURCE is not available to cradle on this host/);
  assert.deepEqual(buildCapabilities(null, true, [], host).bounding, host);
});

test('capabilities: add ALL + drop ALL leaves only the named adds (cri-o order)', () => {
  assert.deepEqual(buildCapabilities(caps(['ALL', 'CHOWN'], ['ALL']), false, CRIO_DEFAULT_CAPABILITIES).bounding, ['CAP_CHOWN']);
  assert.deepEqual(buildCapabilities(caps(['ALL'], ['ALL']), false, CRIO_DEFAULT_CAPABILITIES).bounding, []);
});

test('full spec: privileged defaults to the capabilities cradled itself holds', () => {
  const { spec } = buildContainerSpec(containerInput({
    runtime: { allCapabilities: undefined },
    config: { linux: { securityContext: { privileged: true } } },
    sandboxConfig: { linux: { securityContext: { privileged: true } } },
  }));
  assert.deepEqual(spec.process.capabilities!.bounding, hostCapabilities(ALL_CAPABILITIES));
});
