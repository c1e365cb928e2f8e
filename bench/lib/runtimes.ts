// The two runtimes the CRI benchmark compares, started the same way: each with
// its own confined CNI network (own bridge and subnet, no gateway, no
// masquerade), the same pause image from the fixture registry, and a CriClient.
// Also the sweep of whatever a killed earlier run left behind.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CriClient } from '../../test/helpers/cri-client';
import {
  allowInsecureRegistry, baseArgs, Cradled, makeTempDirs, REPO_ROOT, waitForSocket,
} from '../../test/helpers/daemon';
import { testNetwork, type TestNetwork } from '../../test/helpers/pod-network';
import { startReferenceContainerd } from '../../test/reference/containerd';
import { cleanChildEnv } from '../../src/common/child-env';
import { pinnedNodePath } from '../../src/common/pinned-node';
import { isAlive, listProcesses, type ProcInfo } from './procfs';
import { mapLimit, sleep } from './stats';

export type RuntimeName = 'cradle' | 'containerd';
export const RUNTIME_NAMES: readonly RuntimeName[] = ['cradle', 'containerd'];

/** Pods of both runtimes go below this cgroup, so a sweep finds their processes. */
export const CGROUP_PARENT = '/cradle-bench-pods';
export const NETWORKS: Record<RuntimeName, { bridge: string; subnet: string }> = {
  cradle: { bridge: 'cradle-bench0', subnet: '10.230.0.0/24' },
  containerd: { bridge: 'cradle-bench1', subnet: '10.230.1.0/24' },
};
const TMP_PREFIX = 'cradle-bench-';
const STATE_FILE = path.join(os.tmpdir(), 'cradle-bench-state.json');
export const PINNED_NODE = pinnedNodePath(REPO_ROOT);

export interface BenchRuntime {
  name: RuntimeName;
  cri: CriClient;
  /** pid of cradled (node) or containerd. */
  daemonPid: number;
  /** Per-pod helpers: conmon processes (cradle) or containerd-shim-runc-v2 (containerd). */
  helpers(): ProcInfo[];
  /** cradle-runtime processes still alive (they should exist only during a call). */
  lingering(): ProcInfo[];
  /** Parent of the pods' log directories. */
  logRoot: string;
  /** Removes every pod, stops the daemon, removes its network and dirs. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  registryHost: string;
  pauseImage: string;
  /** Directory for a V8 CPU profile of cradled (written when it exits). */
  cpuProfDir?: string;
  /** More node flags for cradled (e.g. --trace-gc), and where its stdout goes (default: discarded). */
  nodeFlags?: string[];
  stdoutPath?: string;
}

interface SweepState {
  pids: number[];
  dirs: string[];
}

function readState(): SweepState {
  try {
    return JSON.parse(fs.readFileSync(STATE_FILE, 'utf8')) as SweepState;
  } catch {
    return { pids: [], dirs: [] };
  }
}

/** Remembers a daemon or dir of this run, so a later run can sweep it if this one is killed. */
function remember(entry: { pid?: number; dir?: string }): void {
  const state = readState();
  if (entry.pid) state.pids.push(entry.pid);
  if (entry.dir) state.dirs.push(entry.dir);
  fs.writeFileSync(STATE_FILE, JSON.stringify(state));
}

function cgroupDirs(): string[] {
  let controllers: string[] = [];
  try { controllers = fs.readdirSync('/sys/fs/cgroup'); } catch { /* none */ }
  return controllers.map((c) => path.join('/sys/fs/cgroup', c, CGROUP_PARENT)).filter((d) => fs.existsSync(d));
}

/** Depth-first list of a cgroup tree (children before parents). */
function cgroupTree(dir: string): string[] {
  const out: string[] = [];
  try {
    for (const child of fs.readdirSync(dir, { withFileTypes: true })) if (child.isDirectory()) out.push(...cgroupTree(path.join(dir, child.name)));
  } catch { /* gone */ }
  out.push(dir);
  return out;
}

