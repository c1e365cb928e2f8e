// StreamPodSandboxStats: ListPodSandboxStats in chunks.
import type { ServerStreamRpc } from '../handler';
import type { CradleServices } from '../services';
import type { StreamPodSandboxStatsRequest__Output } from '../../generated/runtime/v1/StreamPodSandboxStatsRequest';
import type { StreamPodSandboxStatsResponse } from '../../generated/runtime/v1/StreamPodSandboxStatsResponse';
import { sandboxStatsFilter } from './stats-filters';
import { collectPodStats } from './list-pod-sandbox-stats';
import { chunks } from './stream-chunks';

export const streamPodSandboxStats = (services: CradleServices): ServerStreamRpc<StreamPodSandboxStatsRequest__Output, StreamPodSandboxStatsResponse> =>
  async function* (_ctx, request) {
    for (const podSandboxStats of chunks(await collectPodStats(services, sandboxStatsFilter(request.filter)))) yield { podSandboxStats };
  };
