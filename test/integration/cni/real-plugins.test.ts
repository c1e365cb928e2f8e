// CNI with the real Debian plugins (/usr/lib/cni) in real network namespaces.
// Everything is test-only: bridge cradle-tcni0, subnet 10.213.0.0/24 with no
// gateway and no routes (nothing can leave the pods), temp conf/cache/IPAM dirs,
// namespaces named cradle-test-cni-*. Leftovers of a killed run are swept first.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CniManager, ensureDefaultConfig, type CniManagerOptions } from '../../../src/cni';
import { errors } from '../../../src/common/errors';
import { silentLogger } from '../../../src/common/logger';

const PLUGIN_DIR = '/usr/lib/cni';
const BRIDGE = 'cradle-tcni0';
const SUBNET = '10.213.0.0/24';
const NETWORK = 'cradle-test-cni';
const NS_PREFIX = 'cradle-test-cni-';
const HOSTPORT_CHAINS = ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-SETMARK', 'CNI-HOSTPORT-MASQ'];

const available = fs.existsSync(path.join(PLUGIN_DIR, 'bridge')) && process.getuid?.() === 0;
const skip = available ? false : 'needs root and containernetworking-plugins in /usr/lib/cni';

let root = '';
let conf = '';
let ipamDir = '';
let hostportChainsExisted = false;
const managers: CniManager[] = [];

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryRun(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

function natRules(): string {
  return tryRun('iptables', ['-t', 'nat', '-S']).out;
}

function sweepLeftovers(): void {
  for (const line of tryRun('ip', ['netns', 'list']).out.split('\n')) {
    const name = line.split(' ')[0];
    if (name?.startsWith(NS_PREFIX)) tryRun('ip', ['netns', 'del', name]);
  }
  tryRun('ip', ['link', 'del', BRIDGE]);
}

function newNetns(t: { after(fn: () => void): void }): string {
  const name = `${NS_PREFIX}${randomBytes(4).toString('hex')}`;
  run('ip', ['netns', 'add', name]);
  t.after(() => { tryRun('ip', ['netns', 'del', name]); });
  return name;
}

function nsPath(name: string): string {
  return `/run/netns/${name}`;
}

async function manager(options: Partial<CniManagerOptions> = {}): Promise<CniManager> {
  const m = new CniManager({
    confDir: conf, pluginDirs: [PLUGIN_DIR], cacheDir: path.join(root, 'cache'), log: silentLogger(),
    execTimeoutMs: 30_000, pollIntervalMs: 0, watch: false, ...options,
  });
  managers.push(m);
  await m.start();
  return m;
}

function allocated(): string[] {
  const dir = path.join(ipamDir, NETWORK);
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).sort();
}

function podSpec(id: string, ns: string): { id: string; netnsPath: string; podName: string; podNamespace: string; podUid: string } {
  return { id, netnsPath: nsPath(ns), podName: `pod-${id}`, podNamespace: 'cradle-test', podUid: `uid-${id}` };
}

function uniqueId(): string {
  return `cradletest${randomBytes(6).toString('hex')}`;
}

before(async () => {
  if (!available) return;
  sweepLeftovers();
  hostportChainsExisted = natRules().includes('-N CNI-HOSTPORT-DNAT');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-cni-'));
  conf = path.join(root, 'net.d');
  ipamDir = path.join(root, 'ipam');
  const written = await ensureDefaultConfig(conf, {
    networkName: NETWORK, bridge: BRIDGE, subnet: SUBNET, isGateway: false, ipMasq: false, ipamDataDir: ipamDir,
  });
  assert.ok(written);
});

