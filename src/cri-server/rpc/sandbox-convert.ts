// cradle's SandboxRecord → the CRI PodSandbox and PodSandboxStatus messages, and
// the CRI filter → cradle's.
import type { PodSandbox } from '../../generated/runtime/v1/PodSandbox';
import type { PodSandboxStatus } from '../../generated/runtime/v1/PodSandboxStatus';
import type { PodSandboxFilter__Output } from '../../generated/runtime/v1/PodSandboxFilter';
import type { SandboxRecord } from '../../pod-sandbox/sandbox';
import type { SandboxFilter } from '../../pod-sandbox/manager';

export function toCriSandbox(s: SandboxRecord): PodSandbox {
  return {
    id: s.id, metadata: s.config.metadata, state: s.state, createdAt: s.createdAt,
    labels: s.config.labels, annotations: s.config.annotations, runtimeHandler: s.runtimeHandler,
  };
}

export function toCriSandboxStatus(s: SandboxRecord): PodSandboxStatus {
  const ns = s.config.linux?.securityContext?.namespaceOptions;
  const [primary, ...additional] = s.state === 'SANDBOX_READY' ? s.ips : [];
  return {
    id: s.id,
    metadata: s.config.metadata,
    state: s.state,
    createdAt: s.createdAt,
    network: { ip: primary?.ip ?? '', additionalIps: additional.map((i) => ({ ip: i.ip })) },
    linux: {
      namespaces: {
        options: {
          network: ns?.network ?? 'POD', pid: ns?.pid ?? 'POD', ipc: ns?.ipc ?? 'POD', targetId: ns?.targetId ?? '',
          // The user namespace the pod runs in: its own with the maps it was made with, or the host's.
          usernsOptions: s.userns ? { mode: 'POD', uids: s.userns.uids, gids: s.userns.gids } : { mode: 'NODE', uids: [], gids: [] },
        },
      },
    },
    labels: s.config.labels,
    annotations: s.config.annotations,
    runtimeHandler: s.runtimeHandler,
  };
}

export function fromCriSandboxFilter(filter: PodSandboxFilter__Output | null): SandboxFilter {
  if (!filter) return {};
  return {
    ...(filter.id ? { id: filter.id } : {}),
    ...(filter.state ? { state: filter.state.state } : {}),
    ...(Object.keys(filter.labelSelector).length ? { labelSelector: filter.labelSelector } : {}),
  };
}
