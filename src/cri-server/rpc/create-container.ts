// CreateContainer: builds the OCI bundle and creates the container under conmon (state CREATED).
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { CreateContainerRequest__Output } from '../../generated/runtime/v1/CreateContainerRequest';
import type { CreateContainerResponse } from '../../generated/runtime/v1/CreateContainerResponse';
import { requireString, requireValue } from '../validate';
export const createContainer = (services: CradleServices): UnaryRpc<CreateContainerRequest__Output, CreateContainerResponse> =>
  async (ctx, request) => {
    const sandboxId = requireString(request.podSandboxId, 'podSandboxId');
    const config = requireValue(request.config, 'config');
    const id = await services.containers.create(sandboxId, config, ctx.log);
    // The caller gave up before the container was created; its retry will get it.
    if (ctx.signal.aborted) services.metrics.recordStalledAtStage('CreateContainer');
    return { containerId: id };
  };