after(async () => {
  if (!available) return;
  for (const m of managers) await m.stop();
  sweepLeftovers();
  // portmap creates shared top-level chains; remove them only if this run created them.
  if (!hostportChainsExisted && !/-A CNI-HOSTPORT-DNAT /.test(natRules())) {
    tryRun('iptables', ['-t', 'nat', '-D', 'PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'CNI-HOSTPORT-DNAT']);
    tryRun('iptables', ['-t', 'nat', '-D', 'OUTPUT', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'CNI-HOSTPORT-DNAT']);
    tryRun('iptables', ['-t', 'nat', '-D', 'POSTROUTING', '-m', 'comment', '--comment', 'CNI portfwd requiring masquerade', '-j', 'CNI-HOSTPORT-MASQ']);
    for (const chain of HOSTPORT_CHAINS) {
      tryRun('iptables', ['-t', 'nat', '-F', chain]);
      tryRun('iptables', ['-t', 'nat', '-X', chain]);
    }
  }
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

test('two pods get IPs on the bridge, loopback is up, they reach each other; DEL releases the IPs', { skip }, async (t) => {
  const m = await manager();
  assert.equal(m.status().ready, true, m.status().message);
  const nsA = newNetns(t);
  const nsB = newNetns(t);
  const a = podSpec(uniqueId(), nsA);
  const b = podSpec(uniqueId(), nsB);
  const before = allocated();
  const resA = await m.setUpPod(a);
  t.after(() => m.tearDownPod({ id: a.id }).catch(() => undefined));
  const resB = await m.setUpPod(b);
  t.after(() => m.tearDownPod({ id: b.id }).catch(() => undefined));

  const ipA = resA.ips[0]!;
  const ipB = resB.ips[0]!;
  assert.match(ipA.cidr, /^10\.213\.0\.\d+\/24$/);
  assert.equal(ipA.family, 'ipv4');
  assert.equal(ipA.interface, 'eth0');
  assert.notEqual(ipA.ip, ipB.ip);
  assert.deepEqual(allocated(), [...before, ipA.ip, ipB.ip].sort());

  assert.match(run('ip', ['-n', nsA, 'addr', 'show', 'eth0']), new RegExp(`inet ${ipA.cidr.replace(/\./g, '\\.')} `));
  assert.match(run('ip', ['-n', nsA, 'link', 'show', 'lo']), /<LOOPBACK,UP,LOWER_UP>/);
  assert.equal(run('ip', ['-o', 'link', 'show', 'master', BRIDGE]).trim().split('\n').length, 2);
  run('ip', ['netns', 'exec', nsA, 'busybox', 'ping', '-c', '1', '-W', '3', '127.0.0.1']);
  run('ip', ['netns', 'exec', nsA, 'busybox', 'ping', '-c', '1', '-W', '3', ipB.ip]);
  run('ip', ['netns', 'exec', nsB, 'busybox', 'ping', '-c', '1', '-W', '3', ipA.ip]);

  await m.tearDownPod({ id: a.id, netnsPath: nsPath(nsA) });
  await m.tearDownPod({ id: b.id, netnsPath: nsPath(nsB) });
  assert.deepEqual(allocated(), before);
  assert.equal(run('ip', ['-n', nsA, '-o', 'link']).includes('eth0'), false);
  assert.equal(run('ip', ['-o', 'link', 'show', 'master', BRIDGE]).trim(), '');
  // Idempotent.
  await m.tearDownPod({ id: a.id, netnsPath: nsPath(nsA) });
});

test('DEL after the netns was deleted and cradle restarted works from the cache', { skip }, async (t) => {
  const m = await manager();
  const ns = newNetns(t);
  const pod = podSpec(uniqueId(), ns);
  const res = await m.setUpPod(pod);
  assert.ok(allocated().includes(res.ips[0]!.ip));
  await m.stop();
  run('ip', ['netns', 'del', ns]);
  const restarted = await manager();
  await restarted.tearDownPod({ id: pod.id, netnsPath: nsPath(ns) });
  assert.equal(allocated().includes(res.ips[0]!.ip), false);
  assert.equal(await restarted.cachedPodNetwork(pod.id), undefined);
});

test('a failing plugin in the chain gives a clear error and leaks nothing', { skip }, async (t) => {
  const brokenConf = path.join(root, 'broken.d');
  fs.mkdirSync(brokenConf, { recursive: true });
  fs.writeFileSync(path.join(brokenConf, '10-broken.conflist'), JSON.stringify({
    cniVersion: '1.0.0', name: NETWORK, plugins: [
      { type: 'bridge', bridge: BRIDGE, isGateway: false, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: SUBNET }]], dataDir: ipamDir } },
      { type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.cradle_no_such_sysctl': '1' } },
    ],
  }));
  const m = await manager({ confDir: brokenConf });
  const ns = newNetns(t);
  const pod = podSpec(uniqueId(), ns);
  const before = allocated();
  await assert.rejects(m.setUpPod(pod), (err: unknown) => {
    assert.ok(errors.cniPlugin.is(err), String(err));
    assert.match((err as Error).message, new RegExp(`^pod cradle-test/${pod.podName} \\(${pod.id}\\): network "${NETWORK}": ADD: CNI plugin tuning failed ADD on network "${NETWORK}": .*cradle_no_such_sysctl`));
    return true;
  });
  assert.deepEqual(allocated(), before, 'the IP allocated by host-local was released');
  assert.equal(run('ip', ['-n', ns, '-o', 'link']).includes('eth0'), false, 'the veth was removed');
  assert.equal(await m.cachedPodNetwork(pod.id), undefined);
  assert.deepEqual(fs.readdirSync(path.join(root, 'cache', 'results')).filter((f) => f.includes(pod.id)), []);
});

test('a config added after start makes the network ready without restart', { skip }, async () => {
  const lateConf = path.join(root, 'late.d');
  const m = await manager({ confDir: lateConf, watch: true });
  const status = m.status();
  assert.equal(status.ready, false);
  assert.equal(status.reason, 'NetworkPluginNotReady');
  assert.match(status.message, /no valid CNI network config in .*late\.d/);
  const ready = m.waitForReady({ timeoutMs: 10_000 });
  await ensureDefaultConfig(lateConf, { networkName: NETWORK, bridge: BRIDGE, subnet: SUBNET, isGateway: false, ipMasq: false, ipamDataDir: ipamDir });
  await ready;
  assert.equal(m.status().network, NETWORK);
});

test('GC after a restart releases leaked allocations, including an ADD interrupted before its result was cached', { skip }, async (t) => {
  const m = await manager();
  const nsKeep = newNetns(t);
  const nsLeak = newNetns(t);
  const nsCrash = newNetns(t);
  const keep = podSpec(uniqueId(), nsKeep);
  const leak = podSpec(uniqueId(), nsLeak);
  const crash = podSpec(uniqueId(), nsCrash);
  const ipKeep = (await m.setUpPod(keep)).ips[0]!.ip;
  t.after(() => m.tearDownPod({ id: keep.id }).catch(() => undefined));
  const ipLeak = (await m.setUpPod(leak)).ips[0]!.ip;
  const ipCrash = (await m.setUpPod(crash)).ips[0]!.ip;
  await m.stop();
  // As if cradled was killed after the plugins ran but before the result was cached.
  const cacheFile = path.join(root, 'cache', 'results', `${NETWORK}-${crash.id}-eth0`);
  const entry = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
  fs.writeFileSync(cacheFile, JSON.stringify({ ...entry, state: 'adding', result: null }));
  run('ip', ['netns', 'del', nsLeak]);

  const restarted = await manager();
  const report = await restarted.gc([keep.id]);
  assert.deepEqual(report.released.map((r) => r.id).sort(), [leak.id, crash.id].sort());
  assert.deepEqual(report.failed, []);
  const left = allocated();
  assert.ok(left.includes(ipKeep));
  assert.equal(left.includes(ipLeak), false);
  assert.equal(left.includes(ipCrash), false);
  assert.equal(run('ip', ['-n', nsCrash, '-o', 'link']).includes('eth0'), false, 'DEL removed the crashed pod\'s veth');
  assert.ok(await restarted.cachedPodNetwork(keep.id));
  await restarted.tearDownPod({ id: keep.id });
});

test('a port mapping reaches the pod from the host on 127.0.0.1 and is removed by DEL', { skip }, async (t) => {
  // Host side of the test bridge gets an address (no forwarding, no default route in
  // the pod): portmap needs a host route to the pod to set up localhost DNAT.
  tryRun('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  run('ip', ['addr', 'replace', '10.213.0.254/24', 'dev', BRIDGE]);
  run('ip', ['link', 'set', BRIDGE, 'up']);
  const m = await manager();
  const ns = newNetns(t);
  const pod = podSpec(uniqueId(), ns);
  const hostPort = 31000 + Math.floor(Math.random() * 1000);
  const res = await m.setUpPod({ ...pod, portMappings: [{ hostPort, containerPort: 8080, protocol: 'TCP' }] });
  t.after(() => m.tearDownPod({ id: pod.id }).catch(() => undefined));
  assert.match(natRules(), new RegExp(`--dport ${hostPort} .*-j DNAT --to-destination ${res.ips[0]!.ip.replace(/\./g, '\\.')}:8080`));

  const server = spawn('ip', ['netns', 'exec', ns, 'busybox', 'nc', '-l', '-p', '8080', '-e', 'echo', 'hello-from-pod'], { stdio: 'ignore' });
  t.after(() => { server.kill('SIGKILL'); });
  let reply = '';
  for (let attempt = 0; attempt < 20 && !reply; attempt++) {
    reply = await new Promise<string>((resolve) => {
      const socket = net.connect(hostPort, '127.0.0.1');
      let data = '';
      socket.on('data', (chunk) => { data += chunk.toString(); });
      socket.on('end', () => resolve(data));
      socket.on('error', () => resolve(''));
      socket.setTimeout(3000, () => { socket.destroy(); resolve(data); });
    });
    if (!reply) await new Promise((r) => setTimeout(r, 100)); // the listener may not be up yet
  }
  assert.equal(reply, 'hello-from-pod\n');

  await m.tearDownPod({ id: pod.id, netnsPath: nsPath(ns) });
  assert.doesNotMatch(natRules(), new RegExp(`--dport ${hostPort} `));
});
