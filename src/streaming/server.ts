// cradle's streaming server (what cri-o and containerd get from the kubelet's
// cri-streaming package): the Exec/Attach/PortForward RPCs register a request
// and return a URL with a one-time token; the client (kubelet, crictl) then
// connects to that URL and upgrades to SPDY/3.1 or WebSocket.
import http from 'node:http';
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocketServer, WebSocket } from 'ws';
import { errors, withContext } from '../common/errors';
import type { Logger } from '../common/logger';
import type { StreamingConfig } from '../config/schema';
import type { AttachRequest, ExecRequest, PortForwardRequest, StreamingBackends } from './backend';
import { parsePort } from './portforward/forward';
import {
  SPDY_PORTFORWARD_PROTOCOLS, SPDY_REMOTECOMMAND_PROTOCOLS, WS_PORTFORWARD_PROTOCOLS, WS_REMOTECOMMAND_PROTOCOLS,
  headerList, negotiateProtocol,
} from './protocols';
import { RequestCache, type StreamingKind, type StreamingRequest } from './tokens';

// The session protocols (SPDY framing, ws, remotecommand, port-forward) load with
// the first session: only the listener is on the path to the daemon's socket.
const sessions = {
  ws: () => require('ws') as typeof import('ws'),
  portForwardSpdy: () => require('./portforward/spdy') as typeof import('./portforward/spdy'),
  portForwardWebSocket: () => require('./portforward/websocket') as typeof import('./portforward/websocket'),
  remoteCommandSpdy: () => require('./remotecommand/spdy') as typeof import('./remotecommand/spdy'),
  remoteCommandWebSocket: () => require('./remotecommand/websocket') as typeof import('./remotecommand/websocket'),
};

export const DEFAULT_IDLE_TIMEOUT_MS = 4 * 3600_000;
export const DEFAULT_STREAM_CREATION_TIMEOUT_MS = 30_000;

export interface StreamingTls {
  cert: Buffer;
  key: Buffer;
  /** When set, clients must present a certificate signed by this CA. */
  ca?: Buffer;
}

export interface StreamingServerOptions {
  /** Address to listen on (default 127.0.0.1). */
  address?: string;
  /** Port; 0 (default) picks a free one. */
  port?: number;
  /** A connection with no traffic for this long is closed (default 4 h). */
  idleTimeoutMs?: number;
  tls?: StreamingTls;
  backends: StreamingBackends;
  logger: Logger;
  /** Called when a session starts (kind, protocol); the returned function when it ends (for metrics). */
  onSession?: (kind: string, protocol: string) => () => void;
  /** Host used in the URLs handed out; default the listen address (127.0.0.1 for a wildcard address). */
  advertiseAddress?: string;
  /** Token lifetime (default 1 min) and how many may wait at once (default 1000). */
  tokenTtlMs?: number;
  maxInFlight?: number;
  /** How long a client has to open the streams of a session (default 30 s, as the kubelet). */
  streamCreationTimeoutMs?: number;
}

/** Reads the [streaming] config table (TLS files included) into server options. */
export async function streamingOptionsFromConfig(config: StreamingConfig):
Promise<Pick<StreamingServerOptions, 'address' | 'port' | 'idleTimeoutMs' | 'tls'>> {
  const options: Pick<StreamingServerOptions, 'address' | 'port' | 'idleTimeoutMs' | 'tls'> = {
    address: config.address,
    port: config.port,
    idleTimeoutMs: config.idle_timeout,
  };
  if (config.tls_cert !== '' || config.tls_key !== '') {
    if (config.tls_cert === '' || config.tls_key === '') {
      throw errors.config('[streaming]', config.tls_cert === '' ? 'tls_cert' : 'tls_key', 'tls_cert and tls_key must be set together');
    }
    const read = async (key: string, path: string): Promise<Buffer> => {
      try {
        return await readFile(path);
      } catch (err) {
        throw withContext(err, `[streaming] ${key}: reading ${path}`);
      }
    };
    options.tls = { cert: await read('tls_cert', config.tls_cert), key: await read('tls_key', config.tls_key) };
    if (config.tls_ca !== '') options.tls.ca = await read('tls_ca', config.tls_ca);
  }
  return options;
}

