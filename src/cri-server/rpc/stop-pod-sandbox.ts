// StopPodSandbox: stops the pod's containers and pause process and releases its
// network; idempotent, and not an error for an unknown pod (the kubelet retries).
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { StopPodSandboxRequest__Output } from '../../generated/runtime/v1/StopPodSandboxRequest';
import type { StopPodSandboxResponse } from '../../generated/runtime/v1/StopPodSandboxResponse';
import { requireString } from '../validate';

export const stopPodSandbox = (services: CradleServices): UnaryRpc<StopPodSandboxRequest__Output, StopPodSandboxResponse> =>
  async (ctx, request) => {
    const sandbox = services.sandboxes.lookup(requireString(request.podSandboxId, 'podSandboxId'));
    if (sandbox) await services.sandboxes.stop(sandbox.id, ctx.log.child({ podSandboxId: sandbox.id }));
    return {};
  };
