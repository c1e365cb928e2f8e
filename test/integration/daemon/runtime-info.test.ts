// Version, Status, RuntimeConfig and UpdateRuntimeConfig through a real gRPC
// client over the daemon's unix socket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startCradled, type Cradled } from '../../helpers/daemon';
import { grpcError, type CriClient } from '../../helpers/cri-client';

let daemon: Cradled;
let cri: CriClient;

before(async () => {
  daemon = await startCradled({ dropIns: { '50-handlers.toml': '[runtime.runtimes.runc]\nruntime_path = "/usr/bin/runc"\nruntime_root = "/run/cradle-test-runc"\n' } });
  cri = daemon.client();
});
after(async () => { await daemon?.stop(); });

test('Version names cradle, its package version and CRI v1', async () => {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../../package.json'), 'utf8')) as { version: string };
  const v = await cri.runtime.Version({});
  assert.equal(v.runtimeName, 'cradle');
  assert.equal(v.runtimeApiVersion, 'v1');
  assert.equal(v.runtimeVersion, pkg.version);
  assert.equal(v.version, '0.1.0');
});

test('Status reports RuntimeReady and NetworkReady with reasons, and the runtime handlers', async () => {
  const s = await cri.runtime.Status({ verbose: false });
  const types = s.status!.conditions.map((c) => c.type);
  assert.deepEqual(types, ['RuntimeReady', 'NetworkReady']);
  const network = s.status!.conditions.find((c) => c.type === 'NetworkReady')!;
  // The temp CNI dir is empty: not ready, with the reason the kubelet knows.
  assert.equal(network.status, false);
  assert.equal(network.reason, 'NetworkPluginNotReady');
  assert.match(network.message, /CNI/);
  for (const c of s.status!.conditions) {
    if (!c.status) assert.notEqual(c.reason, '', `${c.type} false without a reason`);
  }
  assert.deepEqual(s.runtimeHandlers.map((h) => h.name), ['', 'cradle', 'runc']);
  assert.ok(s.runtimeHandlers.every((h) => h.features !== null));
  assert.deepEqual(s.info, {}, 'info is only filled when verbose');
});

test('Status verbose carries JSON documents, including the effective config', async () => {
  const s = await cri.runtime.Status({ verbose: true });
  const config = JSON.parse(s.info.config!) as { api: { listen: string }; runtime: { runtimes: Record<string, unknown> }; streaming: { idle_timeout: unknown } };
  assert.equal(config.api.listen, `unix://${daemon.socket}`);
  assert.ok('runc' in config.runtime.runtimes);
  // Durations read as in the config file (crictl info shows them to people), not milliseconds.
  assert.equal(config.streaming.idle_timeout, '4h');
  // The CNI status as containerd's crictl info shows it: the temp CNI dir is empty.
  const cni = JSON.parse(s.info.cniconfig!) as { confDir: string; networks: unknown[] };
  assert.equal(cni.confDir, daemon.dirs.cniDir);
  assert.deepEqual(cni.networks, []);
  assert.match(JSON.parse(s.info.lastCNILoadStatus!) as string, /no valid CNI network config/);
});

