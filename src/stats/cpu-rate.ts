// usage_nano_cores needs two readings: the tracker keeps the previous cumulative CPU
// usage per key (container or sandbox id), as cri-o's stats server and the kubelet do.
// Readings closer together than minIntervalNs (several callers sampling at once:
// ListContainerStats and ListPodSandboxStats) reuse the last rate instead of computing
// one from a tiny, noisy window, and keep the older baseline.

interface Previous {
  usageNs: bigint;
  timestampNs: bigint;
  rate?: bigint;
}

export class CpuRateTracker {
  private readonly previous = new Map<string, Previous>();

  constructor(private readonly minIntervalNs: bigint = 1_000_000_000n) {}

  /**
   * Records a reading; returns core-nanoseconds per second since the previous reading,
   * or undefined for the first one (or after the counter went backwards: a new cgroup).
   */
  update(key: string, usageCoreNanoSeconds: bigint, timestampNs: string | bigint): bigint | undefined {
    const ts = BigInt(timestampNs);
    const prev = this.previous.get(key);
    if (prev === undefined || usageCoreNanoSeconds < prev.usageNs || ts <= prev.timestampNs) {
      this.previous.set(key, { usageNs: usageCoreNanoSeconds, timestampNs: ts });
      return undefined;
    }
    const elapsed = ts - prev.timestampNs;
    if (elapsed < this.minIntervalNs && prev.rate !== undefined) return prev.rate;
    const rate = ((usageCoreNanoSeconds - prev.usageNs) * 1_000_000_000n) / elapsed;
    this.previous.set(key, { usageNs: usageCoreNanoSeconds, timestampNs: ts, rate });
    return rate;
  }

  forget(key: string): void {
    this.previous.delete(key);
  }

  /** Drops every key not in `live` (containers and sandboxes that are gone). */
  retain(live: Iterable<string>): void {
    const keep = new Set(live);
    for (const key of this.previous.keys()) if (!keep.has(key)) this.previous.delete(key);
  }

  get size(): number {
    return this.previous.size;
  }
}
