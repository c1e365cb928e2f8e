// The runtime under test. By default the suite starts its own cradled; with
// CRADLE_CRITEST_TARGET=containerd it starts the private reference containerd
// (test/reference/containerd.ts) instead, so every spec is proven against a
// runtime no one here wrote. Both get the same fixture registry, the same CNI
// plugins and a test network that cannot reach beyond its bridge.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CriClient } from '../helpers/cri-client';
import { allowInsecureRegistry, makeTempDirs, startCradled } from '../helpers/daemon';
import { startFixtureRegistry, type FixtureRegistry } from '../helpers/registry';
import { pauseImage, pushImage } from '../helpers/image-builder';
import { startReferenceContainerd } from '../reference/containerd';

export type TargetName = 'cradle' | 'containerd';

export interface CriTarget {
  name: TargetName;
  endpoint: string;
  cri: CriClient;
  registry: FixtureRegistry;
  /** CNI configuration directory the runtime reads. */
  cniDir: string;
  /** The pause image reference the runtime uses. */
  pauseImage: string;
  stop(): Promise<void>;
}

export function targetName(): TargetName {
  const name = process.env.CRADLE_CRITEST_TARGET ?? 'cradle';
  if (name !== 'cradle' && name !== 'containerd') throw new Error(`CRADLE_CRITEST_TARGET must be cradle or containerd, not ${name}`);
  return name;
}

/** A CNI network confined to its bridge: no gateway route out, no masquerade. */
export function testNetworkConfig(bridge: string, subnet: string): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'critest',
    plugins: [
      { type: 'bridge', bridge, isGateway: false, ipMasq: false, hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet }]], dataDir: '/var/lib/cni/networks-critest' } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  });
}

export async function startTarget(): Promise<CriTarget> {
  const name = targetName();
  const registry = await startFixtureRegistry();
  try {
    const pause = await pushImage(registry, 'critest/pause:3.10', pauseImage());
    if (name === 'containerd') {
      const cniDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-critest-cni-'));
      fs.writeFileSync(path.join(cniDir, '10-critest.conflist'), testNetworkConfig('cradle-crit0', '10.214.0.0/24'));
      const ref = await startReferenceContainerd({ cniConfDir: cniDir, registryHost: registry.host, sandboxImage: pause.reference });
      const cri = new CriClient(ref.endpoint);
      return {
        name, endpoint: ref.endpoint, cri, registry, cniDir, pauseImage: pause.reference,
        stop: async () => { cri.close(); await ref.stop(); await registry.stop(); fs.rmSync(cniDir, { recursive: true, force: true }); },
      };
    }
    const dirs = makeTempDirs('cradle-critest-');
    allowInsecureRegistry(dirs, registry.host);
    fs.writeFileSync(path.join(dirs.cniDir, '10-critest.conflist'), testNetworkConfig('cradle-crit0', '10.214.0.0/24'));
    const daemon = await startCradled({ args: ['--image-pause-image', pause.reference] }, dirs);
    const cri = daemon.client();
    return {
      name, endpoint: `unix://${daemon.socket}`, cri, registry, cniDir: dirs.cniDir, pauseImage: pause.reference,
      stop: async () => { await daemon.stop(); await registry.stop(); },
    };
  } catch (err) {
    await registry.stop();
    throw err;
  }
}
