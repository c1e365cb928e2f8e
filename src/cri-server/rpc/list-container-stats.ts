// ListContainerStats: stats of the running containers matching the filter.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { ListContainerStatsRequest__Output } from '../../generated/runtime/v1/ListContainerStatsRequest';
import type { ListContainerStatsResponse } from '../../generated/runtime/v1/ListContainerStatsResponse';
import { containerStatsFilter } from './stats-filters';

export const listContainerStats = (services: CradleServices): UnaryRpc<ListContainerStatsRequest__Output, ListContainerStatsResponse> =>
  async (_ctx, request) => ({ stats: await services.stats.listContainerStats(services.containers.list(containerStatsFilter(request.filter))) });
