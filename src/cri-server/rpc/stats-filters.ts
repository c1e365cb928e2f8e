// CRI stats filters → cradle's list filters.
import type { ContainerStatsFilter__Output } from '../../generated/runtime/v1/ContainerStatsFilter';
import type { PodSandboxStatsFilter__Output } from '../../generated/runtime/v1/PodSandboxStatsFilter';
import type { ContainerFilter } from '../../containers/manager';
import type { SandboxFilter } from '../../pod-sandbox/manager';

export function containerStatsFilter(f: ContainerStatsFilter__Output | null): ContainerFilter {
  return {
    ...(f?.id ? { id: f.id } : {}),
    ...(f?.podSandboxId ? { sandboxId: f.podSandboxId } : {}),
    ...(f && Object.keys(f.labelSelector).length ? { labelSelector: f.labelSelector } : {}),
    state: 'CONTAINER_RUNNING',
  };
}

export function sandboxStatsFilter(f: PodSandboxStatsFilter__Output | null): SandboxFilter {
  return {
    ...(f?.id ? { id: f.id } : {}),
    ...(f && Object.keys(f.labelSelector).length ? { labelSelector: f.labelSelector } : {}),
    state: 'SANDBOX_READY',
  };
}
