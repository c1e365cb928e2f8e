// A small HTTP proxy on 127.0.0.1 in front of the fixture registry, for image
// tests: it adds Basic or Bearer auth (with its own token endpoint), counts
// requests, and injects faults (corrupted or truncated blobs, stalls, 404s,
// redirects) so the client's behaviour can be observed against a real registry.
import * as http from 'node:http';
import * as https from 'node:https';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { RegistryTarget } from './registry';

export type ProxyAuth =
  | { kind: 'none' }
  | { kind: 'basic'; username: string; password: string }
  /** Tokens from GET/POST <proxy>/token; `staticToken` is also accepted (a kubelet registry token). */
  | { kind: 'bearer'; username: string; password: string; refreshToken?: string; staticToken?: string };

export interface ProxyFaults {
  /** Blobs whose body gets one byte flipped (same length). */
  corruptBlobs?: Set<string>;
  /** Blobs whose first response is cut after this many bytes (the connection is destroyed). */
  truncateBlobsOnce?: Map<string, number>;
  /** Blobs whose body stalls (headers and `afterBytes` bytes, then nothing). */
  stallBlobs?: Map<string, number>;
  /** Every /v2/<repo>/... request gets 404 (a mirror without the image). */
  notFound?: boolean;
  /** Blob GETs answer 307 to /_redirect/... on the proxy itself. */
  redirectBlobs?: boolean;
  /** Blobs whose GETs drop the Range header (the whole blob comes back, 200). */
  ignoreRangeBlobs?: Set<string>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  range?: string;
  authorization?: string;
}

export interface RegistryProxy extends RegistryTarget {
  requests: RecordedRequest[];
  faults: ProxyFaults;
  /** GET requests for one blob digest (redirect hops not counted twice). */
  blobGets(digest: string): number;
  manifestGets(): number;
  tokenRequests(): number;
  reset(): void;
  stop(): Promise<void>;
}

/** Serve HTTPS with this key and certificate (PEM) instead of plain HTTP. */
export interface ProxyTls {
  key: string;
  cert: string;
}

export async function startRegistryProxy(upstream: RegistryTarget, auth: ProxyAuth = { kind: 'none' }, faults: ProxyFaults = {}, tls?: ProxyTls): Promise<RegistryProxy> {
  const scheme = tls ? 'https' : 'http';
  const requests: RecordedRequest[] = [];
  const tokens = new Set<string>();
  if (auth.kind === 'bearer' && auth.staticToken) tokens.add(auth.staticToken);
  const upstreamUrl = new URL(upstream.url);
  const sockets = new Set<import('node:net').Socket>();
  let self = '';

  const handler: http.RequestListener = (req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname };
    if (req.headers.range) recorded.range = req.headers.range;
    if (req.headers.authorization) recorded.authorization = req.headers.authorization;
    requests.push(recorded);

    if (url.pathname === '/token') {
      void handleToken(req, res, url);
      return;
    }
    let upstreamPath = url.pathname + url.search;
    if (url.pathname.startsWith('/_redirect/')) upstreamPath = url.pathname.slice('/_redirect'.length);
    else if (!authorized(req, res, url.pathname)) return;

    if (faults.notFound && upstreamPath.startsWith('/v2/') && upstreamPath !== '/v2/') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'not on this mirror' }] }));
      return;
    }
    const blob = /\/blobs\/(sha256:[a-f0-9]{64})$/.exec(upstreamPath)?.[1];
    if (blob && faults.redirectBlobs && !url.pathname.startsWith('/_redirect/')) {
      res.writeHead(307, { location: `/_redirect${upstreamPath}` });
      res.end();
      return;
    }
    const headers = { ...req.headers, host: upstreamUrl.host };
    delete headers.authorization;
    if (blob && faults.ignoreRangeBlobs?.has(blob)) delete headers.range;
    const up = http.request({ host: upstreamUrl.hostname, port: upstreamUrl.port, method: req.method, path: upstreamPath, headers }, (upRes) => {
      const outHeaders = { ...upRes.headers };
      res.writeHead(upRes.statusCode ?? 502, outHeaders);
      if (blob && faults.stallBlobs?.has(blob)) {
        const after = faults.stallBlobs.get(blob)!;
        let sent = 0;
        upRes.on('data', (chunk: Buffer) => {
          if (sent >= after) return;
          const part = chunk.subarray(0, after - sent);
          sent += part.length;
          res.write(part);
        });
        return; // never ends
      }
      if (blob && faults.truncateBlobsOnce?.has(blob)) {
        const after = faults.truncateBlobsOnce.get(blob)!;
        faults.truncateBlobsOnce.delete(blob);
        let sent = 0;
        upRes.on('data', (chunk: Buffer) => {
          if (sent >= after) return;
          const part = chunk.subarray(0, after - sent);
          sent += part.length;
          res.write(part, () => {
            if (sent >= after) res.destroy();
          });
        });
        return;
      }
      if (blob && faults.corruptBlobs?.has(blob)) {
        let first = true;
        upRes.on('data', (chunk: Buffer) => {
          if (first && chunk.length > 0) {
            first = false;
            const copy = Buffer.from(chunk);
            copy[copy.length - 1] = copy[copy.length - 1]! ^ 0xff;
            res.write(copy);
          } else {
            res.write(chunk);
          }
        });
        upRes.on('end', () => res.end());
        return;
      }
      upRes.pipe(res);
    });
    up.on('error', (err) => {
      res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(up);
  };
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, handler) : http.createServer(handler);

  function authorized(req: http.IncomingMessage, res: http.ServerResponse, pathname: string): boolean {
    if (auth.kind === 'none') return true;
    const header = req.headers.authorization ?? '';
    if (auth.kind === 'basic') {
      const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
      if (header === expected) return true;
      res.writeHead(401, { 'www-authenticate': 'Basic realm="cradle-test"', 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return false;
    }
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (tokens.has(token)) return true;
    const repo = /^\/v2\/(.+?)\/(manifests|blobs)\//.exec(pathname)?.[1];
    const scope = repo ? `,scope="repository:${repo}:pull"` : '';
    res.writeHead(401, { 'www-authenticate': `Bearer realm="${scheme}://${self}/token",service="cradle-test"${scope}`, 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
    return false;
  }

  async function handleToken(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    if (auth.kind !== 'bearer') {
      res.writeHead(404);
      res.end();
      return;
    }
    let ok = false;
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      ok = form.get('grant_type') === 'refresh_token' && auth.refreshToken !== undefined && form.get('refresh_token') === auth.refreshToken;
    } else {
      const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
      // Anonymous token requests are refused: this registry has no public repositories.
      ok = req.headers.authorization === expected && url.searchParams.get('service') === 'cradle-test';
    }
    if (!ok) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
      return;
    }
    const token = randomBytes(12).toString('hex');
    tokens.add(token);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.method === 'POST' ? { access_token: token, expires_in: 300 } : { token, expires_in: 300 }));
  }

  server.on('connection', (socket: import('node:net').Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  self = `127.0.0.1:${port}`;
  const count = (predicate: (r: RecordedRequest) => boolean) => requests.filter(predicate).length;
  return {
    host: self,
    url: `${scheme}://${self}`,
    requests,
    faults,
    blobGets: (digest) => count((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`) && !r.path.startsWith('/_redirect/')),
    manifestGets: () => count((r) => r.method === 'GET' && r.path.includes('/manifests/')),
    tokenRequests: () => count((r) => r.path === '/token'),
    reset: () => { requests.length = 0; },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
