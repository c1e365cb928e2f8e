// What the RPC handlers need from the rest of the daemon, as explicit interfaces.
// The daemon (src/daemon) builds one CradleServices and hands it to every handler.
import type { CradleConfig } from '../config/schema';
import type { ImageService } from '../image';
import type { SandboxManager } from '../pod-sandbox/manager';
import type { ContainerManager } from '../containers/manager';
import type { StreamingServer } from '../streaming/server';
import type { StatsService } from '../stats/stats-service';
import type { CradleMetrics } from '../metrics/registry';

export interface Readiness {
  ready: boolean;
  /** CamelCase reason, e.g. "NetworkPluginNotReady". Empty when ready. */
  reason: string;
  message: string;
}

export interface ReadinessSource {
  status(): Readiness;
}

/** Runtime-wide settings the kubelet pushes through UpdateRuntimeConfig. */
export interface RuntimeSettingsStore {
  podCidr(): string;
  setPodCidr(cidr: string): Promise<void>;
}

export interface CradleServices {
  /** The current effective configuration (replaced on SIGHUP reload). */
  config(): CradleConfig;
  /** cradle's own version (package version). */
  readonly version: string;
  readonly runtimeReadiness: ReadinessSource;
  readonly networkReadiness: ReadinessSource;
  readonly runtimeSettings: RuntimeSettingsStore;
  readonly images: ImageService;
  readonly sandboxes: SandboxManager;
  readonly containers: ContainerManager;
  /** Started right after the CRI socket: Exec, Attach and PortForward wait for it. */
  readonly streaming: Promise<StreamingServer>;
  readonly stats: StatsService;
  readonly metrics: CradleMetrics;
  /** Each runtime handler's features, the default first as "" (probed once at start). */
  runtimeHandlerFeatures(): Array<{ name: string; features: { recursiveReadOnlyMounts: boolean; userNamespaces: boolean } }>;
  /** Extra JSON documents for Status(verbose), by key. */
  verboseInfo(): Record<string, unknown>;
}
