// What the container areas share: the busybox fixture image pushed and pulled,
// pods with a log directory, containers created and started the way the kubelet
// does (CreateContainer with the sandbox config), ExecSync as text, waiting for
// a state, and a cleanup that removes every pod a spec forgot.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { busyboxImage, pushImage, type ImageSpec, type PushedImage } from '../helpers/image-builder';
import type { CriTarget } from './target';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import type { ContainerConfig } from '../../src/generated/runtime/v1/ContainerConfig';
import type { ContainerStatus__Output } from '../../src/generated/runtime/v1/ContainerStatus';

export interface Pod {
  id: string;
  config: PodSandboxConfig;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

const LOG_DIR_PREFIX = 'cradle-critest-logs-';

/** Log dirs of a killed earlier run (their test process is gone). */
function sweepStaleLogDirs(): void {
  for (const name of fs.readdirSync(os.tmpdir())) {
    if (!name.startsWith(LOG_DIR_PREFIX)) continue;
    const dir = path.join(os.tmpdir(), name);
    let owner = 0;
    try { owner = Number(fs.readFileSync(path.join(dir, 'owner.pid'), 'utf8')); } catch { /* none */ }
    if (owner && fs.existsSync(`/proc/${owner}`)) continue;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export class ContainerKit {
  busybox!: PushedImage;
  /** Per-file directory holding the pods' log directories. */
  logRoot!: string;
  private readonly live = new Set<string>();

  constructor(readonly target: CriTarget) {}

  get cri() { return this.target.cri; }

  async start(): Promise<void> {
    sweepStaleLogDirs();
    this.logRoot = fs.mkdtempSync(path.join(os.tmpdir(), LOG_DIR_PREFIX));
    fs.writeFileSync(path.join(this.logRoot, 'owner.pid'), String(process.pid));
    this.busybox = await this.pushAndPull('critest/busybox:1', busyboxImage());
  }

  async pushAndPull(name: string, spec: ImageSpec): Promise<PushedImage> {
    const img = await pushImage(this.target.registry, name, spec);
    await this.cri.image.PullImage({ image: { image: img.reference } });
    return img;
  }

  podConfig(prefix: string, extra: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
    const suffix = randomBytes(4).toString('hex');
    const name = `${prefix}-${suffix}`;
    return {
      metadata: { name, uid: `uid-${suffix}`, namespace: `ns-${suffix}`, attempt: 0 },
      hostname: name,
      logDirectory: path.join(this.logRoot, name),
      linux: {},
      ...extra,
    };
  }

  async runPod(prefix: string, extra: Partial<PodSandboxConfig> = {}): Promise<Pod> {
    const config = this.podConfig(prefix, extra);
    const { podSandboxId } = await this.cri.runtime.RunPodSandbox({ config });
    this.live.add(podSandboxId);
    return { id: podSandboxId, config };
  }

  async removePod(pod: Pod): Promise<void> {
    await this.cri.runtime.StopPodSandbox({ podSandboxId: pod.id });
    await this.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
    this.live.delete(pod.id);
  }

  /** The spec removed the pod itself. */
  forget(pod: Pod): void {
    this.live.delete(pod.id);
  }

  containerConfig(name: string, command: string[], extra: Partial<ContainerConfig> = {}): ContainerConfig {
    return {
      metadata: { name, attempt: 0 }, image: { image: this.busybox.reference }, command,
      logPath: `${name}.log`, linux: {}, ...extra,
    };
  }

  async create(pod: Pod, config: ContainerConfig): Promise<string> {
    const { containerId } = await this.cri.runtime.CreateContainer({ podSandboxId: pod.id, config, sandboxConfig: pod.config });
    return containerId;
  }

  /** Creates and starts a container. */
  async run(pod: Pod, config: ContainerConfig): Promise<string> {
    const id = await this.create(pod, config);
    await this.cri.runtime.StartContainer({ containerId: id });
    return id;
  }

  /** A started container that sleeps until stopped (exits on SIGTERM). */
  async runSleeper(pod: Pod, name = 'sleeper', extra: Partial<ContainerConfig> = {}): Promise<string> {
    return this.run(pod, this.containerConfig(name, ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'], extra));
  }

  /**
   * Waits until a file exists in the container (ExecSync `test -f`): a shell that
   * touches it after `trap` has installed its handler. RUNNING comes before that,
   * and a stop signal sent in between ends the shell with 143.
   */
  async waitForFile(containerId: string, file: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.exec(containerId, ['test', '-f', file], 5)).exitCode !== 0) {
      if (Date.now() > deadline) throw new Error(`${file} did not appear in container ${containerId}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async status(containerId: string): Promise<ContainerStatus__Output> {
    return (await this.cri.runtime.ContainerStatus({ containerId })).status!;
  }

  async waitState(containerId: string, state: string, timeoutMs = 20_000): Promise<ContainerStatus__Output> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.status(containerId);
      if (s.state === state) return s;
      if (Date.now() > deadline) throw new Error(`container ${containerId} is ${s.state}, not ${state} (reason ${s.reason}: ${s.message})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async exec(containerId: string, cmd: string[], timeout = 0): Promise<ExecResult> {
    const r = await this.cri.runtime.ExecSync({ containerId, cmd, timeout });
    return { stdout: Buffer.from(r.stdout).toString(), stderr: Buffer.from(r.stderr).toString(), exitCode: r.exitCode };
  }

  /** ExecSync that must exit 0; returns stdout. */
  async sh(containerId: string, script: string): Promise<string> {
    const r = await this.exec(containerId, ['sh', '-c', script]);
    if (r.exitCode !== 0) throw new Error(`exec ${JSON.stringify(script)} exited ${r.exitCode}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  async stop(): Promise<void> {
    for (const id of this.live) {
      await this.cri.runtime.StopPodSandbox({ podSandboxId: id }).catch(() => undefined);
      await this.cri.runtime.RemovePodSandbox({ podSandboxId: id }).catch(() => undefined);
    }
    this.live.clear();
    if (this.logRoot) fs.rmSync(this.logRoot, { recursive: true, force: true });
  }
}

/** Until fn returns a truthy value (or throws the last error after timeoutMs). */
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = new Error(`${what} not met within ${timeoutMs} ms`);
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw last;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * After a pod is removed: kills any process still in one of its cgroups (named after the
 * pod id) and removes those cgroups. A runtime that kills only the first process of a
 * container in the host's PID namespace (cradle, see README) leaves the pause's children
 * behind. Returns how many processes were left.
 */
export async function killPodLeftovers(podId: string): Promise<number> {
  const cgroups = new Set<string>();
  const left: number[] = [];
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    let lines: string[];
    try { lines = fs.readFileSync(`/proc/${p}/cgroup`, 'utf8').split('\n'); } catch { continue; }
    const mine = lines.filter((l) => l.includes(podId));
    if (mine.length === 0) continue;
    left.push(Number(p));
    for (const l of mine) {
      const [, controllers, cgPath] = l.split(':') as [string, string, string];
      if (controllers) cgroups.add(path.join('/sys/fs/cgroup', controllers.replace(/^name=/, ''), cgPath));
    }
  }
  for (const p of left) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  if (left.length > 0) await new Promise((r) => setTimeout(r, 200));
  for (const dir of cgroups) {
    // The container's cgroup, then the pod's (named after the pod id) above it.
    for (let d = dir; d.includes(podId); d = path.dirname(d)) { try { fs.rmdirSync(d); } catch { /* absent or busy */ } }
  }
  return left.length;
}
