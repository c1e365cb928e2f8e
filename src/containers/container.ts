// A container as cradle records it (persisted as JSON: survives restarts of cradled).
import type { ContainerConfig__Output } from '../generated/runtime/v1/ContainerConfig';
import type { LinuxContainerResources__Output } from '../generated/runtime/v1/LinuxContainerResources';
import type { ResolvedUser } from '../runtime/oci-config/user';
import type { ImageMountRecord } from './image-mounts';

export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

export interface ContainerRecord {
  id: string;
  sandboxId: string;
  reservedName: string;
  fingerprint: string;
  state: ContainerState;
  /** Nanoseconds since the epoch as strings (CRI int64); '0' when not yet. */
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  reason: string;
  message: string;
  config: ContainerConfig__Output;
  /** The image as the kubelet named it, and the image ID it resolved to. */
  image: string;
  imageId: string;
  imageChainIds: string[];
  runtimeHandler: string;
  /** Container directory: bundle (config.json, rootfs mount point) and writable layer. */
  dir: string;
  rootfs: string;
  upperDir: string;
  persistDir: string;
  logPath: string;
  stopSignal: string;
  user: ResolvedUser;
  pid: number;
  conmonPid: number;
  conmonStartTime: string;
  /** Resources as last applied (CreateContainer or UpdateContainerResources). */
  resources: LinuxContainerResources__Output | null;
  cgroupsPath: string;
  /** Images mounted as volumes (KEP-4639); absent in records of older versions. */
  imageMounts?: ImageMountRecord[];
  /** Made from a checkpoint archive (this path): StartContainer restores it instead of starting it. */
  restoredFrom?: string;
  /** Until the restore: CRIU's images, unpacked in the container's directory. */
  restoreImages?: string;
}

export function reservedContainerName(config: ContainerConfig__Output, sandboxName: string, sandboxNamespace: string, sandboxUid: string): string {
  const m = config.metadata!;
  return `${m.name}_${sandboxName}_${sandboxNamespace}_${sandboxUid}_${m.attempt}`;
}

export function nowNanos(): string {
  return (BigInt(Date.now()) * 1_000_000n + BigInt(process.hrtime()[1] % 1_000_000)).toString();
}
