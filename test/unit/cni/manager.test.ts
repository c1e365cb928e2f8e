import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CniManager, type CniManagerOptions } from '../../../src/cni/manager';
import { errors } from '../../../src/common/errors';
import { silentLogger } from '../../../src/common/logger';
import { readCalls, writeFakePlugins } from './fake-plugin';

interface Env {
  dir: string;
  conf: string;
  bin: string;
  cache: string;
  log: string;
  manager(options?: Partial<CniManagerOptions>): CniManager;
  writeConf(name: string, value: unknown): void;
}

function setup(t: { after(fn: () => unknown): void }): Env {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-cni-'));
  const managers: CniManager[] = [];
  t.after(async () => {
    for (const m of managers) await m.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const env: Env = {
    dir,
    conf: path.join(dir, 'net.d'),
    bin: path.join(dir, 'bin'),
    cache: path.join(dir, 'cache'),
    log: path.join(dir, 'calls.log'),
    manager: (options = {}) => {
      const m = new CniManager({ confDir: env.conf, pluginDirs: [env.bin], cacheDir: env.cache, log: silentLogger(), pollIntervalMs: 0, watch: false, execTimeoutMs: 10_000, ...options });
      managers.push(m);
      return m;
    },
    writeConf: (name, value) => fs.writeFileSync(path.join(env.conf, name), typeof value === 'string' ? value : JSON.stringify(value)),
  };
  fs.mkdirSync(env.conf);
  writeFakePlugins(env.bin, ['main', 'chained', 'meta', 'loopback', 'failing']);
  return env;
}

const pod = { id: 'sandbox1', netnsPath: '/run/netns/cradle-test-none', podName: 'web-0', podNamespace: 'shop', podUid: 'uid-1' };

function chain(env: Env, version = '1.0.0', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion: version, name: 'podnet', ...extra, plugins: [
      // `main` answers in 0.3.1 whatever it is asked: the next plugin must get a 1.0.0 prevResult.
      { type: 'main', fakeLog: env.log, capabilities: { ipRanges: true, dns: true }, fake: { ADD: { result: {
        cniVersion: '0.3.1', interfaces: [{ name: 'eth0', sandbox: '/x' }],
        ips: [{ version: '4', address: '10.5.0.7/24', gateway: '10.5.0.1', interface: 0 }] } } } },
      { type: 'chained', fakeLog: env.log, capabilities: { portMappings: true, bandwidth: true } },
    ],
  };
}

test('not ready with NetworkPluginNotReady and the per-file errors; a valid config added later flips readiness', async (t) => {
  const env = setup(t);
  env.writeConf('10-bad.conflist', { cniVersion: '1.0.0', name: 'bad', plugins: [{ type: 'nosuch' }] });
  const m = env.manager({ watch: true });
  await m.start();
  const before = m.status();
  assert.equal(before.ready, false);
  assert.equal(before.reason, 'NetworkPluginNotReady');
  assert.match(before.message, /no valid CNI network config in .*net\.d: CNI config .*10-bad\.conflist: plugin type "nosuch" not found/);
  await assert.rejects(m.setUpPod(pod), (err: unknown) => errors.cniNotReady.is(err));

  const ready = m.waitForReady({ timeoutMs: 5000 });
  env.writeConf('20-good.conflist', chain(env));
  await ready; // the inotify watch reloads; no restart, no explicit reload
  assert.deepEqual(m.status(), { ready: true, reason: '', message: '', network: 'podnet' });
});

test('waitForReady fails clearly at its deadline', async (t) => {
  const env = setup(t);
  const m = env.manager();
  await m.start();
  await assert.rejects(m.waitForReady({ timeoutMs: 50 }),
    (err: unknown) => errors.cniNotReady.is(err) && /no valid CNI network config/.test((err as Error).message));
});

test('first valid file is the default unless a network name is configured', async (t) => {
  const env = setup(t);
  env.writeConf('10-a.conf', { cniVersion: '0.4.0', name: 'first', type: 'main' });
  env.writeConf('20-b.conflist', chain(env));
  const m1 = env.manager();
  await m1.start();
  assert.equal(m1.status().network, 'first');
  const m2 = env.manager({ defaultNetwork: 'podnet' });
  await m2.start();
  assert.equal(m2.status().network, 'podnet');
  const m3 = env.manager({ defaultNetwork: 'other' });
  await m3.start();
  assert.equal(m3.status().ready, false);
  assert.match(m3.status().message, /default network "other" not found in .* \(valid networks: first, podnet\)/);
});

test('ADD chains plugins with converted prevResult, CNI_ARGS and filtered capabilities; DEL reverses from the cache', async (t) => {
  const env = setup(t);
  env.writeConf('10-podnet.conflist', chain(env));
  const m = env.manager();
  await m.start();
  m.setPodCidr('10.77.0.0/16, fd77::/64');
  const res = await m.setUpPod({
    ...pod, portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'TCP' }], dns: { servers: ['10.0.0.10'] }, cgroupPath: '/kubepods/x',
  });
  assert.equal(res.network, 'podnet');
  assert.deepEqual(res.ips, [{ ip: '10.5.0.7', cidr: '10.5.0.7/24', family: 'ipv4', gateway: '10.5.0.1', interface: 'eth0' }]);
  assert.equal(res.raw.cniVersion, '1.0.0');

  const calls = readCalls(env.log);
  assert.deepEqual(calls.map((c) => `${c.type} ${c.command}`), ['main ADD', 'chained ADD']);
  const [main, chained] = calls;
  assert.deepEqual(main!.env, {
    CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'sandbox1', CNI_NETNS: pod.netnsPath, CNI_IFNAME: 'eth0',
    CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=sandbox1;K8S_POD_UID=uid-1',
    CNI_PATH: env.bin,
  });
  assert.deepEqual(main!.conf.runtimeConfig, { ipRanges: [[{ subnet: '10.77.0.0/16' }], [{ subnet: 'fd77::/64' }]], dns: { servers: ['10.0.0.10'] } });
  assert.equal(main!.conf.name, 'podnet');
  assert.equal(main!.conf.prevResult, undefined);
  assert.deepEqual(chained!.conf.runtimeConfig, { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] });
  assert.deepEqual(chained!.conf.prevResult, {
    cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/x' }], ips: [{ address: '10.5.0.7/24', gateway: '10.5.0.1', interface: 0 }], routes: [], dns: {},
  });

  // After a "restart" (new manager) and with the config file gone, DEL still runs from the cache.
  fs.rmSync(path.join(env.conf, '10-podnet.conflist'));
  fs.rmSync(env.log);
  const restarted = env.manager();
  await restarted.start();
  assert.equal(restarted.status().ready, false);
  assert.deepEqual((await restarted.cachedPodNetwork('sandbox1'))?.ips.map((ip) => ip.cidr), ['10.5.0.7/24']);
  await restarted.tearDownPod({ id: 'sandbox1', netnsPath: pod.netnsPath });
  const dels = readCalls(env.log);
  assert.deepEqual(dels.map((c) => `${c.type} ${c.command}`), ['chained DEL', 'main DEL']);
  assert.equal(dels[0]!.env.CNI_NETNS, '', 'a netns path that is not a namespace is passed as empty');
  assert.equal(dels[0]!.env.CNI_ARGS, main!.env.CNI_ARGS);
  assert.deepEqual((dels[0]!.conf.prevResult as { ips: unknown[] }).ips, [{ address: '10.5.0.7/24', gateway: '10.5.0.1', interface: 0 }]);
  assert.equal(await restarted.cachedPodNetwork('sandbox1'), undefined);
  assert.deepEqual(fs.readdirSync(path.join(env.cache, 'results')), []);
  // Idempotent: a second teardown with nothing cached and no config does nothing.
  await restarted.tearDownPod({ id: 'sandbox1' });
});

