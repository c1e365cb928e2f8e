// Statistics from the real kernel: a v1 cgroup with a busybox process that allocates
// memory and burns CPU, and a pair of network namespaces joined by a veth with pings
// between them (addresses exist only inside the test namespaces). Root only.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { cleanChildEnv } from '../../../src/common/child-env';
import { errors } from '../../../src/common/errors';
import {
  CpuRateTracker, isUnifiedRoot, podSandboxMetrics, readContainerStats, readNetworkStats, readPodSandboxStats, toCriContainerStats,
  toCriPodSandboxStats, v1ControllerRoot,
} from '../../../src/stats';

const PREFIX = 'cradle-test-stats-';
const CGROUP_ROOT = '/sys/fs/cgroup';
const CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids'];
const MiB = 1024n * 1024n;

function sh(cmd: string[], check = true): string {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', env: cleanChildEnv() });
  if (check && r.status !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Removes a cgroup directory tree in every controller, killing what still runs in it. */
function removeCgroupTree(rel: string): void {
  for (const controller of fs.readdirSync(CGROUP_ROOT)) {
    const dir = path.join(CGROUP_ROOT, controller, rel);
    if (!fs.existsSync(dir)) continue;
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
      try {
        for (const pid of fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
          try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
        }
      } catch { /* no procs file */ }
      for (let i = 0; i < 50; i++) {
        try { fs.rmdirSync(d); return; } catch (err) {
          if ((err as { code?: string }).code === 'ENOENT') return;
          spawnSync('sleep', ['0.05']);
        }
      }
    };
    walk(dir);
  }
}

function removeNetns(name: string): void {
  spawnSync('ip', ['netns', 'delete', name], { env: cleanChildEnv() });
}

before(() => {
  // Leftovers of a killed earlier run.
  for (const controller of fs.existsSync(CGROUP_ROOT) ? fs.readdirSync(CGROUP_ROOT) : []) {
    let entries: string[] = [];
    try { entries = fs.readdirSync(path.join(CGROUP_ROOT, controller)); } catch { continue; }
    for (const e of entries) if (e.startsWith(PREFIX)) removeCgroupTree(e);
  }
  for (const line of sh(['ip', 'netns', 'list'], false).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (name.startsWith(PREFIX)) removeNetns(name);
  }
});

/** A busybox shell that waits for "go" lines on stdin and reports each stage on stdout. */
class Worker {
  readonly child: ChildProcess;
  private buffered = '';
  constructor(script: string) {
    this.child = spawn('busybox', ['sh', '-c', script], { stdio: ['pipe', 'pipe', 'inherit'], env: cleanChildEnv() });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => { this.buffered += d; });
  }
  async stage(name: string, timeoutMs = 20000): Promise<void> {
    this.child.stdin!.write('go\n');
    const deadline = Date.now() + timeoutMs;
    while (!this.buffered.includes(`${name}\n`)) {
      if (Date.now() > deadline) throw new Error(`worker did not reach ${name}: ${JSON.stringify(this.buffered)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }
}

const isV1 = !isUnifiedRoot(CGROUP_ROOT) && fs.existsSync(path.join(CGROUP_ROOT, 'memory'));

test('a real v1 container cgroup: memory, cpu and pids are sane and move; pod cgroup aggregates', { skip: !isV1 && 'host is not cgroup v1' }, async (t) => {
  const pod = `${PREFIX}${process.pid}`;
  const rel = `/${pod}/cradle-ctr1`;
  const layer = fs.mkdtempSync(path.join('/tmp', `${PREFIX}layer-`));
  const worker = new Worker([
    'read go; echo joined',
    // ~24 MiB held by the shell: anonymous memory (rss)
    'read go; x=$(head -c 25165824 /dev/zero | tr "\\0" a); echo allocated',
    'read go; i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo spun',
    'read go; echo "$x" | head -c 1 >/dev/null; echo done',
  ].join('\n'));
  t.after(async () => {
    await worker.kill();
    removeCgroupTree(pod);
    fs.rmSync(layer, { recursive: true, force: true });
  });

  const dirs = new Set(CONTROLLERS.map((c) => v1ControllerRoot(CGROUP_ROOT, c)).filter((d): d is string => d !== undefined)
    .map((d) => path.join(fs.realpathSync(d), rel)));
  for (const dir of dirs) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(worker.child.pid));
  }
  const memDir = path.join(CGROUP_ROOT, 'memory', rel);
  fs.writeFileSync(path.join(memDir, 'memory.limit_in_bytes'), String(256n * MiB));
  await worker.stage('joined');

  const tracker = new CpuRateTracker(0n);
  const input = { cgroupsPath: rel, cgroupDriver: 'cgroupfs' as const, writableLayerDir: layer, cpuRate: { tracker, key: 'ctr1' } };
  const idle = await readContainerStats(input);
  assert.equal(idle.version, 1);
  assert.ok(idle.pids && idle.pids.current >= 1n, `pids ${idle.pids?.current}`);
  assert.equal(idle.memory.limitBytes, 256n * MiB);

  await worker.stage('allocated');
  fs.writeFileSync(path.join(layer, 'written'), Buffer.alloc(1024 * 1024, 7));
  const full = await readContainerStats(input);
  assert.ok(full.memory.usageBytes >= 20n * MiB, `usage ${full.memory.usageBytes}`);
  assert.ok(full.memory.rssBytes >= 20n * MiB, `rss ${full.memory.rssBytes}`);
  assert.ok(full.memory.workingSetBytes >= 20n * MiB && full.memory.workingSetBytes <= full.memory.usageBytes, `ws ${full.memory.workingSetBytes}`);
  assert.equal(full.memory.availableBytes, 256n * MiB - full.memory.workingSetBytes);
  assert.ok(full.memory.pageFaults > idle.memory.pageFaults, 'page faults grew');
  assert.ok(full.cpu.usageCoreNanoSeconds > idle.cpu.usageCoreNanoSeconds, 'cpu grew while allocating');
  assert.ok(full.writableLayer && full.writableLayer.usedBytes >= MiB && full.writableLayer.inodesUsed === 2n);

  await worker.stage('spun');
  const spun = await readContainerStats(input);
  const burned = spun.cpu.usageCoreNanoSeconds - full.cpu.usageCoreNanoSeconds;
  assert.ok(burned > 10_000_000n, `burned ${burned} ns`);
  assert.ok(spun.cpu.usageNanoCores !== undefined && spun.cpu.usageNanoCores > 0n, `nano cores ${spun.cpu.usageNanoCores}`);
  assert.ok(spun.cpu.usageNanoCores <= 2n * 1_000_000_000n * 2n, 'at most the host cores (with slack)');
  assert.ok(spun.cpu.userNanoSeconds + spun.cpu.systemNanoSeconds > 0n);

  const cri = toCriContainerStats(spun, { id: 'ctr1' });
  assert.equal(cri.cpu?.usageCoreNanoSeconds?.value, spun.cpu.usageCoreNanoSeconds.toString());
  assert.equal(cri.writableLayer?.fsId?.mountpoint, layer);

  // The pod cgroup (the sandbox's cgroupParent) contains the container's usage.
  const podStats = readPodSandboxStats({ cgroupParent: `/${pod}`, cgroupDriver: 'cgroupfs' });
  assert.ok(podStats.cpu.usageCoreNanoSeconds >= spun.cpu.usageCoreNanoSeconds);
  assert.ok(podStats.memory.usageBytes >= 20n * MiB);
  assert.ok(podStats.pids && podStats.pids.current >= 1n);

  const metrics = podSandboxMetrics({ id: 'sb', name: 'p', namespace: 'n', containers: [{ id: 'ctr1', name: 'c', image: 'busybox', stats: spun }] });
  const ws = metrics.containerMetrics?.[0]?.metrics?.find((m) => m.name === 'container_memory_working_set_bytes');
  assert.equal(ws?.value?.value, spun.memory.workingSetBytes.toString());

  await worker.kill();
  removeCgroupTree(pod);
  await assert.rejects(readContainerStats(input), (err: unknown) => errors.cgroupNotFound.is(err));
});

test('network counters are read inside a pinned network namespace and move with traffic', async (t) => {
  const a = `${PREFIX}${process.pid}-a`;
  const b = `${PREFIX}${process.pid}-b`;
  t.after(() => { removeNetns(a); removeNetns(b); });
  sh(['ip', 'netns', 'add', a]);
  sh(['ip', 'netns', 'add', b]);
  // veth created inside a, one end moved to b: nothing touches the host namespace.
  sh(['ip', '-n', a, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0']);
  sh(['ip', '-n', a, 'link', 'set', 'peer0', 'netns', b]);
  sh(['ip', '-n', b, 'link', 'set', 'peer0', 'name', 'eth0']);
  sh(['ip', '-n', a, 'addr', 'add', '10.219.0.1/30', 'dev', 'eth0']);
  sh(['ip', '-n', b, 'addr', 'add', '10.219.0.2/30', 'dev', 'eth0']);
  for (const ns of [a, b]) {
    sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }
  const nsPath = `/run/netns/${a}`;
  const before = readNetworkStats(nsPath);
  const hostNetns = fs.readlinkSync('/proc/thread-self/ns/net');
  assert.deepEqual(before.interfaces.map((i) => i.name).sort(), ['eth0', 'lo']);

  sh(['ip', 'netns', 'exec', b, 'busybox', 'ping', '-c', '3', '-i', '0.2', '-s', '1000', '-W', '2', '10.219.0.1']);
  const after = readNetworkStats(nsPath);
  assert.equal(fs.readlinkSync('/proc/thread-self/ns/net'), hostNetns, 'the thread is back in its own namespace');
  const eth0 = (s: typeof after) => s.interfaces.find((i) => i.name === 'eth0')!;
  assert.ok(eth0(after).rxBytes >= eth0(before).rxBytes + 3000n, `rx ${eth0(before).rxBytes} → ${eth0(after).rxBytes}`);
  assert.ok(eth0(after).txBytes >= eth0(before).txBytes + 3000n, `tx ${eth0(before).txBytes} → ${eth0(after).txBytes}`);
  assert.ok(eth0(after).rxPackets >= eth0(before).rxPackets + 3n);
  assert.ok(BigInt(after.timestampNs) > BigInt(before.timestampNs));

  // The host's own counters are a different view (the read really happened inside the namespace).
  const hostNames = fs.readFileSync('/proc/net/dev', 'utf8');
  assert.ok(!/\n\s*peer0:/.test(hostNames));

  const pod = toCriPodSandboxStats({ ...readPodSandboxStats({ cgroupParent: '', cgroupDriver: 'cgroupfs', netnsPath: nsPath, containers: [] }) },
    { id: 'sb' }, []);
  assert.equal(pod.linux?.network?.defaultInterface?.name, 'eth0');
  assert.ok(BigInt(String(pod.linux?.network?.defaultInterface?.rxBytes?.value)) >= 3000n);
  assert.deepEqual(pod.linux?.network?.interfaces, []);

  assert.throws(() => readNetworkStats(`/run/netns/${PREFIX}missing`), /ENOENT/);
  assert.equal(fs.readlinkSync('/proc/thread-self/ns/net'), hostNetns);
});
