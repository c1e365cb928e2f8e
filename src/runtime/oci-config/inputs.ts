// What the spec builder needs from the rest of cradle. Everything host-side is a plain
// value or goes through HostProbe, so the builder is a function from inputs to a spec.
import type { ContainerConfig__Output } from '../../generated/runtime/v1/ContainerConfig';
import type { PodSandboxConfig__Output } from '../../generated/runtime/v1/PodSandboxConfig';
import type { AppArmorHost } from './apparmor';
import type { OciRlimit } from '../../common/oci-spec';
import type { HostProbe } from './host-probe';
import type { SeccompProfile } from './seccomp-profile';
import type { PodUserns } from './userns';

/** A pod's own user namespace (hostUsers: false): pinned at `path`, with its maps. */
export interface SandboxUserns extends PodUserns {
  path: string;
}

/** The `config` object of an OCI image config (the fields the runtime uses). */
export interface ImageConfig {
  User?: string;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  StopSignal?: string;
  Volumes?: Record<string, unknown> | null;
  Labels?: Record<string, string> | null;
}

/** A namespace of the sandbox: a pinned namespace file, or the host's. */
export type NamespaceRef = { path: string } | 'host';

/** A namespace of the pause process: join a pinned one, use the host's, or make a new one. */
export type PauseNamespace = NamespaceRef | 'new';

/** Facts about the pod sandbox, provided by the pod-sandbox layer. */
export interface SandboxFacts {
  id: string;
  /** Pod network, IPC and UTS namespaces. UTS is 'host' exactly when the network is. */
  namespaces: {
    network: NamespaceRef;
    ipc: NamespaceRef;
    uts: NamespaceRef;
    /** The pod's shared PID namespace (pause's), used for NamespaceMode POD. */
    pid?: NamespaceRef;
  };
  hostname: string;
  /** Host files bind-mounted at /etc/resolv.conf, /etc/hosts, /etc/hostname; absent = not mounted. */
  resolvConfPath?: string;
  hostsPath?: string;
  hostnamePath?: string;
  /** Host directory mounted at /dev/shm (the pod's tmpfs, or /dev/shm for host IPC). */
  shmPath?: string;
  /** The pod's cgroup parent as kubelet gave it (cgroupfs path or systemd slice name). */
  cgroupParent: string;
  /** Pod-level sysctls (PodSandboxConfig.linux.sysctls). */
  sysctls?: Record<string, string>;
  /** The pod's user namespace; absent = the host's. */
  userns?: SandboxUserns;
}

export type CgroupDriver = 'cgroupfs' | 'systemd';

/** Daemon-wide settings that shape every spec. */
export interface SpecRuntimeOptions {
  cgroupDriver: CgroupDriver;
  cgroupVersion: 1 | 2;
  /** Capability names (with CAP_ prefix) given to non-privileged containers. */
  defaultCapabilities: readonly string[];
  /**
   * Every capability cradle can grant (privileged containers get all). Default: this
   * process's bounding set (hostCapabilities), read on each build — pass it once instead.
   */
  allCapabilities?: readonly string[];
  /** Default rlimits for containers. */
  defaultUlimits: readonly OciRlimit[];
  /** Lowest oom_score_adj the runtime may set (cradled's own, as cri-o does). */
  minOomScoreAdj: number;
  /** CDI spec directories, lowest precedence first; none = no CDI device resolves. */
  cdiSpecDirs?: readonly string[];
  /** Directory for relative Localhost seccomp profile references. */
  seccompProfileRoot: string;
  /**
   * RuntimeDefault for a container or pod that names no seccomp profile at all; false
   * (the CRI's meaning, containerd's and cradle's default) leaves it unconfined.
   */
  seccompUseDefaultWhenEmpty: boolean;
  /** The profile RuntimeDefault means on this node ([runtime] seccomp_profile or the built-in one). */
  defaultSeccompProfile: SeccompProfile;
  /** The host's AppArmor (absent: not enabled, as on a host without it). */
  apparmor?: AppArmorHost;
  /** Whether memory+swap can be limited (cgroup v1 memsw files or v2 memory.swap.max). */
  swapAccounting: boolean;
  /**
   * Whether the hugetlb controller is usable for containers. When false, hugepage limits
   * are dropped silently (cri-o): kubelet sends a zero limit per page size even to pods
   * that use none, and runc fails every container on hosts without the controller
   * (e.g. cgroup v1 with hugetlb bound to the unified hierarchy). Default true.
   */
  hugetlb?: boolean;
  /** Whether the OCI runtime supports `rro` (recursive read-only) mounts. */
  supportsRecursiveReadOnly: boolean;
  /** Default pids limit for containers (0 = none). */
  pidsLimit?: number;
  /** Machine architecture for seccomp (default: this process's). */
  arch?: NodeJS.Architecture;
}

/** The container's host-side identity. */
export interface ContainerHostInfo {
  id: string;
  /** Full log path (sandbox LogDirectory joined with config.logPath), or '' when none. */
  logPath: string;
  /** Image as resolved by the image store (its ID or digest reference). */
  imageRef: string;
  /** Host directory under which anonymous image volumes get one subdirectory each. */
  imageVolumeRoot: string;
  /** Host paths mounted for the config's image mounts (KEP-4639), by index in config.mounts. */
  imageMountSources?: ReadonlyMap<number, string>;
  /** PID namespace path of the target container for NamespaceMode TARGET. */
  targetPidNamespace?: string;
  /** Creation time (nanoseconds since the epoch, as a string) for recovery. */
  createdAt?: string;
}

export interface ContainerSpecInput {
  config: ContainerConfig__Output;
  sandboxConfig: PodSandboxConfig__Output;
  imageConfig: ImageConfig;
  sandbox: SandboxFacts;
  /** Host path of the container's mounted root filesystem. */
  rootfs: string;
  container: ContainerHostInfo;
  runtime: SpecRuntimeOptions;
  /** Host access (device stats, mount propagation); defaults to the real host. */
  probe?: HostProbe;
}

export interface PauseSpecInput {
  sandboxConfig: PodSandboxConfig__Output;
  /** The pause image's config (its User, Entrypoint/Cmd). */
  imageConfig: ImageConfig;
  sandboxId: string;
  rootfs: string;
  /** Command to run; default: image Entrypoint + Cmd, else ['/pause']. */
  args?: string[];
  namespaces: { network: PauseNamespace; ipc: PauseNamespace; uts: PauseNamespace; pid: PauseNamespace };
  hostname: string;
  shmPath?: string;
  cgroupParent: string;
  sysctls?: Record<string, string>;
  imageRef?: string;
  runtime: SpecRuntimeOptions;
  /** The pod's user namespace, joined by the pause; absent = the host's. */
  userns?: SandboxUserns;
}
