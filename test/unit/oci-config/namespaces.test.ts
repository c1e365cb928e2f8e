import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildContainerNamespaces } from '../../../src/runtime/oci-config/namespaces';
import { buildContainerSpec } from '../../../src/runtime/oci-config/build';
import type { NamespaceOption__Output } from '../../../src/generated/runtime/v1/NamespaceOption';
import { containerInput, sandboxFacts } from './fixtures';

const opts = (o: Partial<NamespaceOption__Output>): NamespaceOption__Output => ({
  network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '', usernsOptions: null, ...o,
});
const sb = sandboxFacts();

test('namespaces: default pod container', () => {
  const r = buildContainerNamespaces(opts({}), sb, undefined, false);
  assert.deepEqual(r.namespaces, [
    { type: 'mount' },
    { type: 'network', path: '/run/cradle/ns/net/sandbox0123' },
    { type: 'ipc', path: '/run/cradle/ns/ipc/sandbox0123' },
    { type: 'uts', path: '/run/cradle/ns/uts/sandbox0123' },
    { type: 'pid' },
  ]);
  assert.deepEqual([r.hostNetwork, r.hostIpc, r.hostPid, r.hostUts], [false, false, false, false]);
});

test('namespaces: null options = the CRI zero value, POD for all (the pod\'s PID namespace when it has one)', () => {
  assert.deepEqual(buildContainerNamespaces(null, sb, undefined, false).namespaces, buildContainerNamespaces(opts({ pid: 'POD' }), sb, undefined, false).namespaces);
  const noSharedPid = { ...sb, namespaces: { ...sb.namespaces, pid: undefined } };
  assert.ok(buildContainerNamespaces(null, noSharedPid, undefined, false).namespaces.some((n) => n.type === 'pid' && !n.path), 'a new one otherwise');
});

test('namespaces: host network / ipc / pid', () => {
  const hostSb = sandboxFacts({ namespaces: { network: 'host', ipc: 'host', uts: 'host', pid: 'host' } });
  const r = buildContainerNamespaces(opts({ network: 'NODE', ipc: 'NODE', pid: 'NODE' }), hostSb, undefined, false);
  assert.deepEqual(r.namespaces, [{ type: 'mount' }]);
  assert.deepEqual([r.hostNetwork, r.hostIpc, r.hostPid, r.hostUts], [true, true, true, true]);
  // POD mode in a host-network sandbox also means host.
  const r2 = buildContainerNamespaces(opts({}), hostSb, undefined, false);
  assert.equal(r2.hostNetwork, true);
  assert.ok(!r2.namespaces.some((n) => n.type === 'network' || n.type === 'uts'));
});

test('namespaces: shared pod PID namespace', () => {
  const r = buildContainerNamespaces(opts({ pid: 'POD' }), sb, undefined, false);
  assert.deepEqual(r.namespaces.find((n) => n.type === 'pid'), { type: 'pid', path: '/proc/4242/ns/pid' });
  const noPid = sandboxFacts({ namespaces: { ...sb.namespaces, pid: undefined } as never });
  assert.throws(() => buildContainerNamespaces(opts({ pid: 'POD' }), noPid, undefined, false), /namespaceOptions\.pid: the pod has no shared PID namespace/);
});

test('namespaces: TARGET joins the target container PID namespace', () => {
  const r = buildContainerNamespaces(opts({ pid: 'TARGET', targetId: 'abc' }), sb, '/proc/777/ns/pid', false);
  assert.deepEqual(r.namespaces.find((n) => n.type === 'pid'), { type: 'pid', path: '/proc/777/ns/pid' });
  assert.throws(() => buildContainerNamespaces(opts({ pid: 'TARGET' }), sb, undefined, false), /namespaceOptions\.targetId: required/);
  assert.throws(() => buildContainerNamespaces(opts({ pid: 'TARGET', targetId: 'abc' }), sb, undefined, false), /target container "abc"/);
});

test('namespaces: CONTAINER ipc is private; TARGET network is invalid', () => {
  const r = buildContainerNamespaces(opts({ ipc: 'CONTAINER' }), sb, undefined, false);
  assert.deepEqual(r.namespaces.find((n) => n.type === 'ipc'), { type: 'ipc' });
  assert.throws(() => buildContainerNamespaces(opts({ network: 'TARGET' }), sb, undefined, false), /namespaceOptions\.network: mode TARGET/);
});

