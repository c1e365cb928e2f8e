// StartContainer: runs the created container's process.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { StartContainerRequest__Output } from '../../generated/runtime/v1/StartContainerRequest';
import type { StartContainerResponse } from '../../generated/runtime/v1/StartContainerResponse';
import { requireString } from '../validate';
export const startContainer = (services: CradleServices): UnaryRpc<StartContainerRequest__Output, StartContainerResponse> =>
  async (ctx, request) => {
    const id = requireString(request.containerId, 'containerId');
    await services.containers.start(id, ctx.log.child({ containerId: id }));
    return {};
  };
