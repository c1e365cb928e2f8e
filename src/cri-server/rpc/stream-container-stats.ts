// StreamContainerStats: ListContainerStats in chunks.
import type { ServerStreamRpc } from '../handler';
import type { CradleServices } from '../services';
import type { StreamContainerStatsRequest__Output } from '../../generated/runtime/v1/StreamContainerStatsRequest';
import type { StreamContainerStatsResponse } from '../../generated/runtime/v1/StreamContainerStatsResponse';
import { containerStatsFilter } from './stats-filters';
import { chunks } from './stream-chunks';

export const streamContainerStats = (services: CradleServices): ServerStreamRpc<StreamContainerStatsRequest__Output, StreamContainerStatsResponse> =>
  async function* (_ctx, request) {
    const stats = await services.stats.listContainerStats(services.containers.list(containerStatsFilter(request.filter)));
    for (const containerStats of chunks(stats)) yield { containerStats };
  };
