// Runtime handlers (RuntimeClass): each names an OCI runtime binary and its root.
// The daemon resolves a pod's handler here once; containers of the pod use the
// same one.
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { CradleConfig, RuntimeHandlerConfig } from '../config/schema';
import { errors } from '../common/errors';
import { Conmon } from './conmon/conmon';
import { ociRuntimeFor } from './cradle-runtime';
import type { OciRuntime } from './oci-runtime';
import { shippedBinary } from '../common/package-info';
import { StateLayout } from '../common/state-layout';
import type { SpecRuntimeOptions } from './oci-config/inputs';
import { mountSetattrSupported } from '../sys/mount-setattr';
import { probeUsernsSupport } from '../sys/userns-support';
import * as fs from 'node:fs';
// The host facts and limits from their own modules: the spec builders (./oci-config)
// load with the first creation.
import { hostCapabilities, hostMinOomScoreAdj, detectCgroupFeatures } from './oci-config/host-probe';
import { ALL_CAPABILITIES, CRIO_DEFAULT_CAPABILITIES } from './oci-config/capabilities';
import { parseUlimit } from './oci-config/resources';
import { DEFAULT_SECCOMP_PROFILE } from './oci-config/seccomp-default';
import { loadLocalhostProfile } from './oci-config/seccomp';
import { cgroupDriverFor } from './cgroup-driver';
import { prepareAppArmor } from './apparmor-default';

/** What a handler can do, as Status reports it to the kubelet. */
export interface HandlerFeatures {
  recursiveReadOnlyMounts: boolean;
  userNamespaces: boolean;
}

export interface RuntimeHandler {
  name: string;
  runtime: OciRuntime;
  conmon: Conmon;
  features: HandlerFeatures;
}

/**
 * Recursive read-only mounts need mount_setattr in the kernel and the "rro" mount option in
 * the runtime: cradle-runtime has it; another runtime is asked through its `features` command
 * (runc lists "rro" since 1.1; a runtime without the option or the command gets false).
 */
function probeFeatures(binary: string, usernsProbe: () => boolean): HandlerFeatures {
  const none = { recursiveReadOnlyMounts: false, userNamespaces: false };
  if (!mountSetattrSupported()) return none;
  // A pod's user namespace: the kernel side (pinning, idmapped layers) is cradled's own.
  const kernelUserns = usernsProbe();
  // cradle-runtime joins a user namespace in its native launcher, under either cgroup driver.
  if (path.basename(binary) === 'cradle-runtime') return { recursiveReadOnlyMounts: true, userNamespaces: kernelUserns };
  const run = spawnSync(binary, ['features'], { encoding: 'utf8', timeout: 10_000 });
  if (run.status !== 0) return none;
  try {
    const doc = JSON.parse(run.stdout) as { mountOptions?: unknown; linux?: { namespaces?: unknown; mountExtensions?: { idmap?: { enabled?: unknown } } } };
    // runc 1.2+: joins a user namespace by path and idmaps bind mounts (mountExtensions.idmap).
    const userns = Array.isArray(doc.linux?.namespaces) && doc.linux.namespaces.includes('user') && doc.linux.mountExtensions?.idmap?.enabled === true;
    return { recursiveReadOnlyMounts: Array.isArray(doc.mountOptions) && doc.mountOptions.includes('rro'), userNamespaces: kernelUserns && userns };
  } catch {
    return none;
  }
}

/** What a reload of the handler tables did. */
export interface HandlerReload {
  /** Usable for new pods at once. */
  added: string[];
  /** Refused for new pods; their existing pods and containers keep working. */
  removed: string[];
  /** Tables whose keys changed: the old settings stay until a restart. */
  changed: string[];
}

export class RuntimeHandlers {
  /** Every handler a pod of this daemon may use, including removed ones. */
  private readonly handlers = new Map<string, { handler: RuntimeHandler; config: RuntimeHandlerConfig }>();
  /** Handlers removed from the configuration by a reload. */
  private readonly removed = new Set<string>();
  readonly defaultName: string;
  readonly exitDir: string;
  private readonly socketDir: string;
  private readonly runtimeRoot: (handler: string) => string;

  constructor(private readonly config: CradleConfig) {
    this.defaultName = config.runtime.default_runtime;
    const layout = StateLayout.of(config);
    this.exitDir = layout.exitDir;
    this.socketDir = layout.socketLinks;
    this.runtimeRoot = (name) => layout.runtimeRoot(name);
    for (const [name, h] of Object.entries(config.runtime.runtimes)) this.add(name, h);
  }

  private usernsProbe: boolean | undefined;

  /**
   * Whether pods with their own user namespace work on this node (probed once, on the
   * filesystem of the image layers, by cradle's launcher whatever the handler).
   */
  private usernsSupported(): boolean {
    if (this.usernsProbe === undefined) {
      const layout = StateLayout.of(this.config);
      const dir = fs.existsSync(layout.imageRoot) ? layout.imageRoot : layout.root;
      const probe = probeUsernsSupport(shippedBinary('cradle-runtime'), dir);
      this.usernsProbe = probe.supported;
      if (!probe.supported) this.usernsWhyNot = probe.reason;
    }
    return this.usernsProbe;
  }

  /** Why pods with their own user namespace do not work on this node, once probed. */
  usernsWhyNot: string | undefined;

