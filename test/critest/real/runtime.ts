// The runtime critest runs against: cradled from this checkout, or the private
// reference containerd (test/reference/containerd.ts). Either pulls every
// critest image name (registry.k8s.io/…, gcr.io/…) from the fixture registry
// through a mirror, uses the pause image pulled the same way, and has the
// rcrit0 CNI network (network.ts).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { CriClient } from '../../helpers/cri-client';
import { killLeftovers, makeTempDirs, mountPointsUnder, tempDirsAt, startCradled } from '../../helpers/daemon';
import type { TestNetwork } from '../../helpers/pod-network';
import { CONTAINERD, referenceAvailable, startReferenceContainerd } from '../../reference/containerd';
import { MIRRORED_REGISTRIES, PAUSE_IMAGE } from './images';
import { setUpNetwork } from './network';
import { cmdline, pidAlive, readPid } from './workdir';

export type TargetName = 'cradle' | 'containerd';

export interface RunningTarget {
  name: TargetName;
  /** `unix:///…sock`, what critest's --runtime-endpoint takes. */
  endpoint: string;
  /** Removes the pods, stops the runtime, removes its state, the network and its IPAM state. */
  stop(): Promise<void>;
}

export interface TargetOptions {
  /** `127.0.0.1:PORT` of the fixture registry (plain HTTP). */
  registryHost: string;
  /** The harness's CNI conf dir (containerd; cradled gets one in its own temp dir). */
  cniDir: string;
  /** The runtime's log is copied (containerd) or streamed (cradled) here. */
  runtimeLog: string;
}

/**
 * registries.conf v2 for cradled: each mirrored registry gets the fixture
 * registry as mirror, and its origin is relocated there too, so that a pull
 * the mirror fails never falls through to the real registry (nothing leaves
 * the machine).
 */
export function cradleRegistriesConf(registryHost: string): string {
  return MIRRORED_REGISTRIES.map((prefix) => [
    '[[registry]]',
    `prefix = "${prefix}"`,
    `location = "${registryHost}"`,
    'insecure = true',
    '[[registry.mirror]]',
    `location = "${registryHost}"`,
    'insecure = true',
    '',
  ].join('\n')).join('\n');
}

/** containerd's certs.d hosts.toml: the fixture registry as mirror and as server (no fallback to the origin). */
export function containerdHostsToml(registryHost: string): string {
  return `server = "http://${registryHost}"\n[host."http://${registryHost}"]\n  capabilities = ["pull", "resolve"]\n`;
}

// Short: conmon's attach socket is <run root>/s/<64-hex id>/attach and a unix
// socket path has at most 107 bytes, so the run root may have ~36.
const CRADLED_DIR_PREFIX = 'rcrit-cradled-';
const CRADLED_ARGS = ['--image-pause-image', PAUSE_IMAGE];

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/**
 * cradleds of killed runs: the daemon is stopped, then a cradled started on
 * its state removes the pods it left (network namespaces, cgroups, mounts, as
 * a kubelet would through the CRI) and its stop() removes the dir.
 */
