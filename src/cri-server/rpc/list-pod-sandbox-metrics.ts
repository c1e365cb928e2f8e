// ListPodSandboxMetrics: cAdvisor-style metrics of every ready pod and its containers.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { ListPodSandboxMetricsRequest__Output } from '../../generated/runtime/v1/ListPodSandboxMetricsRequest';
import type { ListPodSandboxMetricsResponse } from '../../generated/runtime/v1/ListPodSandboxMetricsResponse';
import type { PodSandboxMetrics } from '../../generated/runtime/v1/PodSandboxMetrics';

export async function collectPodMetrics(services: CradleServices): Promise<PodSandboxMetrics[]> {
  const out: PodSandboxMetrics[] = [];
  for (const s of services.sandboxes.list({ state: 'SANDBOX_READY' })) {
    const m = await services.stats.podMetrics(s);
    if (m) out.push(m);
  }
  return out;
}

export const listPodSandboxMetrics = (services: CradleServices): UnaryRpc<ListPodSandboxMetricsRequest__Output, ListPodSandboxMetricsResponse> =>
  async () => ({ podMetrics: await collectPodMetrics(services) });
