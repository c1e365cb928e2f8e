import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ALL_METRIC_GROUPS, BASE_LABEL_KEYS, measureDirectory, metricDescriptors, parseProcNetDev, podSandboxMetrics, readContainerStats,
  readFilesystemUsage, toCriNetworkUsage, toCriPodSandboxStats, type NetworkSample,
} from '../../../src/stats';
import { fakeV1, tempRoot } from './fake-cgroup';

const PROC_NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     840      10    0    0    0     0          0         0      840      10    0    0    0     0       0          0
  eth0: 18446744073709551615     123    1    2    0     0          0         0    98765      99    3    4    0     0       0          0
  net1:     100       1    0    0    0     0          0         0      200       2    0    0    0     0       0          0
`;

test('/proc/net/dev parses every interface with exact 64-bit counters', () => {
  const ifaces = parseProcNetDev(PROC_NET_DEV);
  assert.deepEqual(ifaces.map((i) => i.name), ['lo', 'eth0', 'net1']);
  const eth0 = ifaces[1]!;
  assert.equal(eth0.rxBytes, 18446744073709551615n);
  assert.deepEqual([eth0.rxPackets, eth0.rxErrors, eth0.rxDropped], [123n, 1n, 2n]);
  assert.deepEqual([eth0.txBytes, eth0.txPackets, eth0.txErrors, eth0.txDropped], [98765n, 99n, 3n, 4n]);
});

test('CRI network usage: eth0 is the default interface, lo is left out', () => {
  const n: NetworkSample = { timestampNs: '5', interfaces: parseProcNetDev(PROC_NET_DEV) };
  const cri = toCriNetworkUsage(n);
  assert.equal(cri.defaultInterface?.name, 'eth0');
  assert.equal(cri.defaultInterface?.rxBytes?.value, '18446744073709551615');
  assert.equal(cri.defaultInterface?.txErrors?.value, '3');
  assert.deepEqual(cri.interfaces?.map((i) => i.name), ['net1']);
  const noEth0 = toCriNetworkUsage({ timestampNs: '5', interfaces: parseProcNetDev(PROC_NET_DEV).filter((i) => i.name !== 'eth0') });
  assert.equal(noEth0.defaultInterface?.name, 'net1');
  assert.deepEqual(noEth0.interfaces, []);
});

test('writable layer usage counts blocks and inodes like du, hard links once', async (t) => {
  const dir = tempRoot('du');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'a'), Buffer.alloc(64 * 1024, 1));
  fs.linkSync(path.join(dir, 'sub', 'a'), path.join(dir, 'hard'));
  fs.symlinkSync('sub/a', path.join(dir, 'link'));
  const before = await measureDirectory(dir);
  assert.equal(before.inodesUsed, 4n, 'root, sub, a (once), link');
  assert.ok(before.usedBytes >= 64n * 1024n, `used ${before.usedBytes}`);
  fs.writeFileSync(path.join(dir, 'b'), Buffer.alloc(128 * 1024, 1));
  const after = await readFilesystemUsage(dir);
  assert.equal(after.inodesUsed, 5n);
  assert.ok(after.usedBytes >= before.usedBytes + 128n * 1024n);
  assert.ok(after.capacityBytes !== undefined && after.capacityBytes > after.usedBytes);
  assert.equal(after.mountpoint, dir);
});

test('descriptors use cri-o/cAdvisor names and label keys; every reported metric is described and labelled consistently', async (t) => {
  const root = tempRoot('metrics');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fakeV1(root, '/kubepods/pod1/cradle-c1');
  const layer = path.join(root, 'upper');
  fs.mkdirSync(layer);
  const stats = await readContainerStats({ cgroupsPath: '/kubepods/pod1/cradle-c1', cgroupDriver: 'cgroupfs', cgroupRoot: root, writableLayerDir: layer });

  const descriptors = metricDescriptors();
  const byName = new Map(descriptors.map((d) => [d.name, d]));
  for (const name of ['container_cpu_usage_seconds_total', 'container_memory_working_set_bytes', 'container_memory_usage_bytes', 'container_memory_rss',
    'container_spec_memory_limit_bytes', 'container_network_receive_bytes_total', 'container_network_transmit_bytes_total', 'container_last_seen']) {
    assert.ok(byName.has(name), name);
  }
  assert.deepEqual(byName.get('container_network_receive_bytes_total')?.labelKeys, [...BASE_LABEL_KEYS, 'interface']);
  assert.deepEqual(byName.get('container_cpu_usage_seconds_total')?.labelKeys, [...BASE_LABEL_KEYS, 'cpu']);

  const pm = podSandboxMetrics({
    id: 'sb1', name: 'web', namespace: 'default',
    network: { timestampNs: '7', interfaces: parseProcNetDev(PROC_NET_DEV) },
    containers: [{ id: 'c1', name: 'app', image: 'docker.io/library/busybox:latest', stats, createdAtNs: '1700000000123456789' }],
  }, 1_800_000_000n * 1_000_000_000n);
  assert.equal(pm.podSandboxId, 'sb1');
  const all = [...(pm.metrics ?? []), ...(pm.containerMetrics ?? []).flatMap((c) => c.metrics ?? [])];
  for (const m of all) {
    const d = byName.get(m.name!);
    assert.ok(d, `${m.name} is described`);
    assert.equal(m.labelValues?.length, d.labelKeys?.length, m.name);
  }
  const find = (name: string, extra: string[] = []) =>
    all.find((m) => m.name === name && extra.every((e, i) => m.labelValues?.[BASE_LABEL_KEYS.length + i] === e));
  const rx = find('container_network_receive_bytes_total', ['eth0']);
  assert.deepEqual(rx?.labelValues, ['sb1', '', 'default', 'web', 'POD', 'eth0']);
  assert.equal(rx?.value?.value, '18446744073709551615');
  assert.equal(rx?.metricType, 'COUNTER');
  assert.equal(find('container_network_receive_bytes_total', ['lo']), undefined, 'lo is not reported');
  const ws = find('container_memory_working_set_bytes');
  assert.deepEqual(ws?.labelValues, ['c1', 'docker.io/library/busybox:latest', 'default', 'web', 'app']);
  assert.equal(ws?.value?.value, String(70n * 1024n * 1024n));
  assert.equal(ws?.metricType, 'GAUGE');
  assert.equal(find('container_cpu_usage_seconds_total', ['total'])?.value?.value, '5');
  assert.equal(find('container_spec_memory_limit_bytes')?.value?.value, String(256 * 1024 * 1024));
  assert.equal(find('container_spec_cpu_quota')?.value?.value, '50000');
  assert.equal(find('container_start_time_seconds')?.value?.value, '1700000000');
  assert.equal(find('container_last_seen')?.value?.value, '1800000000');
  assert.equal(find('container_memory_failures_total', ['pgmajfault', 'container'])?.value?.value, '7');
  assert.equal(find('container_oom_events_total')?.value?.value, '2');
  assert.equal(find('container_fs_usage_bytes')?.value?.value, String(stats.writableLayer?.usedBytes));

  const cpuOnly = podSandboxMetrics({ id: 'sb1', name: 'web', namespace: 'default', containers: [{ id: 'c1', name: 'app', image: 'i', stats }], groups: ['cpu'] });
  const names = new Set(cpuOnly.containerMetrics?.[0]?.metrics?.map((m) => m.name));
  assert.ok(names.has('container_cpu_usage_seconds_total') && names.has('container_last_seen'));
  assert.ok(!names.has('container_memory_rss'));
  assert.equal(metricDescriptors(['cpu']).length, 7);
  assert.ok(metricDescriptors(ALL_METRIC_GROUPS).length > 40);

  const pod = toCriPodSandboxStats({ ...stats, network: { timestampNs: '7', interfaces: parseProcNetDev(PROC_NET_DEV) } },
    { id: 'sb1', metadata: { name: 'web', namespace: 'default', uid: 'u', attempt: 0 } }, []);
  assert.equal(pod.linux?.process?.processCount?.value, '6');
  assert.equal(pod.linux?.network?.defaultInterface?.name, 'eth0');
  assert.equal(pod.linux?.cpu?.usageCoreNanoSeconds?.value, '5000000000');
});
