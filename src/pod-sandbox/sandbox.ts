// A pod sandbox as cradle records it (persisted as JSON, so it survives restarts).
import type { PodSandboxConfig__Output } from '../generated/runtime/v1/PodSandboxConfig';
import type { PodIp } from '../cni';
import type { PinnedNamespaces } from './namespaces';
import type { PodUserns } from '../runtime/oci-config/userns';

export type SandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
export type PidMode = 'POD' | 'CONTAINER' | 'NODE';

export interface PauseProcess {
  pid: number;
  conmonPid: number;
  conmonStartTime: string;
  bundle: string;
}

export interface SandboxRecord {
  id: string;
  /** Reservation key: name_namespace_uid_attempt (as the kubelet builds it). */
  reservedName: string;
  /** Digest of the config, to tell the kubelet's retry from a different request. */
  fingerprint: string;
  state: SandboxState;
  /** Nanoseconds since the epoch, as a string (CRI int64). */
  createdAt: string;
  runtimeHandler: string;
  config: PodSandboxConfig__Output;
  /** <run_root>/pods/<id>: pod files, pause bundle, shm. */
  runDir: string;
  hostNetwork: boolean;
  hostIpc: boolean;
  pidMode: PidMode;
  pinned: PinnedNamespaces;
  /** The pod's own user namespace (hostUsers: false), pinned at pinned.user; absent = the host's. */
  userns?: PodUserns;
  hostname: string;
  files: { resolvConf: string; hosts: string; hostname: string; shm: string };
  ips: PodIp[];
  pause: PauseProcess | undefined;
  /** Chain IDs of the pause image's layers, held while the sandbox exists. */
  pauseChainIds: string[];
  pauseImageRef: string;
  /** When the network was set up (CNI ADD done), so stop knows to tear it down. */
  networkUp: boolean;
}

export function reservedNameOf(config: PodSandboxConfig__Output): string {
  const m = config.metadata!;
  return `${m.name}_${m.namespace}_${m.uid}_${m.attempt}`;
}
