// Runtime handlers (RuntimeClass): each names an OCI runtime binary and its root.
// The daemon resolves a pod's handler here once; containers of the pod use the
// same one.
import type { CradleConfig } from '../config/schema';
import { errors } from '../common/errors';
import { Conmon } from './conmon/conmon';
import { ociRuntimeFor } from './cradle-runtime';
import type { OciRuntime } from './oci-runtime';
import { shippedBinary } from '../common/package-info';
import { StateLayout } from '../common/state-layout';
import type { SpecRuntimeOptions } from './oci-config/inputs';
import {
  CRIO_DEFAULT_CAPABILITIES, DEFAULT_MEMORY_FLOOR, hostCapabilities, hostMinOomScoreAdj, parseUlimit, ALL_CAPABILITIES,
  detectCgroupFeatures,
} from './oci-config';

export interface RuntimeHandler {
  name: string;
  runtime: OciRuntime;
  conmon: Conmon;
}

export class RuntimeHandlers {
  private readonly handlers = new Map<string, RuntimeHandler>();
  readonly defaultName: string;
  readonly exitDir: string;

  constructor(config: CradleConfig) {
    this.defaultName = config.runtime.default_runtime;
    const layout = StateLayout.of(config);
    this.exitDir = layout.exitDir;
    for (const [name, h] of Object.entries(config.runtime.runtimes)) {
      const binary = h.runtime_path || shippedBinary('cradle-runtime');
      // Each daemon's containers under its own run root, unless a root is configured.
      const root = h.runtime_root || layout.runtimeRoot(name);
      const conmon = new Conmon({
        conmon: h.monitor_path || config.runtime.conmon,
        runtimePath: binary,
        runtimeRoot: root,
        exitDir: this.exitDir,
        socketDir: layout.socketLinks,
        systemdCgroup: config.runtime.cgroup_manager === 'systemd',
        logLevel: 'error',
      });
      const runtime = ociRuntimeFor({ binary, root, systemdCgroup: config.runtime.cgroup_manager === 'systemd', conmon });
      this.handlers.set(name, { name, runtime, conmon });
    }
  }

  /** The handler for a RuntimeClass name ('' = the default); unknown is INVALID_ARGUMENT. */
  get(name: string, field = 'runtimeHandler'): RuntimeHandler {
    const handler = this.handlers.get(name === '' ? this.defaultName : name);
    if (!handler) {
      throw errors.invalidArgument(`${field}: unknown runtime handler ${JSON.stringify(name)}; configured: ${[...this.handlers.keys()].join(', ')}`);
    }
    return handler;
  }

  names(): string[] {
    return [...this.handlers.keys()];
  }

  /** Stops what the handlers' runtimes keep running (daemon shutdown). */
  close(): void {
    for (const h of this.handlers.values()) h.runtime.close();
  }
}

/** Host facts and config that shape every OCI spec cradle builds. */
export function specRuntimeOptions(config: CradleConfig): SpecRuntimeOptions {
  const cgroups = detectCgroupFeatures();
  const host = hostCapabilities(ALL_CAPABILITIES);
  return {
    cgroupDriver: config.runtime.cgroup_manager,
    cgroupVersion: cgroups.version,
    hugetlb: cgroups.hugetlb,
    // cri-o's 9 (docs/spec.md says why), less any the host cannot grant.
    defaultCapabilities: CRIO_DEFAULT_CAPABILITIES.filter((c) => host.includes(c)),
    allCapabilities: host,
    defaultUlimits: config.runtime.default_ulimits.map((u) => parseUlimit(u)),
    minOomScoreAdj: hostMinOomScoreAdj(),
    memoryFloorBytes: DEFAULT_MEMORY_FLOOR,
    seccompProfileRoot: '/var/lib/kubelet/seccomp',
    seccompUseDefaultWhenEmpty: config.runtime.seccomp_use_default_when_empty,
    swapAccounting: cgroups.swapAccounting,
    supportsRecursiveReadOnly: false,
  };
}
