// StopContainer: stop signal, then SIGKILL after the timeout; idempotent.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { StopContainerRequest__Output } from '../../generated/runtime/v1/StopContainerRequest';
import type { StopContainerResponse } from '../../generated/runtime/v1/StopContainerResponse';
import { requireString } from '../validate';
export const stopContainer = (services: CradleServices): UnaryRpc<StopContainerRequest__Output, StopContainerResponse> =>
  async (ctx, request) => {
    const id = requireString(request.containerId, 'containerId');
    await services.containers.stop(id, Number(request.timeout), ctx.log.child({ containerId: id }));
    return {};
  };
