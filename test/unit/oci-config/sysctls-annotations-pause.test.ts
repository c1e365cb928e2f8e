import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateSysctls, sysctlNamespace, normalizeSysctlKey } from '../../../src/runtime/oci-config/sysctls';
import { ANNOTATIONS, readRecoveryAnnotations } from '../../../src/runtime/oci-config/annotations';
import { buildContainerSpec, buildPauseSpec, normalizeSignal } from '../../../src/runtime/oci-config/build';
import { containerInput, pauseInput } from './fixtures';

const podNs = { network: false, ipc: false, uts: false };
const F = 'config.linux.sysctls';

test('sysctls: namespaced ones pass, in dotted form', () => {
  assert.deepEqual(validateSysctls({
    'net.ipv4.ip_unprivileged_port_start': '0', 'net/ipv4/conf/eth0.100/forwarding': '1', 'kernel.shm_rmid_forced': '1',
    'kernel.msgmax': '65536', 'fs.mqueue.msg_max': '10', 'kernel.sem': '250 32000 100 128', 'kernel.domainname': 'example.org',
  }, podNs, F), {
    'net.ipv4.ip_unprivileged_port_start': '0', 'net.ipv4.conf.eth0/100.forwarding': '1', 'kernel.shm_rmid_forced': '1',
    'kernel.msgmax': '65536', 'fs.mqueue.msg_max': '10', 'kernel.sem': '250 32000 100 128', 'kernel.domainname': 'example.org',
  });
  assert.equal(normalizeSysctlKey('net.ipv4.ip_forward'), 'net.ipv4.ip_forward');
  assert.equal(sysctlNamespace('vm.overcommit_memory'), null);
});

test('sysctls: non-namespaced and host-namespace conflicts are INVALID_ARGUMENT', () => {
  const cases: [Record<string, string>, { network: boolean; ipc: boolean; uts: boolean }, RegExp][] = [
    [{ 'vm.swappiness': '10' }, podNs, /config\.linux\.sysctls\["vm\.swappiness"\]: sysctl vm\.swappiness is not namespaced/],
    [{ 'kernel.pid_max': '1' }, podNs, /not namespaced/],
    [{ 'kernel.hostname': 'x' }, podNs, /pod hostname/],
    [{ 'net.core.somaxconn': '1024' }, { ...podNs, network: true }, /not allowed with the host network namespace/],
    [{ 'kernel.shmmax': '1' }, { ...podNs, ipc: true }, /not allowed with the host IPC namespace/],
    [{ 'fs.mqueue.queues_max': '1' }, { ...podNs, ipc: true }, /host IPC/],
    [{ 'kernel.sem': '1' }, { ...podNs, ipc: true }, /host IPC/],
    [{ 'kernel.domainname': 'x' }, { ...podNs, uts: true }, /host UTS/],
    [{ 'net.ipv4.ip_forward': '1\nvm.x=1' }, podNs, /newline/],
  ];
  for (const [s, host, re] of cases) assert.throws(() => validateSysctls(s, host, F), re);
  // net sysctls are fine with host IPC, ipc ones with host network.
  assert.doesNotThrow(() => validateSysctls({ 'net.core.somaxconn': '1', 'kernel.shmmax': '1' }, podNs, F));
  assert.doesNotThrow(() => validateSysctls({ 'kernel.shmmax': '1' }, { ...podNs, network: true }, F));
});

test('annotations: cradle keys for recovery, request annotations kept but not allowed to spoof', () => {
  const { spec } = buildContainerSpec(containerInput({
    config: {
      labels: { app: 'web' },
      annotations: { 'io.kubernetes.container.hash': 'abcd', [ANNOTATIONS.sandboxId]: 'spoofed' },
      image: { image: 'busybox', userSpecifiedImage: 'docker.io/library/busybox:1.36' },
    },
  }));
  const a = spec.annotations!;
  assert.equal(a['io.kubernetes.container.hash'], 'abcd');
  assert.equal(a[ANNOTATIONS.sandboxId], 'sandbox0123');
  assert.equal(a[ANNOTATIONS.containerType], 'container');
  assert.equal(a[ANNOTATIONS.containerName], 'app');
  assert.equal(a[ANNOTATIONS.imageName], 'docker.io/library/busybox:1.36');
  assert.deepEqual(readRecoveryAnnotations(a), {
    type: 'container', id: 'c0ffee', sandboxId: 'sandbox0123', name: 'app', attempt: 1, podName: 'web-0', podNamespace: 'default',
    podUid: 'uid-1', image: 'docker.io/library/busybox:1.36', imageRef: 'sha256:abc', logPath: '/var/log/pods/default_web-0_uid-1/app/1.log',
    labels: { app: 'web' },
  });
  assert.equal(readRecoveryAnnotations({ 'io.kubernetes.container.hash': 'x' }), null);
});

