// The CRI gRPC server: binds the unix socket, registers RuntimeService and
// ImageService, and adapts grpc-js calls to cradle's handler shape. Every RPC
// without an implementation answers UNIMPLEMENTED naming itself.
//
// cradle owns the listening socket and hands each connection to grpc-js through a
// connection injector, after the ClientConnection layer that lets clients which
// send the socket path as :authority through (grpc-go's kubelet, crictl, critest).
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Logger } from '../common/logger';
import { errors } from '../common/errors';
import { criServiceDefinition, prepareMessageTypes, type CriServiceName } from './proto';
import type { ImageRpcs, RequestContext, RuntimeRpcs, ServerStreamRpc, UnaryRpc } from './handler';
import { toWireError } from './error-codes';
import { type CallInterceptor, composeInterceptors } from './interceptors';
import { prepareSocketPath, secureSocket, socketPathOf } from './socket';
import { ClientConnection } from './http2/client-connection';

export interface CriServerOptions {
  listen: string;
  maxMessageSize: number;
  socketMode: number;
  log: Logger;
  runtime: Partial<RuntimeRpcs>;
  image: Partial<ImageRpcs>;
  interceptors: CallInterceptor[];
  /** Runs before every handler; test-only fault injection (src/daemon/test-hooks.ts). */
  beforeCall?: (rpc: string, signal: AbortSignal) => Promise<void>;
}

type AnyUnary = UnaryRpc<unknown, unknown>;
type AnyStream = ServerStreamRpc<unknown, unknown>;

export class CriServer {
  private readonly server: grpc.Server;
  private listener: net.Server | undefined;
  /** Open client connections: grpc-js counts none of an injector's, so shutdown waits for these. */
  private readonly connections = new Set<ClientConnection>();
  private readonly interceptor: CallInterceptor;
  readonly socketPath: string;
  private started = false;

