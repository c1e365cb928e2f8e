// The shape of an RPC implementation. Handlers are plain async functions of a
// request context and the decoded request; gRPC call objects never reach them.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../common/logger';
import type { RuntimeServiceHandlers } from '../generated/runtime/v1/RuntimeService';
import type { ImageServiceHandlers } from '../generated/runtime/v1/ImageService';

export interface RequestContext {
  /** RPC name as in the proto, e.g. "RunPodSandbox". */
  readonly rpc: string;
  readonly requestId: string;
  /** Logger carrying rpc and requestId on every line. */
  readonly log: Logger;
  /** Aborted when the client cancels or its deadline passes. */
  readonly signal: AbortSignal;
  readonly deadline: Date | undefined;
}

export type UnaryRpc<Req, Res> = (ctx: RequestContext, request: Req) => Promise<Res>;
export type ServerStreamRpc<Req, Res> = (ctx: RequestContext, request: Req) => AsyncIterable<Res>;

/** Maps a grpc-js handler type to cradle's handler type. Streaming is tested first:
 * a one-argument streaming handler type is not assignable to a two-argument unary one. */
export type RpcImpl<H> = H extends grpc.handleServerStreamingCall<infer Req, infer Res>
  ? ServerStreamRpc<Req, Res>
  : H extends grpc.handleUnaryCall<infer Req, infer Res>
    ? UnaryRpc<Req, Res>
    : never;

export type RuntimeRpcs = { [K in keyof RuntimeServiceHandlers]: RpcImpl<RuntimeServiceHandlers[K]> };
export type ImageRpcs = { [K in keyof ImageServiceHandlers]: RpcImpl<ImageServiceHandlers[K]> };
export type RuntimeRpcName = keyof RuntimeRpcs;
export type ImageRpcName = keyof ImageRpcs;
