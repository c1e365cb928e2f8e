// The pods' CNI network: bridge rcrit0 with 10.213.0.0/24 (bridge + host-local
// + portmap, no gateway, no masquerade, egress dropped: test/helpers/pod-network.ts).
// critest itself GETs http://<pod IP>:80 from the host (port mapping with only a
// container port, multi-container network, port-forward readiness), so the host
// gets an address on the bridge: a route to the pods, none from them outward.
import { execFileSync } from 'node:child_process';
import { testNetwork, type TestNetwork } from '../../helpers/pod-network';

export const BRIDGE = 'rcrit0';
export const SUBNET = '10.213.0.0/24';
const HOST_ADDRESS = '10.213.0.254/24';

/** Removes leftovers (a killed run's bridge, rules, IPAM state), then sets the network up and writes its conflist into confDir. */
export function setUpNetwork(confDir: string): TestNetwork {
  const net = testNetwork(BRIDGE, SUBNET);
  net.cleanup();
  try {
    // The bridge plugin (isGateway=false) adopts an existing bridge and leaves its address alone.
    execFileSync('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
    execFileSync('ip', ['addr', 'add', HOST_ADDRESS, 'dev', BRIDGE]);
    execFileSync('ip', ['link', 'set', BRIDGE, 'up']);
    net.install(confDir);
  } catch (err) {
    net.cleanup();
    throw err;
  }
  return net;
}
