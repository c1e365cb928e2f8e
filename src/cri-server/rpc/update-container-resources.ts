// UpdateContainerResources: applied through the runtime's `update` and recorded for ContainerStatus.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { UpdateContainerResourcesRequest__Output } from '../../generated/runtime/v1/UpdateContainerResourcesRequest';
import type { UpdateContainerResourcesResponse } from '../../generated/runtime/v1/UpdateContainerResourcesResponse';
import { requireString } from '../validate';
export const updateContainerResources = (services: CradleServices): UnaryRpc<UpdateContainerResourcesRequest__Output, UpdateContainerResourcesResponse> =>
  async (ctx, request) => {
    const id = requireString(request.containerId, 'containerId');
    await services.containers.updateResources(id, request.linux, ctx.log.child({ containerId: id }));
    return {};
  };
