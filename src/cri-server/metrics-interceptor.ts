// Records every CRI call in the operations metrics (as cri-o's gRPC interceptor).
import type { CallInterceptor } from './interceptors';
import type { CradleMetrics } from '../metrics/registry';

export function metricsInterceptor(metrics: CradleMetrics): CallInterceptor {
  return {
    start(ctx) {
      return (outcome) => metrics.recordOperation(ctx.rpc, outcome.durationMs / 1000, outcome.code !== 0);
    },
  };
}
