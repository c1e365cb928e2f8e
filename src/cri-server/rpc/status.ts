// Status: the RuntimeReady and NetworkReady conditions, runtime handlers with their
// features, and with verbose=true extra JSON documents for debugging.
import type { UnaryRpc } from '../handler';
import type { CradleServices, Readiness } from '../services';
import type { StatusRequest__Output } from '../../generated/runtime/v1/StatusRequest';
import type { StatusResponse } from '../../generated/runtime/v1/StatusResponse';
import type { RuntimeCondition } from '../../generated/runtime/v1/RuntimeCondition';
import type { RuntimeHandler } from '../../generated/runtime/v1/RuntimeHandler';

function condition(type: string, readiness: Readiness): RuntimeCondition {
  return { type, status: readiness.ready, reason: readiness.ready ? '' : readiness.reason, message: readiness.ready ? '' : readiness.message };
}

export const status = (services: CradleServices): UnaryRpc<StatusRequest__Output, StatusResponse> =>
  async (_ctx, request) => {
    const info: Record<string, string> = {};
    if (request.verbose) {
      for (const [key, value] of Object.entries(services.verboseInfo())) info[key] = JSON.stringify(value);
    }
    return {
      status: {
        conditions: [
          condition('RuntimeReady', services.runtimeReadiness.status()),
          condition('NetworkReady', services.networkReadiness.status()),
        ],
      },
      info,
      // The default handler is listed twice, as "" (the CRI's name for the default) and by name.
      runtimeHandlers: services.runtimeHandlerFeatures() satisfies RuntimeHandler[],
      features: { supplementalGroupsPolicy: false },
    };
  };
