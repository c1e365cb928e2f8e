// Cross-cutting behaviour around every RPC: request ids, the per-call log line,
// and (later) metrics. An interceptor sees a call start and end; it never touches
// the request or response, so handlers stay plain functions.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../common/logger';
import type { RequestContext } from './handler';
import { isClientError, statusName } from './error-codes';

export interface CallOutcome {
  code: grpc.status;
  durationMs: number;
  /** Catalogue code of the error, when the call failed. */
  errorCode?: string;
  message?: string;
}

export interface CallInterceptor {
  /** Called when a call starts; the returned function is called once when it ends. */
  start(ctx: RequestContext): (outcome: CallOutcome) => void;
}

/** One debug line per call (method, id, duration, code); failures at warn or error. */
export function loggingInterceptor(): CallInterceptor {
  return {
    start(ctx) {
      ctx.log.trace('call started');
      return (outcome) => {
        const fields = { durationMs: Math.round(outcome.durationMs * 1000) / 1000, code: statusName(outcome.code) };
        if (outcome.code === 0) {
          ctx.log.debug(fields, 'call finished');
        } else if (isClientError(outcome.code)) {
          ctx.log.warn({ ...fields, errorCode: outcome.errorCode, error: outcome.message }, 'call failed');
        } else {
          ctx.log.error({ ...fields, errorCode: outcome.errorCode, error: outcome.message }, 'call failed');
        }
      };
    },
  };
}

export function composeInterceptors(interceptors: CallInterceptor[]): CallInterceptor {
  return {
    start(ctx) {
      const ends = interceptors.map((i) => i.start(ctx));
      return (outcome) => {
        for (let i = ends.length - 1; i >= 0; i--) ends[i]!(outcome);
      };
    },
  };
}

export type { Logger };