const ROUTE = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)$/;

interface LiveConnection {
  close(): void;
}

export class StreamingServer {
  private readonly server: http.Server;
  private readonly cache: RequestCache;
  private readonly logger: Logger;
  private readonly backends: StreamingBackends;
  private readonly idleTimeoutMs: number;
  private readonly streamCreationTimeoutMs: number;
  /** The subprotocol negotiated for a WebSocket upgrade in flight ('' = none). */
  private readonly wsProtocols = new WeakMap<http.IncomingMessage, string>();
  private wssInstance: WebSocketServer | undefined;
  private readonly live = new Set<LiveConnection>();
  private baseUrl = '';
  private readonly onSession: StreamingServerOptions['onSession'];

  private constructor(options: StreamingServerOptions) {
    this.logger = options.logger;
    this.onSession = options.onSession;
    this.backends = options.backends;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.streamCreationTimeoutMs = options.streamCreationTimeoutMs ?? DEFAULT_STREAM_CREATION_TIMEOUT_MS;
    const cacheOptions: { ttlMs?: number; maxInFlight?: number } = {};
    if (options.tokenTtlMs !== undefined) cacheOptions.ttlMs = options.tokenTtlMs;
    if (options.maxInFlight !== undefined) cacheOptions.maxInFlight = options.maxInFlight;
    this.cache = new RequestCache(cacheOptions);
    this.server = options.tls
      ? https.createServer({
        cert: options.tls.cert, key: options.tls.key,
        ...(options.tls.ca ? { ca: options.tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
      })
      : http.createServer();
    this.server.on('request', (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.server.on('clientError', (err, socket) => {
      this.logger.debug({ err }, 'streaming: bad HTTP request');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  /** Starts listening; resolves once the port is bound. */
  static async start(options: StreamingServerOptions): Promise<StreamingServer> {
    const server = new StreamingServer(options);
    const address = options.address ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.server.listen(options.port ?? 0, address, () => {
        server.server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      throw errors.unavailable(`streaming server: cannot listen on ${address}:${options.port ?? 0}: ${(err as Error).message}`);
    });
    const bound = server.server.address() as AddressInfo;
    let host = options.advertiseAddress ?? bound.address;
    if (!options.advertiseAddress && (host === '0.0.0.0' || host === '::')) host = '127.0.0.1';
    if (host.includes(':')) host = `[${host}]`;
    server.baseUrl = `${options.tls ? 'https' : 'http'}://${host}:${bound.port}`;
    server.logger.info({ url: server.baseUrl }, 'streaming server listening');
    return server;
  }

  /** The server's base URL, e.g. http://127.0.0.1:39113. */
  get url(): string {
    return this.baseUrl;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /**
   * Registers an Exec RPC; returns the URL for ExecResponse.url. Throws
   * INVALID_ARGUMENT for requests the kubelet's streaming server refuses (empty
   * cmd or container id, tty with stderr, no stream at all) and RESOURCE_EXHAUSTED
   * when too many requests wait for their client.
   */
  execUrl(request: ExecRequest): string {
    if (request.cmd.length === 0) throw errors.missingField('cmd');
    validateStreams(request);
    return this.register({ kind: 'exec', request: { ...request, cmd: [...request.cmd] } });
  }

  /** Registers an Attach RPC; returns the URL for AttachResponse.url (same checks as execUrl). */
  attachUrl(request: AttachRequest): string {
    validateStreams(request);
    return this.register({ kind: 'attach', request: { ...request } });
  }

  /** Registers a PortForward RPC; returns the URL for PortForwardResponse.url. */
  portForwardUrl(request: PortForwardRequest): string {
    if (request.podSandboxId === '') throw errors.missingField('pod_sandbox_id');
    return this.register({ kind: 'portforward', request: { ...request } });
  }

  /** Stops listening and closes every session (their backends see their abort signal). */
  async stop(): Promise<void> {
    for (const conn of [...this.live]) conn.close();
    this.live.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    this.wssInstance?.close();
  }

  /** Sessions currently open (for tests and status). */
  get activeSessions(): number {
    return this.live.size;
  }

  private register(request: StreamingRequest): string {
    const backendFor: Record<StreamingKind, unknown> = {
      exec: this.backends.exec, attach: this.backends.attach, portforward: this.backends.portForward,
    };
    if (!backendFor[request.kind]) throw errors.unimplemented(`streaming ${request.kind}`);
    const token = this.cache.insert(request);
    return `${this.baseUrl}/${request.kind}/${token}`;
  }

  /** Looks up the token of a request's path (consuming it). */
  private lookup(req: http.IncomingMessage): { kind: StreamingKind; request: StreamingRequest; url: URL } | undefined {
    const url = new URL(req.url ?? '/', 'http://streaming.invalid');
    const m = ROUTE.exec(url.pathname);
    if (!m) return undefined;
    const kind = m[1] as StreamingKind;
    const request = this.cache.consume(m[2]!);
    if (!request || request.kind !== kind) return undefined;
    return { kind, request, url };
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const found = this.lookup(req);
    if (!found) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' })
      .end('unable to upgrade: missing upgrade headers in request\n');
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (err: Error) => this.logger.debug({ err }, 'streaming: connection error'));
    const found = this.lookup(req);
    if (!found) {
      rejectUpgrade(socket, 404, 'Not Found', '404 page not found\n');
      return;
    }
    const upgrade = (req.headers.upgrade ?? '').toLowerCase();
    const log = this.logger.child({ kind: found.kind, remote: req.socket.remoteAddress });
    if (upgrade === 'websocket') this.upgradeWebSocket(req, socket, head, found.request, found.url, log);
    else if (upgrade === 'spdy/3.1') this.upgradeSpdy(req, socket, head, found.request, log);
    else rejectUpgrade(socket, 400, 'Bad Request', `unable to upgrade: unsupported protocol ${JSON.stringify(req.headers.upgrade ?? '')}\n`);
  }

  private track(socket: Duplex, conn: LiveConnection, kind: string, protocol: string): void {
    this.live.add(conn);
    const ended = this.onSession?.(kind, protocol);
    socket.once('close', () => { this.live.delete(conn); ended?.(); });
    if (this.idleTimeoutMs > 0 && 'setTimeout' in socket && typeof socket.setTimeout === 'function') {
      const s = socket as Duplex & { setTimeout(ms: number, cb?: () => void): unknown };
      s.setTimeout(this.idleTimeoutMs, () => {
        this.logger.info({ idleTimeoutMs: this.idleTimeoutMs }, 'streaming: closing an idle connection');
        conn.close();
        socket.destroy();
      });
    }
  }

  private upgradeSpdy(req: http.IncomingMessage, socket: Duplex, head: Buffer, request: StreamingRequest, log: Logger): void {
    const supported = request.kind === 'portforward' ? SPDY_PORTFORWARD_PROTOCOLS : SPDY_REMOTECOMMAND_PROTOCOLS;
    const offered = headerList(req.headersDistinct['x-stream-protocol-version']);
    const protocol = negotiateProtocol(offered, supported);
    if (protocol === undefined) {
      rejectUpgrade(socket, 403, 'Forbidden',
        `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(offered)}, server accepts ${JSON.stringify(supported)}\n`,
        supported.map((p) => `X-Accepted-Stream-Protocol-Versions: ${p}`));
      return;
    }
    socket.write([
      'HTTP/1.1 101 Switching Protocols',
      'Connection: Upgrade',
      'Upgrade: SPDY/3.1',
      ...(protocol ? [`X-Stream-Protocol-Version: ${protocol}`] : []),
      '', '',
    ].join('\r\n'));
    log.debug({ protocol }, 'streaming: SPDY session');
    const common = { backends: this.backends, logger: log, streamCreationTimeoutMs: this.streamCreationTimeoutMs };
    const session = request.kind === 'portforward'
      ? sessions.portForwardSpdy().servePortForwardOverSpdy(socket, head, { ...common, request: request.request })
      : sessions.remoteCommandSpdy().serveRemoteCommandOverSpdy(socket, head, { ...common, protocol, target: request });
    const conn = { close: () => session.destroy() };
    this.track(socket, conn, request.kind, protocol || 'SPDY/3.1');
    session.once('close', () => this.live.delete(conn));
  }

  private get wss(): WebSocketServer {
    this.wssInstance ??= new (sessions.ws().WebSocketServer)({
      noServer: true, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024,
      handleProtocols: (_offered, req) => this.wsProtocols.get(req) || false,
    });
    return this.wssInstance;
  }

  private upgradeWebSocket(req: http.IncomingMessage, socket: Duplex, head: Buffer, request: StreamingRequest, url: URL, log: Logger): void {
    const supported = request.kind === 'portforward' ? WS_PORTFORWARD_PROTOCOLS : WS_REMOTECOMMAND_PROTOCOLS;
    const offered = headerList(req.headersDistinct['sec-websocket-protocol']);
    const protocol = negotiateProtocol(offered, supported);
    if (protocol === undefined) {
      rejectUpgrade(socket, 403, 'Forbidden',
        `requested protocol(s) are not supported: ${JSON.stringify(offered)}; supports ${JSON.stringify(supported)}\n`);
      return;
    }
    let ports: number[] = [];
    if (request.kind === 'portforward') {
      // Ports from the URL (`ports`, or `port` as the API server names them), else the RPC's.
      const raw = [...url.searchParams.getAll('ports'), ...url.searchParams.getAll('port')].flatMap((v) => v.split(',')).filter((v) => v !== '');
      ports = raw.length > 0 ? raw.map((v) => parsePort(v) ?? -1) : [...(request.request as PortForwardRequest).ports ?? []];
      if (ports.length === 0 || ports.includes(-1)) {
        rejectUpgrade(socket, 400, 'Bad Request', `port-forward needs ports (1-65535) in the URL ("ports"/"port") or the PortForward request, got ${JSON.stringify(raw)}\n`);
        return;
      }
    }
    this.wsProtocols.set(req, protocol);
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      log.debug({ protocol }, 'streaming: WebSocket session');
      const conn = { close: () => ws.terminate() };
      this.track(socket, conn, request.kind, protocol);
      ws.once('close', () => this.live.delete(conn));
      if (request.kind === 'portforward') {
        sessions.portForwardWebSocket().servePortForwardOverWebSocket(ws, { request: request.request, ports, protocol, backends: this.backends, logger: log });
      } else {
        sessions.remoteCommandWebSocket().serveRemoteCommandOverWebSocket(ws, { target: request, protocol, backends: this.backends, logger: log });
      }
    });
  }
}

/** The checks of the kubelet's cri-streaming server (validateExecRequest/validateAttachRequest). */
function validateStreams(request: ExecRequest | AttachRequest): void {
  if (request.containerId === '') throw errors.missingField('container_id');
  if (request.tty && request.stderr) throw errors.invalidArgument('tty and stderr cannot both be true');
  if (!request.stdin && !request.stdout && !request.stderr) {
    throw errors.invalidArgument('one of stdin, stdout, or stderr must be set');
  }
}

function rejectUpgrade(socket: Duplex, status: number, reason: string, body: string, extraHeaders: string[] = []): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end([
    `HTTP/1.1 ${status} ${reason}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...extraHeaders,
    '', body,
  ].join('\r\n'));
}
