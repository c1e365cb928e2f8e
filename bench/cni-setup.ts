// Pod network setup/teardown latency with Debian's real plugins (bridge + host-local
// + portmap + internal loopback) in fresh network namespaces. Root only.
// Run: npm run build && ./node_modules/.bin/node dist/bench/cni-setup.js [rounds]
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CniManager, ensureDefaultConfig } from '../src/cni';
import { silentLogger } from '../src/common/logger';

function stats(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return `${median.toFixed(1)} ms median (${sorted[0]!.toFixed(1)}–${sorted[sorted.length - 1]!.toFixed(1)}), n=${sorted.length}`;
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 20);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-cni-bench-'));
  const bridge = 'cradle-tcnib0';
  const ns = 'cradle-test-cni-bench';
  await ensureDefaultConfig(path.join(root, 'net.d'), {
    networkName: 'cradle-test-bench', bridge, subnet: '10.213.1.0/24', isGateway: false, ipMasq: false, ipamDataDir: path.join(root, 'ipam'),
  });
  const m = new CniManager({ confDir: path.join(root, 'net.d'), pluginDirs: ['/usr/lib/cni'], cacheDir: path.join(root, 'cache'), log: silentLogger(), pollIntervalMs: 0, watch: false });
  await m.start();
  const add: number[] = [];
  const del: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      execFileSync('ip', ['netns', 'add', ns]);
      try {
        const pod = { id: `bench${i}`, netnsPath: `/run/netns/${ns}`, podName: `p${i}`, podNamespace: 'bench', podUid: `u${i}` };
        let t0 = performance.now();
        await m.setUpPod(pod);
        add.push(performance.now() - t0);
        t0 = performance.now();
        await m.tearDownPod(pod);
        del.push(performance.now() - t0);
      } finally {
        spawnSync('ip', ['netns', 'del', ns]);
      }
    }
  } finally {
    await m.stop();
    spawnSync('ip', ['link', 'del', bridge]);
    fs.rmSync(root, { recursive: true, force: true });
  }
  console.log(`setUpPod (loopback + bridge/host-local + portmap): ${stats(add)}`);
  console.log(`tearDownPod: ${stats(del)}`);
}

main().catch((err: unknown) => { console.error(err); process.exit(1); });
