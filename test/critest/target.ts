// The runtime under test. By default the suite starts its own cradled; with
// CRADLE_CRITEST_TARGET=containerd it starts the private reference containerd
// (test/reference/containerd.ts) instead, so every spec is proven against a
// runtime no one here wrote. Both get the same fixture registry, the same CNI
// plugins and a test network that cannot reach beyond its bridge.
//
// CRADLE_CRITEST_ENDPOINT=unix:///path runs the suite against a runtime that is
// already running: the suite starts only the fixture registry (on
// CRADLE_CRITEST_REGISTRY_PORT, default 5000) and the user configures that
// runtime to pull from it over plain HTTP and to use its pause image (see
// test/critest/README.md).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CriClient } from '../helpers/cri-client';
import { allowInsecureRegistry, makeTempDirs, startCradled } from '../helpers/daemon';
import { startFixtureRegistry, type FixtureRegistry } from '../helpers/registry';
import { pauseImage, pushImage } from '../helpers/image-builder';
import { testNetwork } from '../helpers/pod-network';
import { startReferenceContainerd } from '../reference/containerd';

export type TargetName = 'cradle' | 'containerd' | 'endpoint';

export interface CriTarget {
  name: TargetName;
  endpoint: string;
  cri: CriClient;
  registry: FixtureRegistry;
  /** CNI configuration directory the runtime reads ('' for an external endpoint). */
  cniDir: string;
  /** The test network (bridge and subnet); undefined for an external endpoint. */
  network: { bridge: string; subnet: string } | undefined;
  /** The pause image reference the runtime uses (as pushed to the fixture registry). */
  pauseImage: string;
  /** The reference containerd's private directory (root/, state/), for pod files. */
  referenceDir?: string;
  stop(): Promise<void>;
  /**
   * Stops the runtime and starts it again on the same state, as a node's
   * service manager would (pods keep running); `cri` is a new client afterwards.
   * Undefined for an external endpoint.
   */
  restart?: (whileDown?: () => void | Promise<void>) => Promise<void>;
}

export interface TargetOptions {
  /** Bridge of this file's CNI network (at most 15 characters; unique per test file). */
  bridge?: string;
  /** Its subnet (unique per test file, so files can run in parallel). */
  subnet?: string;
}

export function targetName(): TargetName {
  if (process.env.CRADLE_CRITEST_ENDPOINT) return 'endpoint';
  const name = process.env.CRADLE_CRITEST_TARGET ?? 'cradle';
  if (name !== 'cradle' && name !== 'containerd') throw new Error(`CRADLE_CRITEST_TARGET must be cradle or containerd, not ${name}`);
  return name;
}

/**
 * The socket accepts before the CRI service answers: containerd's CRI plugin
 * says "server is not initialized yet" while it loads its state.
 */
async function waitCriReady(cri: CriClient): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await cri.runtime.Status({}, { timeoutMs: 5_000 });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const CNI_DIR_PREFIX = 'cradle-critest-cni-';

/** CNI conf dirs of the reference whose test process is gone (a killed run). */
function sweepStaleCniDirs(): void {
  for (const name of fs.readdirSync(os.tmpdir())) {
    if (!name.startsWith(CNI_DIR_PREFIX)) continue;
    const dir = path.join(os.tmpdir(), name);
    let owner = 0;
    try { owner = Number(fs.readFileSync(path.join(dir, 'owner.pid'), 'utf8')); } catch { /* none */ }
    if (owner && fs.existsSync(`/proc/${owner}`)) continue;
    if (!owner && Date.now() - fs.statSync(dir).mtimeMs < 60_000) continue;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const PAUSE_REFERENCE_PATH = 'critest/pause:3.10';

export async function startTarget(options: TargetOptions = {}): Promise<CriTarget> {
  const name = targetName();
  const fixedPort = name === 'endpoint' ? Number(process.env.CRADLE_CRITEST_REGISTRY_PORT ?? 5000) : 0;
  const registry = await startFixtureRegistry(fixedPort
    ? { extraConfig: { http: { addr: `127.0.0.1:${fixedPort}`, secret: 'cradle-test-fixture-registry' } } }
    : {});
  const cleanups: (() => Promise<void> | void)[] = [() => registry.stop()];
  const unwind = async () => { for (const c of cleanups.reverse()) await c(); };
  try {
    const pause = await pushImage(registry, PAUSE_REFERENCE_PATH, pauseImage());
    if (name === 'endpoint') {
      const endpoint = process.env.CRADLE_CRITEST_ENDPOINT!;
      const cri = new CriClient(endpoint);
      return {
        name, endpoint, cri, registry, cniDir: '', network: undefined, pauseImage: pause.reference,
        stop: async () => { cri.close(); await unwind(); },
      };
    }
    // A network per test file: its own bridge, subnet and IPAM state, swept
    // first (leftovers of a killed run) and deleted after the runtime stopped.
    const net = testNetwork(options.bridge ?? 'cradle-crit0', options.subnet ?? '10.214.0.0/24');
    net.cleanup();
    cleanups.push(() => net.cleanup());
    const network = { bridge: net.bridge, subnet: net.subnet };
    if (name === 'containerd') {
      sweepStaleCniDirs();
      const cniDir = fs.mkdtempSync(path.join(os.tmpdir(), CNI_DIR_PREFIX));
      fs.writeFileSync(path.join(cniDir, 'owner.pid'), String(process.pid));
      cleanups.push(() => fs.rmSync(cniDir, { recursive: true, force: true }));
      net.install(cniDir);
      const ref = await startReferenceContainerd({ cniConfDir: cniDir, registryHost: registry.host, sandboxImage: pause.reference });
      cleanups.push(() => ref.stop());
      const target: CriTarget = {
        name, endpoint: ref.endpoint, cri: new CriClient(ref.endpoint), registry, cniDir, network, pauseImage: pause.reference, referenceDir: ref.dir,
        stop: async () => { target.cri.close(); await unwind(); },
        restart: async (whileDown) => {
          target.cri.close();
          await ref.restart(whileDown);
          target.cri = new CriClient(ref.endpoint);
          await waitCriReady(target.cri);
        },
      };
      await waitCriReady(target.cri);
      return target;
    }
    const dirs = makeTempDirs('cradle-critest-');
    allowInsecureRegistry(dirs, registry.host);
    net.install(dirs.cniDir);
    const cradledOptions = { args: ['--image-pause-image', pause.reference] };
    let daemon = await startCradled(cradledOptions, dirs);
    cleanups.push(() => daemon.stop());
    const endpoint = `unix://${daemon.socket}`;
    const target: CriTarget = {
      name, endpoint, cri: new CriClient(endpoint), registry, cniDir: dirs.cniDir, network, pauseImage: pause.reference,
      stop: async () => { target.cri.close(); await unwind(); },
      restart: async (whileDown) => {
        target.cri.close();
        await daemon.stop({ keepDirs: true });
        await whileDown?.();
        daemon = await startCradled(cradledOptions, dirs);
        target.cri = new CriClient(endpoint);
        await waitCriReady(target.cri);
      },
    };
    return target;
  } catch (err) {
    await unwind();
    throw err;
  }
}