test('a failing plugin gives a clear error, the attachment is rolled back and nothing stays cached', async (t) => {
  const env = setup(t);
  env.writeConf('10-podnet.conflist', {
    cniVersion: '1.0.0', name: 'podnet', plugins: [
      { type: 'main', fakeLog: env.log },
      { type: 'failing', fakeLog: env.log, fake: { ADD: { error: { code: 11, msg: 'no IP addresses available in range set', details: '10.5.0.0/30' } } } },
    ],
  });
  const m = env.manager();
  await m.start();
  await assert.rejects(m.setUpPod(pod), (err: unknown) => {
    assert.ok(errors.cniPlugin.is(err));
    assert.equal((err as Error).message,
      'pod shop/web-0 (sandbox1): network "podnet": ADD: CNI plugin failing failed ADD on network "podnet": no IP addresses available in range set: 10.5.0.0/30 (CNI error code 11: try again later)');
    return true;
  });
  assert.deepEqual(readCalls(env.log).map((c) => `${c.type} ${c.command}`), ['main ADD', 'failing ADD', 'failing DEL', 'main DEL']);
  assert.deepEqual(fs.readdirSync(path.join(env.cache, 'results')), []);
});

test('an ADD cancelled by the caller is rolled back', async (t) => {
  const env = setup(t);
  env.writeConf('10-podnet.conflist', { cniVersion: '1.0.0', name: 'podnet', plugins: [{ type: 'main', fakeLog: env.log, fake: { ADD: { sleepMs: 20_000 } } }] });
  const m = env.manager();
  await m.start();
  const ac = new AbortController();
  // Cancelled once the plugin has begun its ADD (not after a fixed delay: a slow
  // machine may not have started the plugin by then).
  const adding = setInterval(() => {
    if (readCalls(env.log).some((c) => c.command === 'ADD')) ac.abort();
  }, 20);
  t.after(() => clearInterval(adding));
  await assert.rejects(m.setUpPod({ ...pod, signal: ac.signal }), (err: unknown) => errors.cancelled.is(err));
  assert.deepEqual(readCalls(env.log).map((c) => c.command), ['ADD', 'DEL']);
  assert.deepEqual(fs.readdirSync(path.join(env.cache, 'results')), []);
});

