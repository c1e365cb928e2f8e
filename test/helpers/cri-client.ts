// A typed, promise-based CRI client over the real gRPC stack, for tests, bench/
// and test/critest. Calls look like `await cri.runtime.Version({})`.
import * as grpc from '@grpc/grpc-js';
import { loadCriProto } from '../../src/cri-server/proto';
import type { RuntimeServiceClient } from '../../src/generated/runtime/v1/RuntimeService';
import type { ImageServiceClient } from '../../src/generated/runtime/v1/ImageService';

export interface CallOptions {
  /** Per-call deadline in milliseconds (default 60 s, or the client's). */
  timeoutMs?: number;
}

type LastOverload<F> = F extends {
  (argument: infer A, callback: grpc.requestCallback<infer R>): grpc.ClientUnaryCall;
} ? { req: A; res: R } : never;

type StreamOverload<F> = F extends {
  (argument: infer A, options?: grpc.CallOptions): grpc.ClientReadableStream<infer R>;
} ? { req: A; res: R } : never;

/** PascalCase method names only (the generated clients also have camelCase aliases). */
type PascalKeys<C> = { [K in keyof C]: K extends string ? (K extends Capitalize<K> ? K : never) : never }[keyof C];

export type PromiseClient<C> = {
  [K in PascalKeys<C> as LastOverload<C[K]> extends never ? never : K]:
    (request: LastOverload<C[K]>['req'], options?: CallOptions) => Promise<LastOverload<C[K]>['res']>;
};

export type StreamClient<C> = {
  [K in PascalKeys<C> as StreamOverload<C[K]> extends never ? never : K]:
    (request: StreamOverload<C[K]>['req'], options?: CallOptions) => Promise<StreamOverload<C[K]>['res'][]>;
};

function promisify<C extends grpc.Client>(client: C, definition: grpc.ServiceDefinition, defaultTimeoutMs: number): { unary: PromiseClient<C>; streams: StreamClient<C> } {
  const unary: Record<string, unknown> = {};
  const streams: Record<string, unknown> = {};
  const methods = client as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const [name, def] of Object.entries(definition)) {
    const deadline = (options?: CallOptions) => ({ deadline: Date.now() + (options?.timeoutMs ?? defaultTimeoutMs) });
    if (def.responseStream) {
      streams[name] = (request: unknown, options?: CallOptions) => new Promise((resolve, reject) => {
        const items: unknown[] = [];
        const call = methods[name]!.call(client, request, deadline(options)) as grpc.ClientReadableStream<unknown>;
        call.on('data', (item: unknown) => items.push(item));
        call.on('error', reject);
        call.on('end', () => resolve(items));
      });
    } else {
      unary[name] = (request: unknown, options?: CallOptions) => new Promise((resolve, reject) => {
        methods[name]!.call(client, request, new grpc.Metadata(), deadline(options), (err: grpc.ServiceError | null, res: unknown) =>
          (err ? reject(err) : resolve(res)));
      });
    }
  }
  return { unary: unary as PromiseClient<C>, streams: streams as StreamClient<C> };
}

export class CriClient {
  readonly runtime: PromiseClient<RuntimeServiceClient>;
  readonly runtimeStreams: StreamClient<RuntimeServiceClient>;
  readonly image: PromiseClient<ImageServiceClient>;
  readonly imageStreams: StreamClient<ImageServiceClient>;
  private readonly clients: grpc.Client[];

  /**
   * @param channelOptions extra grpc-js channel options (e.g. `grpc.default_authority`).
   * @param defaults.timeoutMs each call's deadline unless the call gives one (60 s).
   */
  constructor(endpoint: string, channelOptions: grpc.ChannelOptions = {}, defaults: CallOptions = {}) {
    const proto = loadCriProto();
    const target = endpoint.startsWith('unix:') ? endpoint : `unix://${endpoint}`;
    const options = { 'grpc.max_receive_message_length': 16 * 1024 * 1024, ...channelOptions };
    const runtime = new proto.runtime.v1.RuntimeService(target, grpc.credentials.createInsecure(), options);
    const image = new proto.runtime.v1.ImageService(target, grpc.credentials.createInsecure(), options);
    this.clients = [runtime, image];
    const r = promisify(runtime, proto.runtime.v1.RuntimeService.service, defaults.timeoutMs ?? 60_000);
    const i = promisify(image, proto.runtime.v1.ImageService.service, defaults.timeoutMs ?? 60_000);
    this.runtime = r.unary;
    this.runtimeStreams = r.streams;
    this.image = i.unary;
    this.imageStreams = i.streams;
  }

  close(): void {
    for (const client of this.clients) client.close();
  }
}

/** Asserts-friendly shape of a failed call. */
export function grpcError(err: unknown): { code: grpc.status; details: string } {
  const e = err as grpc.ServiceError;
  return { code: e.code, details: e.details };
}
