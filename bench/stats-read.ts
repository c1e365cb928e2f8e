// Cost of one stats reading: the pod's /proc/net/dev via setns on the main thread
// (what readNetworkStats does) against an nsenter helper process, and one container
// cgroup read on this host. Root only.
// Run: npm run build && ./node_modules/.bin/node dist/bench/stats-read.js [rounds]
import { spawnSync } from 'node:child_process';
import { cleanChildEnv } from '../src/common/child-env';
import { readContainerStats, readNetworkStats } from '../src/stats';

function timeUs(rounds: number, fn: () => void): string {
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) fn();
  return `${(Number(process.hrtime.bigint() - start) / 1000 / rounds).toFixed(1)} µs/read (n=${rounds})`;
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 500);
  const ns = `cradle-test-stats-bench-${process.pid}`;
  spawnSync('ip', ['netns', 'add', ns], { env: cleanChildEnv() });
  try {
    const nsPath = `/run/netns/${ns}`;
    console.log(`readNetworkStats (setns):  ${timeUs(rounds, () => readNetworkStats(nsPath))}`);
    console.log(`nsenter cat /proc/net/dev: ${timeUs(Math.max(1, Math.floor(rounds / 20)), () => {
      spawnSync('nsenter', [`--net=${nsPath}`, 'cat', '/proc/net/dev'], { env: cleanChildEnv() });
    })}`);
    const start = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) await readContainerStats({ cgroupsPath: '/', cgroupDriver: 'cgroupfs' });
    console.log(`readContainerStats (v1 root cgroup, no layer): ${(Number(process.hrtime.bigint() - start) / 1000 / rounds).toFixed(1)} µs/read`);
  } finally {
    spawnSync('ip', ['netns', 'delete', ns], { env: cleanChildEnv() });
  }
}

void main();
