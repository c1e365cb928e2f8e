// RemoveContainer: kills a running container and removes it; unknown ids are not an error.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { RemoveContainerRequest__Output } from '../../generated/runtime/v1/RemoveContainerRequest';
import type { RemoveContainerResponse } from '../../generated/runtime/v1/RemoveContainerResponse';
import { requireString } from '../validate';
export const removeContainer = (services: CradleServices): UnaryRpc<RemoveContainerRequest__Output, RemoveContainerResponse> =>
  async (ctx, request) => {
    const id = requireString(request.containerId, 'containerId');
    await services.containers.remove(id, ctx.log.child({ containerId: id }));
    return {};
  };