test('NetworkReady turns true once a CNI config appears, without a restart', async () => {
  fs.writeFileSync(path.join(daemon.dirs.cniDir, '10-test.conflist'), JSON.stringify({
    cniVersion: '1.0.0', name: 'cradle-test-net', plugins: [{ type: 'loopback' }],
  }));
  try {
    let network = { status: false, message: '' };
    for (let i = 0; i < 100 && !network.status; i++) {
      const s = await cri.runtime.Status({ verbose: false });
      network = s.status!.conditions.find((c) => c.type === 'NetworkReady')!;
      if (!network.status) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(network.status, true, network.message);
    const info = (await cri.runtime.Status({ verbose: true })).info;
    const cni = JSON.parse(info.cniconfig!) as { defaultNetwork: string; networks: Array<{ name: string; plugins: string[] }> };
    assert.equal(cni.defaultNetwork, 'cradle-test-net');
    assert.deepEqual(cni.networks.map((n) => [n.name, n.plugins]), [['cradle-test-net', ['loopback']]]);
    assert.equal(JSON.parse(info.lastCNILoadStatus!), 'OK');
  } finally {
    fs.rmSync(path.join(daemon.dirs.cniDir, '10-test.conflist'), { force: true });
  }
});

test('with no CNI config and the defaults, cradled writes its own bridge network and is NetworkReady', async (t) => {
  const own = await startCradled({ args: ['--network-write-default-config=true', '--network-default-subnet', '10.213.128.0/24'] });
  t.after(() => own.stop());
  const file = path.join(own.dirs.cniDir, '10-cradle-default.conflist');
  const conf = JSON.parse(fs.readFileSync(file, 'utf8')) as { plugins: { type: string; ipam?: { ranges?: { subnet: string }[][] } }[] };
  assert.deepEqual(conf.plugins.map((p) => p.type), ['bridge', 'portmap']);
  assert.equal(conf.plugins[0]!.ipam!.ranges![0]![0]!.subnet, '10.213.128.0/24');
  const s = await own.client().runtime.Status({ verbose: false });
  const network = s.status!.conditions.find((c) => c.type === 'NetworkReady')!;
  assert.equal(network.status, true, network.message);
});

test('RuntimeConfig reports the cgroupfs driver by default', async () => {
  const r = await cri.runtime.RuntimeConfig({});
  assert.equal(r.linux!.cgroupDriver, 'CGROUPFS');
});

test('UpdateRuntimeConfig keeps the pod CIDR, persisted and shown in verbose status', async () => {
  await cri.runtime.UpdateRuntimeConfig({ runtimeConfig: { networkConfig: { podCidr: '10.244.1.0/24,fd00:10:244:1::/64' } } });
  const s = await cri.runtime.Status({ verbose: true });
  assert.equal(JSON.parse(s.info.podCidr!), '10.244.1.0/24,fd00:10:244:1::/64');
  const persisted = JSON.parse(fs.readFileSync(daemon.dirs.layout.runtimeSettingsFile, 'utf8')) as { podCidr: string };
  assert.equal(persisted.podCidr, '10.244.1.0/24,fd00:10:244:1::/64');
});

test('UpdateRuntimeConfig rejects a bad CIDR and a missing field with INVALID_ARGUMENT naming it', async () => {
  await assert.rejects(cri.runtime.UpdateRuntimeConfig({ runtimeConfig: { networkConfig: { podCidr: '10.0.0.0/99' } } }), (err) => {
    const e = grpcError(err);
    assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
    assert.match(e.details, /runtimeConfig\.networkConfig\.podCidr/);
    return true;
  });
  await assert.rejects(cri.runtime.UpdateRuntimeConfig({}), (err) => {
    const e = grpcError(err);
    assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(e.details, 'runtimeConfig is required');
    return true;
  });
});

test('the socket is mode 0660, owned by root', () => {
  const st = fs.statSync(daemon.socket);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o660);
  assert.equal(st.uid, 0);
  assert.equal(st.gid, 0);
});

test('each call is logged at debug with rpc, request id, duration and code', async () => {
  // default level is info: nothing per call
  await cri.runtime.Version({});
  assert.ok(!daemon.logRecords().some((r) => r.msg === 'call finished'));
  // failures are logged at warn with the catalogue code
  await cri.runtime.UpdateRuntimeConfig({}).catch(() => undefined);
  const failed = daemon.logRecords().find((r) => r.msg === 'call failed' && r.rpc === 'UpdateRuntimeConfig' && r.errorCode === 'CRADLE_ERR_MISSING_FIELD');
  assert.ok(failed, 'failed call logged');
  assert.equal(failed.level, 'warn');
  assert.equal(failed.code, 'INVALID_ARGUMENT');
  assert.match(String(failed.requestId), /^[0-9a-f]{16}$/);
});
