// The inspection API (as cri-o's /info, /containers/{id}, /config): read-only JSON
// over HTTP on a root-only unix socket, for `cradled status` and for operators
// (`curl --unix-socket /run/cradle/inspect.sock http://x/info`).
import { StateLayout } from '../common/state-layout';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { CradleConfig } from '../config/schema';
import type { Logger } from '../common/logger';
import { isCradleError, messageOf } from '../common/errors';
import { renderConfigToml } from '../config/render';

/** What the inspection API shows; each subsystem adds its documents as it lands. */
export interface InspectSource {
  info(): Record<string, unknown>;
  config(): { config: CradleConfig; sources: string[] };
  /** Extra collections by name ("pods", "containers", "images", "conmon"). */
  collections(): Record<string, () => unknown[]>;
  /** One item by collection and id, or undefined. */
  item(collection: string, id: string): unknown;
}

export function inspectSocketPath(config: CradleConfig): string {
  return config.api.inspect_socket || StateLayout.of(config).inspectSocket;
}

/**
 * The V8 heap after a full garbage collection (a pause of tens of ms), for telling a
 * leak of live objects from garbage not yet collected (nodejs_heap_size_used_bytes
 * counts both). gc() is taken from a fresh context once --expose-gc is set.
 */
function heapAfterFullGc(): Record<string, number> {
  // Loaded here: the daemon's start does without them.
  const v8 = require('node:v8') as typeof import('node:v8');
  const vm = require('node:vm') as typeof import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
  const heap = v8.getHeapStatistics();
  return {
    usedHeapBytes: heap.used_heap_size, totalHeapBytes: heap.total_heap_size,
    externalBytes: heap.external_memory, mallocedBytes: heap.malloced_memory, rssBytes: process.memoryUsage.rss(),
  };
}

export class InspectServer {
  private server: http.Server | undefined;

  constructor(private readonly source: InspectSource, private readonly socketPath: string, private readonly log: Logger) {}

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://cradle');
    const send = (status: number, body: unknown, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type }).end(type === 'application/json' ? JSON.stringify(body, null, 2) + '\n' : String(body));
    };
    if (req.method !== 'GET') return send(405, { error: 'only GET' });
    const parts = url.pathname.split('/').filter(Boolean);
    try {
      if (parts.length === 1 && parts[0] === 'info') return send(200, this.source.info());
      if (parts.length === 2 && parts[0] === 'debug' && parts[1] === 'heap') return send(200, heapAfterFullGc());
      if (parts.length === 1 && parts[0] === 'config') {
        const { config, sources } = this.source.config();
        return url.searchParams.get('format') === 'json' ? send(200, config) : send(200, renderConfigToml(config, sources), 'text/plain');
      }
      const collections = this.source.collections();
      if (parts.length === 1 && collections[parts[0]!]) return send(200, collections[parts[0]!]!());
      if (parts.length === 2 && collections[parts[0]!]) {
        const item = this.source.item(parts[0]!, decodeURIComponent(parts[1]!));
        return item === undefined ? send(404, { error: `${parts[0]} ${parts[1]} not found` }) : send(200, item);
      }
      return send(404, { error: 'not found', paths: ['/info', '/config', '/debug/heap', ...Object.keys(collections).map((c) => `/${c}`), ...Object.keys(collections).map((c) => `/${c}/{id}`)] });
    } catch (err) {
      this.log.error({ error: messageOf(err), path: url.pathname }, 'inspect request failed');
      return send(isCradleError(err) && err.kind === 'not-found' ? 404 : 500, { error: messageOf(err) });
    }
  }

  async start(): Promise<void> {
    await fs.promises.mkdir(path.dirname(this.socketPath), { recursive: true, mode: 0o755 });
    await fs.promises.rm(this.socketPath, { force: true });
    const server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Root only: created 0600 by the umask, then chmod for certainty.
      const oldMask = process.umask(0o177);
      server.listen(this.socketPath, () => {
        process.umask(oldMask);
        server.off('error', reject);
        resolve();
      });
    });
    await fs.promises.chmod(this.socketPath, 0o600);
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await fs.promises.rm(this.socketPath, { force: true });
  }
}

/** GET a path from the inspection socket (used by `cradled status`). */
export function inspectGet(socketPath: string, urlPath: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: urlPath, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${socketPath} within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
