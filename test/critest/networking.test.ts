// critest area: networking (cri-tools pkg/validate/networking.go,
// networking_linux.go): pod IP from the CNI network, pod-to-pod traffic, port
// mappings (host port and container port only), mappings removed with the pod.
//
// cri-tools serves from an nginx container; here a busybox httpd container in
// the pod serves one page. The client side runs from the host (node's http) or
// from another pod's network namespace (nsenter --net=<pod netns>, the path from
// PodSandboxStatus verbose info). DNS config seen from a container: ExecSync
// `cat /etc/resolv.conf` (cri-tools checkDNSConfig).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { startTarget, type CriTarget } from './target';
import { httpGetInNetns, inNetns, podInside } from './pod-inspect';
import { ContainerKit } from './containers';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';

const BRIDGE = 'crit-net0';
const SUBNET = '10.214.2.0/24';
/** The host's address on the test bridge: portmap's localhost DNAT needs a host route to the pods. */
const HOST_ADDRESS = '10.214.2.254';

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => (acc << 8) + Number(part), 0) >>> 0;
}

function inSubnet(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/') as [string, string];
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return ((ipv4ToInt(ip) & mask) >>> 0) === ((ipv4ToInt(base) & mask) >>> 0);
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 3000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/** Retries for a few seconds: the server needs a moment to listen (cri-tools uses Eventually). */
async function eventuallyGet(url: string): Promise<{ status: number; body: string }> {
  let last: unknown;
  for (let i = 0; i < 40; i++) {
    try {
      return await httpGet(url);
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  throw last;
}

function natRules(): string {
  return execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' });
}

describe('networking', () => {
  let target: CriTarget;
  const live = new Set<string>();
  let kit: ContainerKit;

  before(async () => {
    target = await startTarget({ bridge: BRIDGE, subnet: SUBNET });
    if (target.network) {
      // The bridge plugin (isGateway=false) adopts an existing bridge and leaves its address alone.
      execFileSync('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
      execFileSync('ip', ['addr', 'add', `${HOST_ADDRESS}/24`, 'dev', BRIDGE]);
      execFileSync('ip', ['link', 'set', BRIDGE, 'up']);
    }
    kit = new ContainerKit(target);
    await kit.start();
  });
  after(async () => {
    for (const id of live) {
      await target.cri.runtime.StopPodSandbox({ podSandboxId: id }).catch(() => undefined);
      await target.cri.runtime.RemovePodSandbox({ podSandboxId: id }).catch(() => undefined);
    }
    await kit?.stop();
    await target?.stop(); // deletes the bridge and IPAM state
  });

  function podConfig(prefix: string, extra: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
    const suffix = randomBytes(4).toString('hex');
    const name = `${prefix}-${suffix}`;
    return { metadata: { name, uid: `uid-${suffix}`, namespace: `ns-${suffix}`, attempt: 0 }, logDirectory: path.join(kit.logRoot, name), linux: {}, ...extra };
  }

  const configs = new Map<string, PodSandboxConfig>();

  async function runPod(config: PodSandboxConfig): Promise<string> {
    const { podSandboxId } = await target.cri.runtime.RunPodSandbox({ config });
    live.add(podSandboxId);
    configs.set(podSandboxId, config);
    return podSandboxId;
  }

  async function removePod(id: string): Promise<void> {
    await target.cri.runtime.StopPodSandbox({ podSandboxId: id });
    await target.cri.runtime.RemovePodSandbox({ podSandboxId: id });
    live.delete(id);
  }

  async function podIp(id: string): Promise<string> {
    return (await target.cri.runtime.PodSandboxStatus({ podSandboxId: id })).status!.network!.ip;
  }

  /** A busybox httpd container in the pod serving `body` at / on `port`. */
  async function serve(podId: string, port: number, body: string): Promise<void> {
    await kit.run({ id: podId, config: configs.get(podId)! }, kit.containerConfig('web', ['sh', '-c',
      `mkdir -p /www && printf %s "$BODY" > /www/index.html && exec httpd -f -p ${port} -h /www`], {
      envs: [{ key: 'BODY', value: Buffer.from(body) }],
    }));
  }

  function freeHostPort(): number {
    return 31000 + Math.floor(Math.random() * 1000);
  }

  it('gives a pod an IP from the CNI network, on eth0 of its network namespace', async () => {
    const id = await runPod(podConfig('ip'));
    const ip = await podIp(id);
    // An external endpoint (CRADLE_CRITEST_ENDPOINT) brings its own network: only the address itself is checked.
    if (target.network) assert.ok(inSubnet(ip, target.network.subnet), `${ip} in ${target.network.subnet}`);
    const { netns } = await podInside(target, id);
    assert.match(inNetns(netns, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']), new RegExp(`inet ${ip.replace(/\./g, '\\.')}/\\d+ `));
    assert.match(inNetns(netns, ['ip', '-o', 'link', 'show', 'lo']), /UP/, 'loopback is up');
    await removePod(id);
  });

  it('two pods reach each other by pod IP', async () => {
    const a = await runPod(podConfig('peer-a'));
    const b = await runPod(podConfig('peer-b'));
    const [ipA, ipB] = [await podIp(a), await podIp(b)];
    assert.notEqual(ipA, ipB);
    const [nsA, nsB] = [(await podInside(target, a)).netns, (await podInside(target, b)).netns];
    await serve(b, 8080, `hello from ${b}`);
    let reply = '';
    for (let i = 0; i < 40 && !reply.includes(b); i++) {
      try {
        reply = httpGetInNetns(nsA, `http://${ipB}:8080/`);
      } catch {
        await new Promise((r) => setTimeout(r, 150));
      }
    }
    assert.equal(reply, `hello from ${b}`);
    inNetns(nsB, ['busybox', 'ping', '-c', '1', '-W', '3', ipA]);
    await removePod(a);
    await removePod(b);
  });

  it('port mapping with only a container port: the pod serves on podIP:containerPort', async () => {
    const id = await runPod(podConfig('cport', { portMappings: [{ protocol: 'TCP', containerPort: 80 }] }));
    const ip = await podIp(id);
    await serve(id, 80, 'container port only');
    const res = await eventuallyGet(`http://${ip}:80/`);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'container port only');
    await removePod(id);
  });

  it('port mapping hostPort→containerPort is reachable on 127.0.0.1 and removed with the pod', async () => {
    const hostPort = freeHostPort();
    const id = await runPod(podConfig('hport', { portMappings: [{ protocol: 'TCP', containerPort: 80, hostPort }] }));
    await serve(id, 80, `served through ${hostPort}`);
    const res = await eventuallyGet(`http://127.0.0.1:${hostPort}/`);
    assert.equal(res.status, 200);
    assert.equal(res.body, `served through ${hostPort}`);
    assert.match(natRules(), new RegExp(`--dport ${hostPort} `));
    await target.cri.runtime.StopPodSandbox({ podSandboxId: id });
    assert.doesNotMatch(natRules(), new RegExp(`--dport ${hostPort} `), 'stop removes the host port mapping');
    await target.cri.runtime.RemovePodSandbox({ podSandboxId: id });
    live.delete(id);
  });

  it('port mappings keep their host IP and protocol (TCP on 127.0.0.1, UDP)', async () => {
    const tcpPort = freeHostPort();
    const udpPort = tcpPort + 1000;
    const id = await runPod(podConfig('hostip', { portMappings: [
      { protocol: 'TCP', containerPort: 80, hostPort: tcpPort, hostIp: '127.0.0.1' },
      { protocol: 'UDP', containerPort: 53, hostPort: udpPort },
    ] }));
    const ip = (await podIp(id)).replace(/\./g, '\\.');
    const rules = natRules();
    assert.match(rules, new RegExp(`-d 127\\.0\\.0\\.1/32 -p tcp -m tcp --dport ${tcpPort} -j DNAT --to-destination ${ip}:80`));
    assert.match(rules, new RegExp(`-p udp -m udp --dport ${udpPort} -j DNAT --to-destination ${ip}:53`));
    await serve(id, 80, 'bound to 127.0.0.1');
    assert.equal((await eventuallyGet(`http://127.0.0.1:${tcpPort}/`)).body, 'bound to 127.0.0.1');
    await removePod(id);
    assert.doesNotMatch(natRules(), new RegExp(`--dport (${tcpPort}|${udpPort}) `));
  });

  it('DNS config of the pod is the container\'s /etc/resolv.conf (cri-tools checkDNSConfig)', async () => {
    const dnsConfig = { servers: ['10.214.2.253', '10.214.2.252'], searches: ['critest.example', 'svc.critest.example'], options: ['ndots:3', 'timeout:2'] };
    const id = await runPod(podConfig('dns', { dnsConfig }));
    const c = await kit.runSleeper({ id, config: configs.get(id)! });
    const resolv = await kit.sh(c, 'cat /etc/resolv.conf');
    for (const server of dnsConfig.servers) assert.match(resolv, new RegExp(`^nameserver ${server.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(resolv, /^search critest\.example svc\.critest\.example$/m);
    assert.match(resolv, /^options ndots:3 timeout:2$/m);
    await removePod(id);
  });

  it('a stopped pod has no IP in its status and gives its address back', async () => {
    const id = await runPod(podConfig('release'));
    const ip = await podIp(id);
    // host-local keeps one file per address in <dataDir>/<network name>/.
    const allocation = target.network ? path.join(`/var/lib/cni/networks-${target.network.bridge}`, target.network.bridge, ip) : undefined;
    if (allocation) assert.ok(fs.existsSync(allocation), `host-local allocated ${ip}`);
    await target.cri.runtime.StopPodSandbox({ podSandboxId: id });
    const s = (await target.cri.runtime.PodSandboxStatus({ podSandboxId: id })).status!;
    assert.equal(s.state, 'SANDBOX_NOTREADY');
    assert.equal(s.network?.ip ?? '', '', 'no IP once the network is torn down');
    if (allocation) assert.equal(fs.existsSync(allocation), false, `host-local released ${ip}`);
    await target.cri.runtime.RemovePodSandbox({ podSandboxId: id });
    live.delete(id);
  });
});
