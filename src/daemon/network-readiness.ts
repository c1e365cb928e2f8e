// NetworkReady until the CNI manager is wired in: ready when the CNI config
// directory holds at least one parseable network configuration.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NetworkConfig } from '../config/schema';
import type { Readiness, ReadinessSource } from '../cri-server/services';

export class CniConfigReadiness implements ReadinessSource {
  constructor(private readonly network: () => NetworkConfig) {}

  status(): Readiness {
    const dir = this.network().cni_config_dir;
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir).filter((n) => /\.(conf|conflist|json)$/.test(n)).sort();
    } catch { /* missing directory: not ready */ }
    for (const name of names) {
      try {
        const doc = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as { type?: unknown; plugins?: unknown };
        if (typeof doc.type === 'string' || Array.isArray(doc.plugins)) return { ready: true, reason: '', message: '' };
      } catch { /* invalid file: keep looking */ }
    }
    return { ready: false, reason: 'NetworkPluginNotReady', message: `no valid CNI network configuration in ${dir}` };
  }
}