test('stop signal: CRI, then image, then SIGTERM', () => {
  assert.equal(buildContainerSpec(containerInput()).stopSignal, 'SIGTERM');
  assert.equal(buildContainerSpec(containerInput({ image: { Cmd: ['/bin/sh'], StopSignal: 'SIGQUIT' } })).stopSignal, 'SIGQUIT');
  assert.equal(buildContainerSpec(containerInput({ image: { Cmd: ['/bin/sh'], StopSignal: 'QUIT' }, config: { stopSignal: 'SIGUSR1' } })).stopSignal, 'SIGUSR1');
  assert.equal(normalizeSignal('SIGRTMINPLUS3'), 'SIGRTMIN+3');
  assert.equal(normalizeSignal('9'), '9');
  assert.equal(normalizeSignal('RUNTIME_DEFAULT'), undefined);
});

test('pause spec: minimal, locked down, in the pod namespaces', () => {
  const spec = buildPauseSpec(pauseInput({ sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' } }));
  assert.deepEqual(spec.process.args, ['/pause']);
  assert.deepEqual(spec.process.user, { uid: 65535, gid: 65535, additionalGids: [65535] });
  assert.deepEqual(spec.process.capabilities, { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] });
  assert.equal(spec.process.noNewPrivileges, true);
  assert.equal(spec.process.oomScoreAdj, -998);
  assert.equal(spec.root.readonly, true);
  assert.deepEqual(spec.linux.resources!.cpu, { shares: 2 });
  assert.deepEqual(spec.linux.namespaces, [{ type: 'mount' }, { type: 'network', path: '/run/cradle/ns/net/x' }, { type: 'ipc' }, { type: 'uts' }, { type: 'pid' }]);
  assert.equal(spec.hostname, 'web-0');
  assert.deepEqual(spec.linux.sysctl, { 'net.ipv4.ip_unprivileged_port_start': '0' });
  assert.equal(spec.linux.cgroupsPath, '/kubepods/besteffort/pod1234/cradle-sandbox0123');
  assert.equal(spec.annotations![ANNOTATIONS.containerType], 'sandbox');
  assert.equal(spec.annotations![ANNOTATIONS.sandboxLogDirectory], '/var/log/pods/x');
  assert.ok(spec.linux.maskedPaths!.length > 0);
  assert.equal(spec.mounts.find((m) => m.destination === '/dev/shm')!.source, '/run/cradle/sandboxes/sandbox0123/shm');
});

test('pause spec: host namespaces, oom floor, pod security context', () => {
  const spec = buildPauseSpec(pauseInput({
    namespaces: { network: 'host', ipc: 'host', uts: 'host', pid: 'host' },
    runtime: { ...pauseInput().runtime, minOomScoreAdj: -500 },
  }, { linux: { securityContext: { runAsUser: { value: '1234' }, runAsGroup: { value: '99' } } } }));
  assert.deepEqual(spec.linux.namespaces, [{ type: 'mount' }]);
  assert.equal(spec.hostname, undefined);
  assert.equal(spec.process.oomScoreAdj, -500);
  assert.deepEqual(spec.process.user, { uid: 1234, gid: 99, additionalGids: [99] });
  assert.throws(() => buildPauseSpec(pauseInput({ namespaces: { network: 'host', ipc: 'new', uts: 'host', pid: 'new' }, sysctls: { 'net.core.somaxconn': '1' } })),
    /config\.linux\.sysctls\["net\.core\.somaxconn"\]: .*host network/);
  // A pod group without a pod user is refused, as containerd refuses its sandbox.
  assert.throws(() => buildPauseSpec(pauseInput({}, { linux: { securityContext: { runAsGroup: { value: '99' } } } })),
    /config\.linux\.securityContext\.runAsGroup: set without runAsUser/);
});

test('full spec is plain JSON (what config.json will hold)', () => {
  const { spec } = buildContainerSpec(containerInput());
  assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec);
  assert.equal(spec.ociVersion, '1.0.2');
  assert.equal(spec.process.noNewPrivileges, false);
  const nnp = buildContainerSpec(containerInput({ config: { linux: { securityContext: { noNewPrivs: true } } } })).spec;
  assert.equal(nnp.process.noNewPrivileges, true);
});

test('full spec: a container without a name is refused', () => {
  assert.throws(() => buildContainerSpec(containerInput({ config: { metadata: { name: '' } } })), /config\.metadata\.name is required/);
});
