// CheckpointContainer: checkpointing needs CRIU, which cradle does not integrate;
// the call says so instead of half-working.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { CheckpointContainerRequest__Output } from '../../generated/runtime/v1/CheckpointContainerRequest';
import type { CheckpointContainerResponse } from '../../generated/runtime/v1/CheckpointContainerResponse';
import { CradleError, errors } from '../../common/errors';
import { requireString } from '../validate';

export const checkpointContainer = (services: CradleServices): UnaryRpc<CheckpointContainerRequest__Output, CheckpointContainerResponse> =>
  async (_ctx, request) => {
    const c = services.containers.find(requireString(request.containerId, 'containerId'));
    throw new CradleError(errors.unimplemented.code, 'unimplemented',
      `CheckpointContainer is not implemented by cradle: container checkpointing needs CRIU, which cradle does not integrate (container ${c.id} keeps running)`);
  };
