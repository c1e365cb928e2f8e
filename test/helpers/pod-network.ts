// A CNI network for tests that cannot reach beyond its own bridge: no gateway
// address, no masquerade, no default route in the pods, and iptables rules that
// drop whatever pods of the subnet send elsewhere (forwarded, or new connections
// to the host) in case a pod gets a route anyway. Removing the bridge, the rules
// and the IPAM state after the test leaves the host as it was.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

export interface TestNetwork {
  bridge: string;
  subnet: string;
  ipamDir: string;
  /** Writes the conflist into a CNI conf dir. */
  install(confDir: string): void;
  /** Deletes the bridge and IPAM state (also leftovers of a killed run). */
  cleanup(): void;
}

/** The egress rules of a test subnet (chain, then match), each tagged with a comment naming the bridge. */
function egressRules(bridge: string, subnet: string): [string, string[]][] {
  const tag = ['-m', 'comment', '--comment', `cradle-test-egress-${bridge}`];
  return [
    ['FORWARD', ['-s', subnet, '!', '-d', subnet, ...tag, '-j', 'DROP']],
    // Replies to the host's own connections (port mappings, probes) stay allowed.
    ['INPUT', ['-s', subnet, '-m', 'conntrack', '--ctstate', 'NEW', ...tag, '-j', 'DROP']],
  ];
}

function iptables(args: string[]): boolean {
  try {
    execFileSync('iptables', ['-w', ...args], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function testNetwork(bridge: string, subnet: string): TestNetwork {
  const ipamDir = `/var/lib/cni/networks-${bridge}`;
  const rules = egressRules(bridge, subnet);
  const cleanup = () => {
    try { execFileSync('ip', ['link', 'del', bridge], { stdio: 'ignore' }); } catch { /* absent */ }
    fs.rmSync(ipamDir, { recursive: true, force: true });
    // Every copy, also those a killed run left.
    for (const [chain, rule] of rules) while (iptables(['-D', chain, ...rule])) { /* next copy */ }
  };
  return {
    bridge, subnet, ipamDir, cleanup,
    install(confDir: string) {
      for (const [chain, rule] of rules) {
        if (!iptables(['-C', chain, ...rule]) && !iptables(['-I', chain, ...rule])) throw new Error(`iptables: cannot add the egress rule for ${subnet} to ${chain}`);
      }
      fs.mkdirSync(confDir, { recursive: true });
      fs.writeFileSync(path.join(confDir, `10-${bridge}.conflist`), JSON.stringify({
        cniVersion: '1.0.0',
        name: bridge,
        plugins: [
          { type: 'bridge', bridge, isGateway: false, ipMasq: false, hairpinMode: true,
            ipam: { type: 'host-local', ranges: [[{ subnet }]], dataDir: ipamDir } },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      }));
    },
  };
}

/** Runs a command inside a pinned network namespace. */
export function inNetns(netnsPath: string, cmd: string[]): string {
  return execFileSync('nsenter', [`--net=${netnsPath}`, ...cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Mount points whose path contains `needle` (to prove nothing was leaked). */
export function mountsContaining(needle: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.includes(needle));
}
