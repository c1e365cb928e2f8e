// A CNI network for tests that cannot reach beyond its own bridge: no gateway
// address, no masquerade, no default route in the pods. Removing the bridge and
// the IPAM state after the test leaves the host as it was.
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

export function testNetwork(bridge: string, subnet: string): TestNetwork {
  const ipamDir = `/var/lib/cni/networks-${bridge}`;
  const cleanup = () => {
    try { execFileSync('ip', ['link', 'del', bridge], { stdio: 'ignore' }); } catch { /* absent */ }
    fs.rmSync(ipamDir, { recursive: true, force: true });
  };
  return {
    bridge, subnet, ipamDir, cleanup,
    install(confDir: string) {
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
