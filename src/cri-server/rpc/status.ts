// Status: the RuntimeReady and NetworkReady conditions, runtime handlers with their
// features, and with verbose=true extra JSON documents for debugging.
import type { UnaryRpc } from '../handler';
import type { CradleServices, Readiness } from '../services';
import type { StatusRequest__Output } from '../../generated/runtime/v1/StatusRequest';
import type { StatusResponse } from '../../generated/runtime/v1/StatusResponse';
import type { RuntimeCondition } from '../../generated/runtime/v1/RuntimeCondition';
import type { RuntimeHandler } from '../../generated/runtime/v1/RuntimeHandler';
import type { CradleConfig } from '../../config/schema';

function condition(type: string, readiness: Readiness): RuntimeCondition {
  return { type, status: readiness.ready, reason: readiness.ready ? '' : readiness.reason, message: readiness.ready ? '' : readiness.message };
}

/** The default handler is listed twice, as "" (the CRI's name for the default) and by name. */
export function runtimeHandlers(config: CradleConfig): RuntimeHandler[] {
  const features = { recursiveReadOnlyMounts: false, userNamespaces: false };
  const handlers: RuntimeHandler[] = [{ name: '', features }];
  for (const name of Object.keys(config.runtime.runtimes)) handlers.push({ name, features });
  return handlers;
}

export const status = (services: CradleServices): UnaryRpc<StatusRequest__Output, StatusResponse> =>
  async (_ctx, request) => {
    const config = services.config();
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
      runtimeHandlers: runtimeHandlers(config),
      features: { supplementalGroupsPolicy: false },
    };
  };
