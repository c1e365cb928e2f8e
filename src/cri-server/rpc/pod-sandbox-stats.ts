// PodSandboxStats: the pod cgroup's cpu and memory, network from the pod netns,
// and its containers' stats.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { PodSandboxStatsRequest__Output } from '../../generated/runtime/v1/PodSandboxStatsRequest';
import type { PodSandboxStatsResponse } from '../../generated/runtime/v1/PodSandboxStatsResponse';
import { errors } from '../../common/errors';
import { requireString } from '../validate';

export const podSandboxStats = (services: CradleServices): UnaryRpc<PodSandboxStatsRequest__Output, PodSandboxStatsResponse> =>
  async (_ctx, request) => {
    const s = services.sandboxes.find(requireString(request.podSandboxId, 'podSandboxId'));
    const stats = await services.stats.podSandboxStats(s);
    if (!stats) throw errors.failedPrecondition(`pod sandbox ${s.id} is not ready: no stats`);
    return { stats };
  };
