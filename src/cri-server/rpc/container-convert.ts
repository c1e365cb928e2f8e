// cradle's ContainerRecord → the CRI Container and ContainerStatus messages, and
// the CRI filter → cradle's.
import type { Container } from '../../generated/runtime/v1/Container';
import type { ContainerStatus } from '../../generated/runtime/v1/ContainerStatus';
import type { ContainerFilter__Output } from '../../generated/runtime/v1/ContainerFilter';
import type { ContainerRecord } from '../../containers/container';
import type { ContainerFilter } from '../../containers/manager';

export function toCriContainer(c: ContainerRecord): Container {
  return {
    id: c.id, podSandboxId: c.sandboxId, metadata: c.config.metadata, image: { image: c.image },
    imageRef: c.imageId, imageId: c.imageId, state: c.state, createdAt: c.createdAt,
    labels: c.config.labels, annotations: c.config.annotations,
  };
}

export function toCriContainerStatus(c: ContainerRecord): ContainerStatus {
  return {
    id: c.id,
    metadata: c.config.metadata,
    state: c.state,
    createdAt: c.createdAt,
    startedAt: c.startedAt,
    finishedAt: c.finishedAt,
    exitCode: c.exitCode,
    image: { image: c.image },
    imageRef: c.imageId,
    imageId: c.imageId,
    reason: c.reason,
    message: c.message,
    labels: c.config.labels,
    annotations: c.config.annotations,
    mounts: c.config.mounts,
    logPath: c.logPath,
    ...(c.resources ? { resources: { linux: c.resources } } : {}),
    user: { linux: { uid: String(c.user.uid), gid: String(c.user.gid), supplementalGroups: c.user.additionalGids.map(String) } },
  };
}

export function fromCriContainerFilter(filter: ContainerFilter__Output | null): ContainerFilter {
  if (!filter) return {};
  return {
    ...(filter.id ? { id: filter.id } : {}),
    ...(filter.podSandboxId ? { sandboxId: filter.podSandboxId } : {}),
    ...(filter.state ? { state: filter.state.state } : {}),
    ...(Object.keys(filter.labelSelector).length ? { labelSelector: filter.labelSelector } : {}),
  };
}