  private add(name: string, h: RuntimeHandlerConfig): void {
    const { config } = this;
    const binary = h.runtime_path || shippedBinary('cradle-runtime');
    // Each daemon's containers under its own run root, unless a root is configured.
    const root = h.runtime_root || this.runtimeRoot(name);
    const systemd = cgroupDriverFor(config.runtime.cgroup_manager) === 'systemd';
    const conmon = new Conmon({
      conmon: h.monitor_path || config.runtime.conmon,
      runtimePath: binary,
      runtimeRoot: root,
      exitDir: this.exitDir,
      socketDir: this.socketDir,
      systemdCgroup: systemd,
      monitorSlice: systemd ? config.runtime.conmon_cgroup : undefined,
      logLevel: 'error',
    });
    const runtime = ociRuntimeFor({ binary, root, systemdCgroup: systemd, conmon });
    // Probed on first use (a pod's creation, a Status call), not at start: the probe loads koffi and may run the runtime.
    let features: HandlerFeatures | undefined;
    const usernsProbe = () => this.usernsSupported();
    const handler: RuntimeHandler = { name, runtime, conmon, get features() { return (features ??= probeFeatures(binary, usernsProbe)); } };
    this.handlers.set(name, { handler, config: { ...h } });
  }

  /**
   * The handler of an existing pod or container ('' = the default), removed ones
   * included; unknown is INVALID_ARGUMENT.
   */
  get(name: string, field = 'runtimeHandler'): RuntimeHandler {
    const entry = this.handlers.get(name === '' ? this.defaultName : name);
    if (!entry) {
      throw errors.invalidArgument(`${field}: unknown runtime handler ${JSON.stringify(name)}; configured: ${this.names().join(', ')}`);
    }
    return entry.handler;
  }

  /** The handler for a new pod: as get(), but a handler removed by a reload is refused. */
  forNewPod(name: string, field = 'runtimeHandler'): RuntimeHandler {
    if (this.removed.has(name === '' ? this.defaultName : name)) {
      throw errors.invalidArgument(`${field}: runtime handler ${JSON.stringify(name)} was removed from the configuration; configured: ${this.names().join(', ')}`);
    }
    return this.get(name, field);
  }

  /** The configured handlers (removed ones not included). */
  names(): string[] {
    return [...this.handlers.keys()].filter((n) => !this.removed.has(n));
  }

  /**
   * Applies the handler tables of a reloaded configuration (SIGHUP), as cri-o does:
   * new handlers serve new pods at once, removed ones are refused for new pods, and a
   * changed table keeps its old settings until a restart (its running containers
   * were made with them). The default handler cannot be removed.
   */
  reload(runtimes: Record<string, RuntimeHandlerConfig>): HandlerReload {
    const result: HandlerReload = { added: [], removed: [], changed: [] };
    for (const [name, h] of Object.entries(runtimes)) {
      const known = this.handlers.get(name);
      if (!known) {
        this.add(name, h);
        result.added.push(name);
      } else if (this.removed.delete(name)) {
        result.added.push(name);
      }
      if (known && JSON.stringify(known.config) !== JSON.stringify(h)) result.changed.push(name);
    }
    for (const name of this.names()) {
      if (name in runtimes || name === this.defaultName) continue;
      this.removed.add(name);
      result.removed.push(name);
    }
    return result;
  }

  /** Each configured handler's features, the default first under the CRI's name for it (""). */
  features(): Array<{ name: string; features: HandlerFeatures }> {
    const list = this.names().map((name) => ({ name, features: this.get(name).features }));
    const def = this.handlers.get(this.defaultName);
    return def ? [{ name: '', features: def.handler.features }, ...list] : list;
  }

  /** Stops what the handlers' runtimes keep running (daemon shutdown). */
  close(): void {
    for (const { handler } of this.handlers.values()) handler.runtime.close();
  }
}

/** Host facts and config that shape every OCI spec cradle builds. */
export function specRuntimeOptions(config: CradleConfig): SpecRuntimeOptions {
  const cgroups = detectCgroupFeatures();
  const host = hostCapabilities(ALL_CAPABILITIES);
  return {
    cgroupDriver: cgroupDriverFor(config.runtime.cgroup_manager),
    cgroupVersion: cgroups.version,
    hugetlb: cgroups.hugetlb,
    // cri-o's 9 (docs/spec.md says why), less any the host cannot grant.
    defaultCapabilities: CRIO_DEFAULT_CAPABILITIES.filter((c) => host.includes(c)),
    allCapabilities: host,
    defaultUlimits: config.runtime.default_ulimits.map((u) => parseUlimit(u)),
    cdiSpecDirs: config.runtime.cdi_spec_dirs,
    minOomScoreAdj: hostMinOomScoreAdj(),
    seccompProfileRoot: '/var/lib/kubelet/seccomp',
    seccompUseDefaultWhenEmpty: config.runtime.seccomp_use_default_when_empty,
    defaultSeccompProfile: config.runtime.seccomp_profile
      ? loadLocalhostProfile(config.runtime.seccomp_profile, 'runtime.seccomp_profile')
      : DEFAULT_SECCOMP_PROFILE,
    // Loads cradle's default profile when the kernel lacks it.
    apparmor: prepareAppArmor(config.runtime.apparmor_profile),
    swapAccounting: cgroups.swapAccounting,
    // Per handler: the container manager sets it from the pod's handler.
    supportsRecursiveReadOnly: false,
  };
}
