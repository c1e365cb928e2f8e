// CheckpointContainer (KEP-2008): a checkpoint archive of a running container at
// the kubelet's location, in cri-o's layout; the container keeps running.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { CheckpointContainerRequest__Output } from '../../generated/runtime/v1/CheckpointContainerRequest';
import type { CheckpointContainerResponse } from '../../generated/runtime/v1/CheckpointContainerResponse';
import { requireString } from '../validate';

export const checkpointContainer = (services: CradleServices): UnaryRpc<CheckpointContainerRequest__Output, CheckpointContainerResponse> =>
  async (ctx, request) => {
    const id = requireString(request.containerId, 'containerId');
    await services.containers.checkpoint(id, request.location, Number(request.timeout ?? 0), ctx.log.child({ containerId: id }));
    return {};
  };
