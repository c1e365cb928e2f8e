// RemovePodSandbox: stops the pod if it is ready, removes its containers and every
// resource it held; removing an unknown pod is not an error.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { RemovePodSandboxRequest__Output } from '../../generated/runtime/v1/RemovePodSandboxRequest';
import type { RemovePodSandboxResponse } from '../../generated/runtime/v1/RemovePodSandboxResponse';
import { requireString } from '../validate';

export const removePodSandbox = (services: CradleServices): UnaryRpc<RemovePodSandboxRequest__Output, RemovePodSandboxResponse> =>
  async (ctx, request) => {
    const sandbox = services.sandboxes.lookup(requireString(request.podSandboxId, 'podSandboxId'));
    if (sandbox) await services.sandboxes.remove(sandbox.id, ctx.log.child({ podSandboxId: sandbox.id }));
    return {};
  };
