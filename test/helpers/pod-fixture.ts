// One cradled with a fixture registry (pause + busybox images), a confined test
// network and helpers to run pods and containers: the common start of container,
// streaming and conformance tests.
import * as path from 'node:path';
import { allowInsecureRegistry, makeTempDirs, startCradled, type Cradled, type TempDirs } from './daemon';
import { startFixtureRegistry, type FixtureRegistry } from './registry';
import { busyboxImage, pauseImage, pushImage, type ImageSpec, type PushedImage } from './image-builder';
import { testNetwork, type TestNetwork } from './pod-network';
import { removeCgroupParent } from './cgroup-cleanup';
import type { CriClient } from './cri-client';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import type { ContainerConfig } from '../../src/generated/runtime/v1/ContainerConfig';

export const TEST_CGROUP_PARENT = '/cradle-test-pods';

export class PodFixture {
  cri!: CriClient;
  daemon!: Cradled;
  registry!: FixtureRegistry;
  dirs!: TempDirs;
  busybox!: PushedImage;
  pause!: PushedImage;
  readonly net: TestNetwork;
  /**
   * This fixture's own cgroup parent: suites run in parallel, and one removing the
   * empty cgroups of a shared parent on stop would race another's creates (a
   * container's cgroup is empty until its init joins it).
   */
  readonly cgroupParent: string;
  private counter = 0;

  constructor(bridge: string, subnet: string) {
    this.net = testNetwork(bridge, subnet);
    this.cgroupParent = `${TEST_CGROUP_PARENT}-${bridge}`;
  }

  async start(extraArgs: string[] = [], configToml = ''): Promise<void> {
    this.net.cleanup();
    this.registry = await startFixtureRegistry();
    this.pause = await pushImage(this.registry, 'test/pause:3.10', pauseImage());
    this.busybox = await pushImage(this.registry, 'test/busybox:1', busyboxImage());
    this.dirs = makeTempDirs();
    allowInsecureRegistry(this.dirs, this.registry.host);
    this.net.install(this.dirs.cniDir);
    this.daemon = await startCradled({ configToml, args: ['--image-pause-image', this.pause.reference, ...extraArgs] }, this.dirs);
    this.cri = this.daemon.client();
    await this.cri.image.PullImage({ image: { image: this.busybox.reference } });
  }

  /**
   * Restarts cradled on the same state; `crash` kills it with SIGKILL first (no
   * shutdown at all); `env` is added to the new daemon's environment (test hooks);
   * `extraArgs` are the new daemon's flags (those given to start() are not repeated).
   */
  async restart(crash = false, env: Record<string, string> = {}, extraArgs: string[] = []): Promise<void> {
    if (crash) {
      this.daemon.proc.kill('SIGKILL');
      await this.daemon.waitExit();
    }
    await this.daemon.stop({ keepDirs: true });
    this.daemon = await startCradled({ args: ['--image-pause-image', this.pause.reference, ...extraArgs], env }, this.dirs);
    this.cri = this.daemon.client();
  }

  async pushAndPull(name: string, spec: ImageSpec): Promise<PushedImage> {
    const img = await pushImage(this.registry, name, spec);
    await this.cri.image.PullImage({ image: { image: img.reference } });
    return img;
  }

  podConfig(name: string, extra: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
    const n = `${name}-${++this.counter}`;
    return {
      metadata: { name: n, namespace: 'cradle-test', uid: `uid-${n}`, attempt: 0 },
      hostname: n,
      logDirectory: path.join(this.dirs.dir, 'pod-logs', n),
      labels: { test: name },
      linux: { cgroupParent: this.cgroupParent },
      ...extra,
    };
  }

  containerConfig(name: string, command: string[], extra: Partial<ContainerConfig> = {}): ContainerConfig {
    return { metadata: { name, attempt: 0 }, image: { image: this.busybox.reference }, command, logPath: `${name}.log`, labels: { container: name }, ...extra };
  }

  async runPod(name: string, extra: Partial<PodSandboxConfig> = {}): Promise<{ id: string; config: PodSandboxConfig }> {
    const config = this.podConfig(name, extra);
    const { podSandboxId } = await this.cri.runtime.RunPodSandbox({ config });
    return { id: podSandboxId, config };
  }

  /** Creates and starts a container; returns its id. */
  async runContainer(pod: { id: string; config: PodSandboxConfig }, config: ContainerConfig): Promise<string> {
    const { containerId } = await this.cri.runtime.CreateContainer({ podSandboxId: pod.id, config, sandboxConfig: pod.config });
    await this.cri.runtime.StartContainer({ containerId });
    return containerId;
  }

  async waitForState(containerId: string, state: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.cri.runtime.ContainerStatus({ containerId });
      if (status.status!.state === state) return;
      if (Date.now() > deadline) {
        const related = this.daemon.stderrLines.filter((l) => l.includes(containerId.slice(0, 12)) || l.includes('"level":"error"') || l.includes('"level":"warn"')).slice(-15);
        throw new Error(`container ${containerId} is ${status.status!.state}, not ${state}; daemon log:\n${related.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    if (this.cri) {
      for (const p of (await this.cri.runtime.ListPodSandbox({}).catch(() => ({ items: [] }))).items) {
        await this.cri.runtime.RemovePodSandbox({ podSandboxId: p.id }).catch(() => undefined);
      }
    }
    await this.daemon?.stop();
    await this.registry?.stop();
    this.net.cleanup();
    removeCgroupParent(this.cgroupParent, { children: true });
  }
}