/** Removes the bench's cgroup trees; with kill, first kills what still runs in them (only processes of bench pods live there). */
export function removeBenchCgroups(kill: boolean): void {
  for (const root of cgroupDirs()) {
    for (const dir of cgroupTree(root)) {
      if (kill) {
        for (const pid of (fs.existsSync(path.join(dir, 'cgroup.procs')) ? fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8') : '').split('\n').filter(Boolean)) {
          try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
        }
      }
      try { fs.rmdirSync(dir); } catch { /* busy or gone */ }
    }
  }
}

/** containerd pins pod network namespaces in /run/netns/cni-*: release those whose eth0 is a port of `bridge`. */
function releaseNetnsPinsOn(bridge: string): void {
  let ports: string[] = [];
  try { ports = fs.readdirSync(`/sys/class/net/${bridge}/brif`); } catch { return; }
  const ifindexes = new Set(ports.map((port) => readTrim(`/sys/class/net/${port}/ifindex`)));
  let pins: string[] = [];
  try { pins = fs.readdirSync('/run/netns').filter((n) => n.startsWith('cni-')); } catch { return; }
  for (const pin of pins) {
    const pinPath = path.join('/run/netns', pin);
    let links = '';
    try { links = execFileSync('nsenter', [`--net=${pinPath}`, 'ip', '-o', 'link', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }); } catch { continue; }
    const peer = /@if(\d+)/.exec(links)?.[1];
    if (peer && ifindexes.has(peer)) {
      try { execFileSync('umount', ['-l', pinPath], { stdio: 'ignore' }); } catch { /* not mounted */ }
      fs.rmSync(pinPath, { force: true });
    }
  }
}

function readTrim(file: string): string {
  try { return fs.readFileSync(file, 'utf8').trim(); } catch { return ''; }
}

/**
 * Undoes whatever this benchmark left (a killed earlier run, or this run after
 * Ctrl-C or a daemon that died): daemons, helpers, pod processes, cradle-runtime
 * state, network namespace pins, mounts, dirs, bridges. Everything it touches is
 * recognised by the bench's temp prefix, its cgroup, its bridges or the pids and
 * dirs this run remembered.
 */
export async function sweep(): Promise<void> {
  const state = readState();
  const prefix = path.join(os.tmpdir(), TMP_PREFIX);
  const mine = (text: string) => text.includes(prefix) || state.dirs.some((d) => text.includes(d));
  const stale = listProcesses().filter((p) =>
    (state.pids.includes(p.pid) && (p.cmdline.includes('cradled') || p.cmdline.includes('containerd')))
    || ((p.comm === 'conmon' || p.comm.startsWith('containerd-shim') || p.cmdline.includes('cradled')) && mine(p.cmdline)));
  for (const p of stale) {
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  if (stale.length > 0) await sleep(500);
  removeBenchCgroups(true);
  await sleep(100);
  removeBenchCgroups(false);
  // cradle-runtime keeps container state in its shared --root; drop entries of our bundles.
  const runtimeRoot = '/run/cradle-runtime';
  let entries: string[] = [];
  try { entries = fs.readdirSync(runtimeRoot); } catch { /* none */ }
  for (const id of entries) {
    if (mine(readTrim(path.join(runtimeRoot, id, 'state.json')))) fs.rmSync(path.join(runtimeRoot, id), { recursive: true, force: true });
  }
  for (const net of Object.values(NETWORKS)) releaseNetnsPinsOn(net.bridge);
  const mountPoints = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(prefix) || state.dirs.some((d) => m === d || m.startsWith(`${d}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mountPoints) {
    try { execFileSync('umount', ['-l', m], { stdio: 'ignore' }); } catch { /* gone */ }
  }
  const dirs = [...state.dirs, ...fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(TMP_PREFIX) && n !== path.basename(STATE_FILE)).map((n) => path.join(os.tmpdir(), n))];
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  for (const net of Object.values(NETWORKS)) testNetwork(net.bridge, net.subnet).cleanup();
  fs.rmSync(STATE_FILE, { force: true });
}

/** Stops and removes every pod (containers go with their pod). */
export async function removeAllPods(cri: CriClient): Promise<string[]> {
  const problems: string[] = [];
  let pods: { id: string }[] = [];
  try {
    pods = (await cri.runtime.ListPodSandbox({}, { timeoutMs: 30_000 })).items;
  } catch (err) {
    return [`ListPodSandbox: ${(err as Error).message}`];
  }
  await mapLimit(pods, 4, async (p) => {
    try {
      await cri.runtime.StopPodSandbox({ podSandboxId: p.id }, { timeoutMs: 60_000 });
      await cri.runtime.RemovePodSandbox({ podSandboxId: p.id }, { timeoutMs: 60_000 });
    } catch (err) {
      problems.push(`pod ${p.id}: ${(err as Error).message}`);
    }
  });
  return problems;
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}

function installNetwork(name: RuntimeName, confDir: string): TestNetwork {
  const net = testNetwork(NETWORKS[name].bridge, NETWORKS[name].subnet);
  net.cleanup();
  net.install(confDir);
  return net;
}

export async function startCradle(opts: StartOptions): Promise<BenchRuntime> {
  const dirs = makeTempDirs(TMP_PREFIX);
  remember({ dir: dirs.dir });
  allowInsecureRegistry(dirs, opts.registryHost);
  const net = installNetwork('cradle', dirs.cniDir);
  const args = ['--image-pause-image', opts.pauseImage];
  // Spawned here rather than by startCradled: in its own process group, so a Ctrl-C
  // reaches only the benchmark, which then removes the pods through the API; and
  // with node flags on the pinned node's command line (bin/cradled drops NODE_OPTIONS).
  fs.writeFileSync(dirs.configFile, '');
  // bin/cradled's own node flags, so the bench measures what is deployed.
  const nodeFlags = ['--max-semi-space-size=2', ...(opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : []), ...(opts.nodeFlags ?? [])];
  const stdout = opts.stdoutPath ? fs.openSync(opts.stdoutPath, 'a') : 'ignore';
  const proc = spawn(PINNED_NODE, [...nodeFlags, path.join(REPO_ROOT, 'dist', 'src', 'cmd', 'cradled.js'), ...baseArgs(dirs), ...args], {
    env: cleanChildEnv({ UV_THREADPOOL_SIZE: '64' }), stdio: ['ignore', stdout, 'pipe'], detached: true,
  });
  if (typeof stdout === 'number') fs.closeSync(stdout);
  const daemon = new Cradled(dirs, proc);
  try {
    await waitForSocket(daemon);
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  const daemonPid = daemon.proc.pid!;
  remember({ pid: daemonPid });
  const cri = daemon.client();
  const ours = (p: ProcInfo) => p.cmdline.includes(dirs.dir);
  return {
    name: 'cradle', cri, daemonPid, logRoot: path.join(dirs.dir, 'pod-logs'),
    // conmon per pause and container.
    helpers: () => listProcesses().filter((p) => p.comm === 'conmon' && ours(p)),
    // conmon's own command line names the runtime (-r …/cradle-runtime); those are not runtime processes.
    lingering: () => listProcesses().filter((p) => p.pid !== daemonPid && p.comm !== 'conmon' && p.cmdline.includes('cradle-runtime') && ours(p)),
    stop: once(async () => {
      if (isAlive(daemonPid)) {
        const problems = await removeAllPods(cri);
        if (problems.length) console.error(`cradle cleanup: ${problems.join('; ')}`);
      }
      await daemon.stop();
      net.cleanup();
    }),
  };
}

export async function startContainerd(opts: StartOptions): Promise<BenchRuntime> {
  const cniDir = fs.mkdtempSync(path.join(os.tmpdir(), `${TMP_PREFIX}cni-`));
  remember({ dir: cniDir });
  const net = installNetwork('containerd', cniDir);
  const ref = await startReferenceContainerd({ cniConfDir: cniDir, registryHost: opts.registryHost, sandboxImage: opts.pauseImage });
  remember({ pid: ref.proc.pid!, dir: ref.dir });
  const cri = new CriClient(ref.endpoint);
  const logRoot = fs.mkdtempSync(path.join(os.tmpdir(), `${TMP_PREFIX}ctrd-logs-`));
  remember({ dir: logRoot });
  return {
    name: 'containerd', cri, daemonPid: ref.proc.pid!, logRoot,
    helpers: () => listProcesses().filter((p) => p.comm.startsWith('containerd-shim') && p.cmdline.includes(ref.dir)),
    lingering: () => [],
    stop: once(async () => {
      if (isAlive(ref.proc.pid!)) {
        const problems = await removeAllPods(cri);
        if (problems.length) console.error(`containerd cleanup: ${problems.join('; ')}`);
      }
      cri.close();
      await ref.stop();
      net.cleanup();
      fs.rmSync(cniDir, { recursive: true, force: true });
      fs.rmSync(logRoot, { recursive: true, force: true });
    }),
  };
}