test('namespaces: cgroup namespace on v2; the pod\'s user namespace joined, never left or asked for without one', () => {
  assert.ok(buildContainerNamespaces(opts({}), sb, undefined, true).namespaces.some((n) => n.type === 'cgroup'));
  const podMode = opts({ usernsOptions: { mode: 'POD', uids: [], gids: [] } });
  assert.throws(() => buildContainerNamespaces(podMode, sb, undefined, false), /usernsOptions\.mode: the pod sandbox has no user namespace of its own/);
  assert.doesNotThrow(() => buildContainerNamespaces(opts({ usernsOptions: { mode: 'NODE', uids: [], gids: [] } }), sb, undefined, false));
  assert.ok(!buildContainerNamespaces(null, sb, undefined, false).namespaces.some((n) => n.type === 'user'));
  const maps = [{ containerId: 0, hostId: 100000, length: 65536 }];
  const withUserns = { ...sb, userns: { path: '/run/cradle/ns/user/sandbox0123', uids: maps, gids: maps } };
  for (const o of [podMode, null]) {
    assert.deepEqual(buildContainerNamespaces(o, withUserns, undefined, false).namespaces.find((n) => n.type === 'user'), { type: 'user', path: '/run/cradle/ns/user/sandbox0123' });
  }
  assert.throws(() => buildContainerNamespaces(opts({ usernsOptions: { mode: 'NODE', uids: [], gids: [] } }), withUserns, undefined, false), /cannot run in the host's/);
  assert.throws(() => buildContainerNamespaces(opts({ usernsOptions: { mode: 'CONTAINER', uids: [], gids: [] } }), withUserns, undefined, false), /mode CONTAINER is not supported/);
});

test('full spec in a pod with a user namespace: the maps, and every bind idmapped with the pod\'s unless it has its own or is the pod\'s own file', () => {
  const maps = [{ containerId: 0, hostId: 100000, length: 65536 }];
  const input = containerInput({ config: { mounts: [{ containerPath: '/data', hostPath: '/srv/data' }] } });
  input.sandbox = { ...input.sandbox, userns: { path: '/run/cradle/ns/user/sandbox0123', uids: maps, gids: maps } };
  const { spec } = buildContainerSpec(input);
  const oci = [{ containerID: 0, hostID: 100000, size: 65536 }];
  assert.deepEqual(spec.linux.uidMappings, oci);
  assert.deepEqual(spec.linux.gidMappings, oci);
  const binds = spec.mounts.filter((m) => m.type === 'bind');
  assert.ok(binds.length > 0);
  const podOwned = ['/dev/shm', '/etc/hosts', '/etc/resolv.conf', '/etc/hostname'];
  assert.ok(binds.some((m) => !podOwned.includes(m.destination)));
  for (const m of binds.filter((b) => !podOwned.includes(b.destination))) assert.deepEqual([m.uidMappings, m.gidMappings], [oci, oci], m.destination);
  // The pod's own files and /dev/shm (the run root's tmpfs) are owned by its root instead.
  for (const m of spec.mounts.filter((x) => x.type !== 'bind' || podOwned.includes(x.destination))) assert.equal(m.uidMappings, undefined, m.destination);
  assert.equal(buildContainerSpec(containerInput()).spec.linux.uidMappings, undefined, 'none without a user namespace');
});

test('full spec: hostname only with the pod UTS namespace', () => {
  assert.equal(buildContainerSpec(containerInput()).spec.hostname, 'web-0');
  const host = buildContainerSpec(containerInput({
    sandbox: { namespaces: { network: 'host', ipc: 'host', uts: 'host' } },
    config: { linux: { securityContext: { namespaceOptions: { network: 'NODE', ipc: 'NODE', pid: 'CONTAINER' } } } },
  })).spec;
  assert.equal(host.hostname, undefined);
  assert.ok(host.process.env.includes('HOSTNAME=web-0'));
  const v2 = buildContainerSpec(containerInput({ runtime: { cgroupVersion: 2 } })).spec;
  assert.ok(v2.linux.namespaces.some((n) => n.type === 'cgroup'));
});
