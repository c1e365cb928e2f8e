// RunPodSandbox: namespaces, network, pod files and the pause process (see
// src/pod-sandbox/manager.ts for the steps).
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { RunPodSandboxRequest__Output } from '../../generated/runtime/v1/RunPodSandboxRequest';
import type { RunPodSandboxResponse } from '../../generated/runtime/v1/RunPodSandboxResponse';
import { requireValue } from '../validate';

export const runPodSandbox = (services: CradleServices): UnaryRpc<RunPodSandboxRequest__Output, RunPodSandboxResponse> =>
  async (ctx, request) => {
    const config = requireValue(request.config, 'config');
    const id = await services.sandboxes.run(config, request.runtimeHandler, ctx.log);
    // The caller gave up before the pod was ready; its retry will get this pod.
    if (ctx.signal.aborted) services.metrics.recordStalledAtStage('RunPodSandbox');
    return { podSandboxId: id };
  };