export async function sweepStaleCradleds(): Promise<void> {
  for (const name of fs.readdirSync(os.tmpdir())) {
    if (!name.startsWith(CRADLED_DIR_PREFIX)) continue;
    const dirs = tempDirsAt(path.join(os.tmpdir(), name));
    const owner = readPid(path.join(dirs.dir, 'owner.pid'));
    if (owner !== undefined && pidAlive(owner)) continue;
    if (owner === undefined && Date.now() - fs.statSync(dirs.dir).mtimeMs < 60_000) continue; // being created
    const daemonPid = readPid(path.join(dirs.dir, 'cradled.pid'));
    if (daemonPid !== undefined && cmdline(daemonPid).includes(dirs.dir)) {
      process.kill(daemonPid, 'SIGTERM');
      if (!(await waitGone(daemonPid, 15_000))) process.kill(daemonPid, 'SIGKILL');
    }
    try {
      const daemon = await startCradled({ args: CRADLED_ARGS }, dirs);
      await daemon.stop();
    } catch {
      killLeftovers(dirs);
      for (const mountPoint of mountPointsUnder(dirs.dir)) {
        try { execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' }); } catch { /* gone */ }
      }
      fs.rmSync(dirs.dir, { recursive: true, force: true });
    }
  }
}

async function startCradleTarget(o: TargetOptions): Promise<RunningTarget> {
  const dirs = makeTempDirs(CRADLED_DIR_PREFIX);
  fs.writeFileSync(path.join(dirs.dir, 'owner.pid'), String(process.pid));
  fs.writeFileSync(path.join(dirs.dir, 'registries.conf'), cradleRegistriesConf(o.registryHost));
  let net: TestNetwork | undefined;
  try {
    net = setUpNetwork(dirs.cniDir);
    const daemon = await startCradled({ args: CRADLED_ARGS }, dirs);
    fs.writeFileSync(path.join(dirs.dir, 'cradled.pid'), String(daemon.proc.pid));
    // Its log as it goes (the daemon keeps it in memory only).
    fs.writeFileSync(o.runtimeLog, daemon.stderrLines.map((l) => `${l}\n`).join(''));
    daemon.proc.stderr!.on('data', (chunk: string) => fs.appendFileSync(o.runtimeLog, chunk));
    const network = net;
    return {
      name: 'cradle',
      endpoint: `unix://${daemon.socket}`,
      stop: async () => {
        await daemon.stop();
        network.cleanup();
      },
    };
  } catch (err) {
    net?.cleanup();
    fs.rmSync(dirs.dir, { recursive: true, force: true });
    throw err;
  }
}

async function startContainerdTarget(o: TargetOptions): Promise<RunningTarget> {
  if (!referenceAvailable()) throw new Error(`${CONTAINERD} and its runc shim are not installed (Debian package containerd)`);
  const net = setUpNetwork(o.cniDir);
  try {
    const ref = await startReferenceContainerd({ cniConfDir: o.cniDir, registryHost: o.registryHost, sandboxImage: PAUSE_IMAGE });
    // containerd reads certs.d at each pull, so the mirrors can follow its start.
    for (const registry of MIRRORED_REGISTRIES) {
      const hostDir = path.join(ref.dir, 'certs.d', registry);
      fs.mkdirSync(hostDir, { recursive: true });
      fs.writeFileSync(path.join(hostDir, 'hosts.toml'), containerdHostsToml(o.registryHost));
    }
    return {
      name: 'containerd',
      endpoint: ref.endpoint,
      stop: async () => {
        await removeAllPods(ref.endpoint);
        try { fs.copyFileSync(path.join(ref.dir, 'containerd.log'), o.runtimeLog); } catch { /* no log */ }
        await ref.stop();
        net.cleanup();
      },
    };
  } catch (err) {
    net.cleanup();
    throw err;
  }
}

/** What critest left (a spec interrupted before its AfterEach): stopped and removed through the CRI, as cradled's stop() does. */
async function removeAllPods(endpoint: string): Promise<void> {
  const cri = new CriClient(endpoint);
  try {
    const { items } = await cri.runtime.ListPodSandbox({}, { timeoutMs: 10_000 });
    for (const pod of items) {
      await cri.runtime.StopPodSandbox({ podSandboxId: pod.id }, { timeoutMs: 60_000 }).catch(() => undefined);
      await cri.runtime.RemovePodSandbox({ podSandboxId: pod.id }, { timeoutMs: 60_000 }).catch(() => undefined);
    }
  } catch { /* not serving: its stop() and the next run's sweep clean up */ } finally {
    cri.close();
  }
}

export function startTarget(name: TargetName, o: TargetOptions): Promise<RunningTarget> {
  return name === 'cradle' ? startCradleTarget(o) : startContainerdTarget(o);
}
