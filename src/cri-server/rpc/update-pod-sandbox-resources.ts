// UpdatePodSandboxResources: applied to the pod's cgroup for real (its containers'
// sum plus overhead), not only recorded.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { UpdatePodSandboxResourcesRequest__Output } from '../../generated/runtime/v1/UpdatePodSandboxResourcesRequest';
import type { UpdatePodSandboxResourcesResponse } from '../../generated/runtime/v1/UpdatePodSandboxResourcesResponse';
import { requireString } from '../validate';

export const updatePodSandboxResources = (services: CradleServices): UnaryRpc<UpdatePodSandboxResourcesRequest__Output, UpdatePodSandboxResourcesResponse> =>
  async (ctx, request) => {
    const id = requireString(request.podSandboxId, 'podSandboxId');
    await services.sandboxes.updateResources(id, request.resources, request.overhead, ctx.log.child({ podSandboxId: id }));
    return {};
  };