test('GC deletes cached attachments of unknown pods and keeps valid ones; 1.1.0 networks get the GC verb', async (t) => {
  const env = setup(t);
  env.writeConf('10-podnet.conflist', chain(env, '1.1.0'));
  const m = env.manager();
  await m.start();
  await m.setUpPod({ ...pod, id: 'keep' });
  await m.setUpPod({ ...pod, id: 'leaked' });
  fs.rmSync(env.log);
  const report = await m.gc(['keep']);
  assert.deepEqual(report.released, [{ id: 'leaked', network: 'podnet' }]);
  assert.deepEqual(report.failed, []);
  assert.deepEqual(report.gcNetworks, ['podnet']);
  const calls = readCalls(env.log);
  assert.deepEqual(calls.map((c) => `${c.type} ${c.command} ${c.env.CNI_CONTAINERID}`),
    ['chained DEL leaked', 'main DEL leaked', 'main GC ', 'chained GC ']);
  assert.deepEqual(calls[2]!.conf['cni.dev/valid-attachments'], [{ containerID: 'keep', ifname: 'eth0' }]);
  assert.ok(await m.cachedPodNetwork('keep'));
  assert.equal(await m.cachedPodNetwork('leaked'), undefined);
});

test('GC verb is skipped for networks below 1.1.0 and when disableGC is set', async (t) => {
  const env = setup(t);
  env.writeConf('10-a.conflist', chain(env, '1.0.0'));
  env.writeConf('20-b.conflist', { ...chain(env, '1.1.0'), name: 'other', disableGC: true });
  const m = env.manager();
  await m.start();
  const report = await m.gc([]);
  assert.deepEqual(report.gcNetworks, []);
  assert.deepEqual(readCalls(env.log), []);
});

