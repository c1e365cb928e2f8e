// The reference runtime: Debian's containerd 1.6 (CRI plugin) with runc and the
// same CNI plugins, run privately (own root, state, socket, CNI conf dir) with a
// registry mirror to the fixture registry. Used by test/critest (to prove the
// suite) and by bench/ (to compare against).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { canConnect } from '../helpers/daemon';

export const CONTAINERD = '/usr/bin/containerd';

export interface ReferenceOptions {
  /** CNI config dir the reference uses (share the test's). */
  cniConfDir: string;
  cniBinDir?: string;
  /** "127.0.0.1:PORT" of the fixture registry, served over plain HTTP. */
  registryHost?: string;
  /** The pause image (usually from the fixture registry). */
  sandboxImage?: string;
}

export interface ReferenceRuntime {
  endpoint: string;
  dir: string;
  /** The containerd process (replaced by restart()). */
  proc: ChildProcess;
  stop(): Promise<void>;
  /** Stops containerd and starts it again on the same state (pods keep running); `whileDown` runs in between. */
  restart(whileDown?: () => void | Promise<void>): Promise<void>;
}

export function referenceAvailable(): boolean {
  return fs.existsSync(CONTAINERD) && fs.existsSync('/usr/bin/containerd-shim-runc-v2');
}

function configToml(dir: string, opts: ReferenceOptions): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${dir}/containerd.sock"
[ttrpc]
  address = "${dir}/containerd-ttrpc.sock"
[debug]
  level = "warn"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${opts.sandboxImage ?? 'registry.k8s.io/pause:3.6'}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${opts.cniBinDir ?? '/usr/lib/cni'}"
    conf_dir = "${opts.cniConfDir}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${dir}/certs.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
`;
}

const REFERENCE_PREFIX = 'cradle-ref-containerd-';
/** The runc root of containerd's runc shim for the CRI namespace (not below our dir). */
const SHIM_RUNC_ROOT = '/run/containerd/runc/k8s.io';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPid(file: string): number | undefined {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** pids of processes whose command line contains `needle`. */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch { /* exited */ }
  }
  return pids;
}

function unmountUnder(dir: string): void {
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').reverse()) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint === dir || mountPoint?.startsWith(dir + '/')) {
      try { execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' }); } catch { /* best effort */ }
    }
  }
}

/**
 * Removes what a killed earlier run left: its containerd, the shims and pod
 * processes it started (their runc state is in the shared SHIM_RUNC_ROOT), the
 * network namespaces of its pods, mounts and the directory. Only directories
 * whose owning test process is gone are touched.
 */
export function sweepStaleReferences(tmpRoot: string = os.tmpdir()): void {
  for (const name of fs.readdirSync(tmpRoot)) {
    if (!name.startsWith(REFERENCE_PREFIX)) continue;
    const dir = path.join(tmpRoot, name);
    const owner = readPid(path.join(dir, 'owner.pid'));
    if (owner === undefined) {
      // Being created right now, or written by a version without owner.pid:
      // stale only once old enough and its containerd is gone.
      if (Date.now() - fs.statSync(dir).mtimeMs < 60_000) continue;
      if (processesMentioning(`${dir}/config.toml`).length > 0) continue;
    } else if (pidAlive(owner)) {
      continue;
    }
    const daemonPid = readPid(path.join(dir, 'containerd.pid'));
    if (daemonPid && pidAlive(daemonPid)) { try { process.kill(daemonPid, 'SIGKILL'); } catch { /* gone */ } }
    // Pods and containers of this containerd: runc state whose bundle lies in dir.
    let listed: { id: string; bundle: string; annotations?: Record<string, string> }[] = [];
    try { listed = JSON.parse(execFileSync('runc', ['--root', SHIM_RUNC_ROOT, 'list', '-f', 'json'], { encoding: 'utf8' }) || '[]') ?? []; } catch { /* no runc state */ }
    const netnsPaths = new Set<string>();
    for (const c of listed.filter((c) => c.bundle.startsWith(dir + '/'))) {
      try {
        const spec = JSON.parse(fs.readFileSync(path.join(c.bundle, 'config.json'), 'utf8')) as { linux?: { namespaces?: { type: string; path?: string }[] } };
        const netns = spec.linux?.namespaces?.find((n) => n.type === 'network')?.path;
        if (netns?.startsWith('/var/run/netns/cni-')) netnsPaths.add(netns);
      } catch { /* no spec */ }
      try { execFileSync('runc', ['--root', SHIM_RUNC_ROOT, 'delete', '-f', c.id], { stdio: 'ignore' }); } catch { /* best effort */ }
    }
    // Shims of this containerd name its socket on their command line.
    for (const pid of processesMentioning(`${dir}/containerd.sock`)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    for (const netns of netnsPaths) {
      try { execFileSync('umount', [netns], { stdio: 'ignore' }); } catch { /* not mounted */ }
      fs.rmSync(netns, { force: true });
    }
    unmountUnder(dir);
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** Starts a private containerd and waits for its CRI socket. */
export async function startReferenceContainerd(opts: ReferenceOptions): Promise<ReferenceRuntime> {
  sweepStaleReferences();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), REFERENCE_PREFIX));
  fs.writeFileSync(path.join(dir, 'owner.pid'), String(process.pid));
  if (opts.registryHost) {
    const hostDir = path.join(dir, 'certs.d', opts.registryHost);
    fs.mkdirSync(hostDir, { recursive: true });
    fs.writeFileSync(path.join(hostDir, 'hosts.toml'),
      `server = "http://${opts.registryHost}"\n[host."http://${opts.registryHost}"]\n  capabilities = ["pull", "resolve"]\n  skip_verify = true\n`);
  }
  const configFile = path.join(dir, 'config.toml');
  fs.writeFileSync(configFile, configToml(dir, opts));
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('NODE_')) delete env[key];
  const spawnDaemon = (): ChildProcess => {
    const log = fs.openSync(path.join(dir, 'containerd.log'), 'a');
    const child = spawn(CONTAINERD, ['--config', configFile], { stdio: ['ignore', log, log], env, detached: false });
    fs.closeSync(log);
    if (child.pid) fs.writeFileSync(path.join(dir, 'containerd.pid'), String(child.pid));
    return child;
  };
  const endpoint = `unix://${dir}/containerd.sock`;
  const runtime: ReferenceRuntime = {
    endpoint, dir, proc: spawnDaemon(),
    stop: async () => {
      await halt();
      // containerd leaves overlay mounts of its snapshotter if pods were not removed.
      unmountUnder(dir);
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    },
    restart: async (whileDown) => {
      await halt();
      await whileDown?.();
      runtime.proc = spawnDaemon();
      await waitReady();
    },
  };
  // Stops containerd only: its shims, and so the pods, keep running.
  const halt = async () => {
    const proc = runtime.proc;
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await Promise.race([new Promise((r) => proc.once('exit', r)), new Promise((r) => setTimeout(r, 10_000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
  };
  const waitReady = async () => {
    const deadline = Date.now() + 30_000;
    while (!(await canConnect(`${dir}/containerd.sock`))) {
      if (runtime.proc.exitCode !== null || Date.now() > deadline) {
        const text = fs.existsSync(path.join(dir, 'containerd.log')) ? fs.readFileSync(path.join(dir, 'containerd.log'), 'utf8') : '';
        await runtime.stop();
        throw new Error(`reference containerd did not start: ${text.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await waitReady();
  return runtime;
}
