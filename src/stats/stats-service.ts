// Statistics for the stats RPCs: reads cgroups, writable layers and pod network
// counters (src/stats) for cradle's containers and sandboxes, with one CPU
// rate tracker for usageNanoCores. Stopped containers report nothing, as in cri-o.
import type { ContainerManager } from '../containers/manager';
import type { ContainerRecord } from '../containers/container';
import type { SandboxManager } from '../pod-sandbox/manager';
import type { SandboxRecord } from '../pod-sandbox/sandbox';
import type { CgroupDriver } from '../runtime/oci-config/inputs';
import type { Logger } from '../common/logger';
import { messageOf } from '../common/errors';
import type { ContainerStats } from '../generated/runtime/v1/ContainerStats';
import type { PodSandboxStats } from '../generated/runtime/v1/PodSandboxStats';
import type { PodSandboxMetrics } from '../generated/runtime/v1/PodSandboxMetrics';
import type { ContainerStatsSample, CpuRateTracker } from './';

/** The cgroup and network readers, loaded with the first stats call (none is on the path to the daemon's socket). */
function readers(): typeof import('./') {
  return require('./') as typeof import('./');
}

export class StatsService {
  private cpuTracker: CpuRateTracker | undefined;

  private cpu(): CpuRateTracker {
    this.cpuTracker ??= new (readers().CpuRateTracker)();
    return this.cpuTracker;
  }

  constructor(
    private readonly containers: ContainerManager,
    private readonly sandboxes: SandboxManager,
    private readonly driver: CgroupDriver,
    private readonly log: Logger,
  ) {}

  private async sample(c: ContainerRecord): Promise<ContainerStatsSample | undefined> {
    if (c.state !== 'CONTAINER_RUNNING') return undefined;
    try {
      return await readers().readContainerStats({ cgroupsPath: c.cgroupsPath, cgroupDriver: this.driver, writableLayerDir: c.upperDir, cpuRate: { tracker: this.cpu(), key: c.id } });
    } catch (err) {
      this.log.debug({ containerId: c.id, error: messageOf(err) }, 'no stats for container');
      return undefined;
    }
  }

  private attributes(c: ContainerRecord) {
    return { id: c.id, metadata: c.config.metadata, labels: c.config.labels, annotations: c.config.annotations };
  }

  async containerStats(c: ContainerRecord): Promise<ContainerStats | undefined> {
    const s = await this.sample(c);
    return s && readers().toCriContainerStats(s, this.attributes(c));
  }

  async listContainerStats(records: ContainerRecord[]): Promise<ContainerStats[]> {
    this.cpu().retain([...this.containers.list().map((c) => c.id), ...this.sandboxes.list().map((s) => s.id)]);
    const out: ContainerStats[] = [];
    for (const c of records) {
      const stats = await this.containerStats(c);
      if (stats) out.push(stats);
    }
    return out;
  }

  async podSandboxStats(s: SandboxRecord): Promise<PodSandboxStats | undefined> {
    if (s.state !== 'SANDBOX_READY') return undefined;
    const containers = this.containers.list({ sandboxId: s.id });
    const samples: { record: ContainerRecord; sample: ContainerStatsSample }[] = [];
    for (const record of containers) {
      const sample = await this.sample(record);
      if (sample) samples.push({ record, sample });
    }
    try {
      const pod = readers().readPodSandboxStats({
        cgroupParent: s.config.linux?.cgroupParent ?? '', cgroupDriver: this.driver,
        ...(s.pinned.net ? { netnsPath: s.pinned.net } : {}),
        cpuRate: { tracker: this.cpu(), key: s.id },
        containers: samples.map((x) => x.sample),
      });
      return readers().toCriPodSandboxStats(pod, { id: s.id, metadata: s.config.metadata, labels: s.config.labels, annotations: s.config.annotations },
        samples.map((x) => readers().toCriContainerStats(x.sample, this.attributes(x.record))));
    } catch (err) {
      this.log.debug({ podSandboxId: s.id, error: messageOf(err) }, 'no stats for pod sandbox');
      return undefined;
    }
  }

  async podMetrics(s: SandboxRecord): Promise<PodSandboxMetrics | undefined> {
    if (s.state !== 'SANDBOX_READY') return undefined;
    const containers = [];
    for (const record of this.containers.list({ sandboxId: s.id })) {
      const stats = await this.sample(record);
      if (stats) containers.push({ id: record.id, name: record.config.metadata?.name ?? '', image: record.image, stats, createdAtNs: record.createdAt });
    }
    let network;
    try {
      network = s.pinned.net ? readers().readNetworkStats(s.pinned.net) : undefined;
    } catch (err) {
      this.log.debug({ podSandboxId: s.id, error: messageOf(err) }, 'no network stats for pod sandbox');
    }
    return readers().podSandboxMetrics({ id: s.id, name: s.config.metadata?.name ?? '', namespace: s.config.metadata?.namespace ?? '', ...(network ? { network } : {}), containers });
  }
}