test('STATUS of a 1.1.0 network drives readiness', async (t) => {
  const env = setup(t);
  const conf = (fail: boolean): Record<string, unknown> => ({
    cniVersion: '1.1.0', name: 'podnet', plugins: [
      { type: 'main', fakeLog: env.log, fake: fail ? { STATUS: { error: { code: 50, msg: 'cluster network daemon not running' } } } : {} },
    ],
  });
  env.writeConf('10-podnet.conflist', conf(true));
  const m = env.manager();
  await m.start();
  const s = m.status();
  assert.equal(s.ready, false);
  assert.equal(s.reason, 'NetworkPluginNotReady');
  assert.match(s.message, /network "podnet" STATUS: CNI plugin main failed STATUS on network "podnet": cluster network daemon not running \(CNI error code 50: plugin not available\)/);
  env.writeConf('10-podnet.conflist', conf(false));
  assert.equal((await m.refreshStatus()).ready, true);
  assert.deepEqual(readCalls(env.log).map((c) => c.command), ['STATUS', 'STATUS']);
});

test('CHECK runs with the cached result as prevResult; pre-0.4.0 networks are not checked', async (t) => {
  const env = setup(t);
  env.writeConf('10-podnet.conflist', chain(env, '0.4.0'));
  const m = env.manager();
  await m.start();
  await m.setUpPod(pod);
  fs.rmSync(env.log);
  const checked = await m.checkPod({ id: pod.id, netnsPath: pod.netnsPath });
  assert.equal(checked.checked, true);
  const calls = readCalls(env.log);
  assert.deepEqual(calls.map((c) => `${c.type} ${c.command}`), ['main CHECK', 'chained CHECK']);
  assert.deepEqual((calls[0]!.conf.prevResult as { ips: unknown[] }).ips, [{ version: '4', address: '10.5.0.7/24', gateway: '10.5.0.1', interface: 0 }]);
  await assert.rejects(m.checkPod({ id: 'unknown', netnsPath: pod.netnsPath }), (err: unknown) => errors.notFound.is(err));

  env.writeConf('10-podnet.conflist', chain(env, '0.3.1'));
  await m.refreshStatus();
  await m.tearDownPod({ id: pod.id });
  await m.setUpPod(pod);
  fs.rmSync(env.log);
  assert.equal((await m.checkPod({ id: pod.id, netnsPath: pod.netnsPath })).checked, false);
  assert.deepEqual(readCalls(env.log), []);
});

test('bad requests are refused before any plugin runs', async (t) => {
  const env = setup(t);
  env.writeConf('10-podnet.conflist', chain(env));
  const m = env.manager();
  await m.start();
  await assert.rejects(m.setUpPod({ ...pod, id: '../evil' }), /pod sandbox id "..\/evil" is not valid/);
  await assert.rejects(m.setUpPod({ ...pod, podUid: '' }), (err: unknown) => errors.missingField.is(err) && /podUid/.test((err as Error).message));
  await assert.rejects(m.setUpPod({ ...pod, ifName: 'a-very-long-interface-name' }), /interface name .* is not valid/);
  await assert.rejects(m.setUpPod({ ...pod, podName: 'a;b' }), /contains ';'/);
  assert.throws(() => m.setPodCidr('10.0.0.0/33'), /pod CIDR "10.0.0.0\/33" is not a valid CIDR/);
  await assert.rejects(m.setUpPod({ ...pod, portMappings: [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }] }),
    (err: unknown) => errors.invalidArgument.is(err) && /port mapping .*"hostPort":0.*: hostPort must be 1-65535/.test((err as Error).message));
  await assert.rejects(m.setUpPod({ ...pod, portMappings: [{ hostPort: 80, containerPort: 70000, protocol: 'tcp' }] }), /containerPort must be 1-65535/);
  await assert.rejects(m.setUpPod({ ...pod, portMappings: [{ hostPort: 80, containerPort: 80, protocol: 'icmp' }] }), /protocol must be tcp, udp or sctp/);
  await assert.rejects(m.setUpPod({ ...pod, portMappings: [{ hostPort: 80, containerPort: 80, protocol: 'TCP', hostIP: 'nope' }] }), /hostIP is not an IP address/);
  assert.deepEqual(readCalls(env.log), []);
  assert.equal(fs.existsSync(path.join(env.cache, 'results')), false);
});
