// The embedded default network: when the conf dir holds no config at all, cradled
// writes a bridge + host-local + portmap list for a private subnet so a single node
// works out of the box (loopback is brought up by cradle itself). Callers turn it
// off by not calling ensureDefaultConfig (config key network.write_default_config).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../common/atomic-file';
import { errors } from '../common/errors';
import { listConfigFiles } from './config';
import type { JsonObject } from './types';

export interface DefaultConfigOptions {
  /** Network name (default "cradle"). */
  networkName?: string;
  /** File written in the conf dir (default "10-cradle-default.conflist"). */
  fileName?: string;
  /** Linux bridge on the host (default "cradle0"). */
  bridge?: string;
  /** Pod subnet for host-local (default 10.85.0.0/16). */
  subnet?: string;
  /** Give the bridge the gateway address and pods a default route (default true). */
  isGateway?: boolean;
  /** Masquerade pod traffic leaving the subnet (default true). */
  ipMasq?: boolean;
  /** Let a pod reach itself through a service/host port (default true). */
  hairpinMode?: boolean;
  /** host-local's allocation dir (default: the plugin's own, /var/lib/cni/networks). */
  ipamDataDir?: string;
  /**
   * Declare the `ipRanges` capability so the pod CIDR from UpdateRuntimeConfig, when
   * the kubelet sends one, replaces `subnet` for new pods (default true).
   */
  usePodCidr?: boolean;
  /** CNI version of the list (default 1.0.0, the highest Debian's plugins speak). */
  cniVersion?: string;
}

export const DEFAULT_NETWORK_NAME = 'cradle';
export const DEFAULT_CONFIG_FILE = '10-cradle-default.conflist';
export const DEFAULT_BRIDGE = 'cradle0';
export const DEFAULT_SUBNET = '10.85.0.0/16';

/** The default network list as JSON. */
export function defaultNetworkConfig(options: DefaultConfigOptions = {}): JsonObject {
  const subnet = options.subnet ?? DEFAULT_SUBNET;
  if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(subnet) && !/^[0-9a-fA-F:]+\/\d{1,3}$/.test(subnet)) {
    throw errors.invalidArgument(`default CNI network: subnet ${JSON.stringify(subnet)} is not a CIDR`);
  }
  const isGateway = options.isGateway ?? true;
  const ipv6 = subnet.includes(':');
  const ipam: JsonObject = {
    type: 'host-local',
    ranges: [[{ subnet }]],
    ...(isGateway ? { routes: [{ dst: ipv6 ? '::/0' : '0.0.0.0/0' }] } : {}),
    ...(options.ipamDataDir ? { dataDir: options.ipamDataDir } : {}),
  };
  return {
    cniVersion: options.cniVersion ?? '1.0.0',
    name: options.networkName ?? DEFAULT_NETWORK_NAME,
    plugins: [
      {
        type: 'bridge',
        bridge: options.bridge ?? DEFAULT_BRIDGE,
        isGateway,
        ipMasq: options.ipMasq ?? true,
        hairpinMode: options.hairpinMode ?? true,
        ...((options.usePodCidr ?? true) ? { capabilities: { ipRanges: true } } : {}),
        ipam,
      },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ],
  };
}

/**
 * Writes the default network into `confDir` only when the dir has no config file
 * (`.conf`, `.conflist`, `.json`). Returns the file written, or undefined.
 */
export async function ensureDefaultConfig(confDir: string, options: DefaultConfigOptions = {}): Promise<string | undefined> {
  const config = defaultNetworkConfig(options);
  await fs.promises.mkdir(confDir, { recursive: true, mode: 0o755 });
  if ((await listConfigFiles(confDir)).length > 0) return undefined;
  const file = path.join(confDir, options.fileName ?? DEFAULT_CONFIG_FILE);
  await writeFileAtomic(file, JSON.stringify(config, null, 2) + '\n', { mode: 0o644 });
  return file;
}
