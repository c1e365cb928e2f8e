// Serves GET /metrics over HTTP (or HTTPS with a cert and key) on host:port, and
// also on a unix socket when configured.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../common/logger';
import { messageOf } from '../common/errors';
import type { CradleMetrics } from './registry';

export interface MetricsServerOptions {
  host: string;
  port: number;
  socket: string;
  tlsCert: string;
  tlsKey: string;
  log: Logger;
}

export class MetricsServer {
  private readonly servers: http.Server[] = [];

  constructor(private readonly metrics: CradleMetrics, private readonly options: MetricsServerOptions) {}

  private handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://metrics');
    if (req.method !== 'GET' || url.pathname !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
      return;
    }
    this.metrics.render().then(
      (body) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(body),
      (err: unknown) => {
        this.options.log.error({ error: messageOf(err) }, 'rendering metrics failed');
        res.writeHead(500).end();
      },
    );
  };

  async start(): Promise<void> {
    const { host, port, socket, tlsCert, tlsKey } = this.options;
    const make = () => (tlsCert && tlsKey
      ? https.createServer({ cert: fs.readFileSync(tlsCert), key: fs.readFileSync(tlsKey) }, this.handler)
      : http.createServer(this.handler));
    const tcp = make();
    await listen(tcp, () => tcp.listen(port, host));
    this.servers.push(tcp);
    this.options.log.info({ address: `${host}:${(tcp.address() as AddressInfo).port}`, tls: Boolean(tlsCert) }, 'metrics server listening');
    if (socket) {
      await fs.promises.rm(socket, { force: true });
      const unix = make();
      await listen(unix, () => unix.listen(socket));
      await fs.promises.chmod(socket, 0o660);
      this.servers.push(unix);
    }
  }

  /** The TCP port actually bound (useful with port 0). */
  get port(): number {
    return (this.servers[0]?.address() as AddressInfo | null)?.port ?? 0;
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    })));
    this.servers.length = 0;
    if (this.options.socket) await fs.promises.rm(this.options.socket, { force: true });
  }
}

function listen(server: http.Server, start: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve();
    });
    start();
  });
}
