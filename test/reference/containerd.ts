// The reference runtime: Debian's containerd 1.6 (CRI plugin) with runc and the
// same CNI plugins, run privately (own root, state, socket, CNI conf dir) with a
// registry mirror to the fixture registry. Used by test/critest (to prove the
// suite) and by bench/ (to compare against).
import { spawn, type ChildProcess } from 'node:child_process';
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
  proc: ChildProcess;
  stop(): Promise<void>;
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

/** Starts a private containerd and waits for its CRI socket. */
export async function startReferenceContainerd(opts: ReferenceOptions): Promise<ReferenceRuntime> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-ref-containerd-'));
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
  const log = fs.openSync(path.join(dir, 'containerd.log'), 'a');
  const proc = spawn(CONTAINERD, ['--config', configFile], { stdio: ['ignore', log, log], env, detached: false });
  fs.closeSync(log);
  const endpoint = `unix://${dir}/containerd.sock`;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await Promise.race([new Promise((r) => proc.once('exit', r)), new Promise((r) => setTimeout(r, 10_000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
    // containerd leaves overlay mounts of its snapshotter if pods were not removed.
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').reverse()) {
      const mountPoint = line.split(' ')[4];
      if (mountPoint?.startsWith(dir)) {
        try { spawn('umount', ['-l', mountPoint]); } catch { /* best effort */ }
      }
    }
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  const deadline = Date.now() + 30_000;
  while (!(await canConnect(`${dir}/containerd.sock`))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      const text = fs.existsSync(path.join(dir, 'containerd.log')) ? fs.readFileSync(path.join(dir, 'containerd.log'), 'utf8') : '';
      await stop();
      throw new Error(`reference containerd did not start: ${text.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { endpoint, dir, proc, stop };
}
