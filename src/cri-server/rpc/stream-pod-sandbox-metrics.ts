// StreamPodSandboxMetrics: ListPodSandboxMetrics in chunks.
import type { ServerStreamRpc } from '../handler';
import type { CradleServices } from '../services';
import type { StreamPodSandboxMetricsRequest__Output } from '../../generated/runtime/v1/StreamPodSandboxMetricsRequest';
import type { StreamPodSandboxMetricsResponse } from '../../generated/runtime/v1/StreamPodSandboxMetricsResponse';
import { collectPodMetrics } from './list-pod-sandbox-metrics';
import { chunks } from './stream-chunks';

export const streamPodSandboxMetrics = (services: CradleServices): ServerStreamRpc<StreamPodSandboxMetricsRequest__Output, StreamPodSandboxMetricsResponse> =>
  async function* () {
    for (const podSandboxMetrics of chunks(await collectPodMetrics(services))) yield { podSandboxMetrics };
  };
