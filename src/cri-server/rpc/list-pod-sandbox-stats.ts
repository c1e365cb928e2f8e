// ListPodSandboxStats: stats of the ready pods matching the filter.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { ListPodSandboxStatsRequest__Output } from '../../generated/runtime/v1/ListPodSandboxStatsRequest';
import type { ListPodSandboxStatsResponse } from '../../generated/runtime/v1/ListPodSandboxStatsResponse';
import type { PodSandboxStats } from '../../generated/runtime/v1/PodSandboxStats';
import { sandboxStatsFilter } from './stats-filters';

export async function collectPodStats(services: CradleServices, filter: ReturnType<typeof sandboxStatsFilter>): Promise<PodSandboxStats[]> {
  const out: PodSandboxStats[] = [];
  for (const s of services.sandboxes.list(filter)) {
    const stats = await services.stats.podSandboxStats(s);
    if (stats) out.push(stats);
  }
  return out;
}

export const listPodSandboxStats = (services: CradleServices): UnaryRpc<ListPodSandboxStatsRequest__Output, ListPodSandboxStatsResponse> =>
  async (_ctx, request) => ({ stats: await collectPodStats(services, sandboxStatsFilter(request.filter)) });
