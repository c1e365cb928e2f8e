// GetContainerEvents: CREATED/STARTED/STOPPED/DELETED for every container, with the
// pod's status and its containers' statuses, as evented PLEG expects. The stream
// stays open until the client leaves.
import type { ServerStreamRpc } from '../handler';
import type { CradleServices } from '../services';
import type { GetEventsRequest__Output } from '../../generated/runtime/v1/GetEventsRequest';
import type { ContainerEventResponse } from '../../generated/runtime/v1/ContainerEventResponse';
import { toCriContainerStatus } from './container-convert';
import { toCriSandboxStatus } from './sandbox-convert';

export const getContainerEvents = (services: CradleServices): ServerStreamRpc<GetEventsRequest__Output, ContainerEventResponse> =>
  async function* (ctx) {
    for await (const event of services.containers.events.subscribe(ctx.signal)) {
      const sandbox = services.sandboxes.get(event.sandboxId);
      yield {
        containerId: event.containerId,
        containerEventType: event.type,
        createdAt: event.createdAt,
        ...(sandbox ? { podSandboxStatus: toCriSandboxStatus(sandbox) } : {}),
        containersStatuses: services.containers.list({ sandboxId: event.sandboxId }).map(toCriContainerStatus),
      };
    }
  };
