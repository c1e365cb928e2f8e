// ContainerStats: cpu, memory working set, writable layer and swap of one container.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { ContainerStatsRequest__Output } from '../../generated/runtime/v1/ContainerStatsRequest';
import type { ContainerStatsResponse } from '../../generated/runtime/v1/ContainerStatsResponse';
import { errors } from '../../common/errors';
import { requireString } from '../validate';

export const containerStats = (services: CradleServices): UnaryRpc<ContainerStatsRequest__Output, ContainerStatsResponse> =>
  async (_ctx, request) => {
    const c = services.containers.find(requireString(request.containerId, 'containerId'));
    const stats = await services.stats.containerStats(c);
    if (!stats) throw errors.failedPrecondition(`container ${c.id} is not running: no stats`);
    return { stats };
  };