  constructor(private readonly options: CriServerOptions) {
    this.socketPath = socketPathOf(options.listen);
    this.interceptor = composeInterceptors(options.interceptors);
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': options.maxMessageSize,
      'grpc.max_send_message_length': options.maxMessageSize,
    });
    this.addService('RuntimeService', criServiceDefinition('RuntimeService'), options.runtime as Record<string, unknown>);
    this.addService('ImageService', criServiceDefinition('ImageService'), options.image as Record<string, unknown>);
  }

  private addService(serviceName: CriServiceName, definition: grpc.ServiceDefinition, impls: Record<string, unknown>): void {
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const [method, def] of Object.entries(definition)) {
      const impl = impls[method];
      if (def.requestStream) throw new Error(`${serviceName}/${method}: client streaming is not part of CRI`);
      if (def.responseStream) {
        const fn: AnyStream = (impl as AnyStream | undefined) ?? unimplementedStream(method);
        implementation[method] = this.wrapStream(method, fn);
      } else {
        const fn: AnyUnary = (impl as AnyUnary | undefined) ?? (async () => { throw errors.unimplemented(method); });
        implementation[method] = this.wrapUnary(method, fn);
      }
    }
    this.server.addService(definition, implementation);
  }

  private beginCall(rpc: string, call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>): { ctx: RequestContext; end: (err?: unknown) => ReturnType<typeof toWireError> | undefined } {
    const requestId = randomBytes(8).toString('hex');
    const controller = new AbortController();
    const deadlineValue = call.getDeadline();
    const deadline = deadlineValue === Infinity ? undefined : new Date(deadlineValue);
    let timer: NodeJS.Timeout | undefined;
    if (deadline) {
      timer = setTimeout(() => controller.abort(errors.deadlineExceeded(`${rpc}: client deadline passed`)), Math.max(0, deadline.getTime() - Date.now()));
      timer.unref();
    }
    call.on('cancelled', () => controller.abort(errors.cancelled(`${rpc}: cancelled by the client`)));
    const ctx: RequestContext = {
      rpc,
      requestId,
      log: this.options.log.child({ rpc, requestId }),
      signal: controller.signal,
      deadline,
    };
    const started = performance.now();
    const finish = this.interceptor.start(ctx);
    return {
      ctx,
      end: (err?: unknown) => {
        if (timer) clearTimeout(timer);
        const durationMs = performance.now() - started;
        if (err === undefined) {
          finish({ code: grpc.status.OK, durationMs });
          return undefined;
        }
        const wire = toWireError(err);
        finish({ code: wire.code, durationMs, errorCode: wire.errorCode, message: wire.details });
        return wire;
      },
    };
  }

  private wrapUnary(rpc: string, impl: AnyUnary): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      const { ctx, end } = this.beginCall(rpc, call);
      const before = this.options.beforeCall;
      const result = (before ? before(rpc, ctx.signal) : Promise.resolve()).then(() => impl(ctx, call.request));
      result.then(
        (response) => {
          end();
          callback(null, response);
        },
        (err: unknown) => {
          const wire = end(err)!;
          callback({ code: wire.code, details: wire.details, metadata: wire.metadata });
        },
      );
    };
  }

  private wrapStream(rpc: string, impl: AnyStream): grpc.handleServerStreamingCall<unknown, unknown> {
    return (call) => {
      const { ctx, end } = this.beginCall(rpc, call);
      void (async () => {
        try {
          await this.options.beforeCall?.(rpc, ctx.signal);
          for await (const message of impl(ctx, call.request)) {
            if (ctx.signal.aborted) break;
            if (!call.write(message)) {
              await new Promise<void>((resolve) => {
                const done = () => { call.off('drain', done); ctx.signal.removeEventListener('abort', done); resolve(); };
                call.on('drain', done);
                ctx.signal.addEventListener('abort', done);
              });
            }
          }
          end();
          call.end();
        } catch (err) {
          const wire = end(err)!;
          // grpc-js turns an 'error' event on a server stream into the call's status.
          call.emit('error', Object.assign(new Error(wire.details), { code: wire.code, details: wire.details, metadata: wire.metadata }));
        }
      })();
    };
  }

  async start(): Promise<void> {
    await prepareSocketPath(this.socketPath);
    const injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    const connectionLog = this.options.log.child({ component: 'cri-socket' });
    const listener = net.createServer({ allowHalfOpen: true }, (socket) => {
      const connection = new ClientConnection(socket, connectionLog);
      this.connections.add(connection);
      connection.once('close', () => this.connections.delete(connection));
      injector.injectConnection(connection);
    });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(this.socketPath, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    listener.on('error', (err) => this.options.log.error({ err }, 'CRI socket listener failed'));
    this.listener = listener;
    try {
      await secureSocket(this.socketPath, this.options.socketMode);
    } catch (err) {
      listener.close();
      this.listener = undefined;
      throw err;
    }
    this.started = true;
    // Off the path to the socket, but before a client's first call if it comes later.
    setImmediate(() => prepareMessageTypes());
  }

  /** Stops accepting calls, lets in-flight calls finish (up to graceMs), then closes. */
  async shutdown(graceMs: number): Promise<void> {
    if (!this.started) {
      this.server.forceShutdown();
      return;
    }
    this.started = false;
    this.listener?.close();
    this.listener = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.options.log.warn({ graceMs }, 'in-flight calls did not finish in time; closing them');
        this.server.forceShutdown();
        for (const connection of this.connections) connection.destroy();
        resolve();
      }, graceMs);
      // Sessions close once their streams end; each then closes its connection.
      this.server.tryShutdown(() => {
        void this.connectionsClosed().then(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    });
    await fs.promises.rm(this.socketPath, { force: true });
  }

  private async connectionsClosed(): Promise<void> {
    await Promise.all([...this.connections].map((connection) => new Promise<void>((resolve) => {
      if (connection.destroyed) resolve();
      else connection.once('close', () => resolve());
    })));
  }
}

function unimplementedStream(rpc: string): AnyStream {
  // eslint-disable-next-line require-yield
  return async function* () {
    throw errors.unimplemented(rpc);
  };
}
