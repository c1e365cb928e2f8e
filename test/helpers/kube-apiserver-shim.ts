// A test-only stand-in for the Kubernetes API server, just enough for kubectl
// exec/attach/port-forward and @kubernetes/client-node: discovery, GET of a
// running pod, and the pods/{exec,attach,portforward} subresources. Those it
// handles as the kubelet does for a CRI runtime: it asks cradle's streaming
// server for a URL (the Exec/Attach/PortForward RPC) and proxies the upgrade
// request, byte for byte, to that URL.
import http from 'node:http';
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { StreamingServer } from '../../src/streaming/server';

/**
 * Where URLs come from: the streaming server itself (protocol tests), or cradled's
 * Exec/Attach/PortForward RPCs (end-to-end tests), as the kubelet gets them.
 */
export type UrlSource = {
  [K in 'execUrl' | 'attachUrl']: (request: Parameters<StreamingServer[K]>[0]) => string | Promise<string>;
} & {
  /** `port`: the ports of the API request, which the kubelet puts in PortForwardRequest.port. */
  portForwardUrl: (request: Parameters<StreamingServer['portForwardUrl']>[0] & { port?: number[] }) => string | Promise<string>;
};

/** Maps the API path's namespace/pod/container to runtime ids (default: "ns/pod/container" and "ns/pod"). */
export type PodResolver = (namespace: string, pod: string, container: string) => { containerId: string; podSandboxId: string };

export interface ApiShim {
  url: string;
  /** Writes a kubeconfig for this shim into dir; returns its path. */
  writeKubeconfig(dir: string): Promise<string>;
  /** Requests proxied so far, by subresource. */
  proxied: { kind: string; query: URLSearchParams }[];
  close(): Promise<void>;
}

const POD_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)(?:\/(exec|attach|portforward))?$/;

function pod(namespace: string, name: string): object {
  return {
    kind: 'Pod', apiVersion: 'v1',
    metadata: { name, namespace, uid: '00000000-0000-0000-0000-000000000001', resourceVersion: '1' },
    spec: { containers: [{ name: 'main', image: 'busybox', stdin: true }] },
    status: {
      phase: 'Running',
      containerStatuses: [{ name: 'main', ready: true, restartCount: 0, image: 'busybox', imageID: '', state: { running: {} } }],
    },
  };
}

const RESOURCES = {
  kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'v1',
  resources: [
    { name: 'pods', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'] },
    { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
    { name: 'pods/attach', singularName: '', namespaced: true, kind: 'PodAttachOptions', verbs: ['create', 'get'] },
    { name: 'pods/portforward', singularName: '', namespaced: true, kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
  ],
};

function register(kind: string, q: URLSearchParams, containerId: string, podSandboxId: string, streaming: UrlSource): string | Promise<string> {
  const flag = (name: string): boolean => q.get(name) === 'true' || q.get(name) === '1';
  // As the kubelet: with a tty, stderr is merged into stdout.
  const stderr = flag('stderr') && !flag('tty');
  if (kind === 'exec') {
    return streaming.execUrl({ containerId, cmd: q.getAll('command'), tty: flag('tty'), stdin: flag('stdin'), stdout: flag('stdout'), stderr });
  }
  if (kind === 'attach') {
    return streaming.attachUrl({ containerId, tty: flag('tty'), stdin: flag('stdin'), stdout: flag('stdout'), stderr });
  }
  // As the kubelet: the ports of the API request go into the CRI PortForward request too.
  const port = q.getAll('ports').flatMap((v) => v.split(',')).filter((v) => v !== '').map(Number);
  return streaming.portForwardUrl({ podSandboxId, port });
}

export interface ApiShimOptions {
  /**
   * Query parameter naming the ports on the proxied port-forward request: the real API
   * server sends `port` (api.PortHeader, comma-joined; the kubelet streaming server reads
   * it); `ports` (default) is what cradle's streaming server reads.
   */
  portForwardQuery?: 'port' | 'ports';
}

export async function startApiShim(streaming: UrlSource, resolve?: PodResolver, options: ApiShimOptions = {}): Promise<ApiShim> {
  const proxied: ApiShim['proxied'] = [];
  const sockets = new Set<Duplex>();

  const json = (res: http.ServerResponse, body: object, status = 200): void => {
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://shim');
    if (url.pathname === '/api') return json(res, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
    if (url.pathname === '/apis') return json(res, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    if (url.pathname === '/api/v1') return json(res, RESOURCES);
    if (url.pathname === '/version') return json(res, { major: '1', minor: '20', gitVersion: 'v1.20.2' });
    const m = POD_PATH.exec(url.pathname);
    if (m && !m[3] && req.method === 'GET') return json(res, pod(m[1]!, m[2]!));
    json(res, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `shim: no route for ${req.method} ${url.pathname}`, code: 404 }, 404);
  });

  server.on('upgrade', (req: http.IncomingMessage, client: Duplex, head: Buffer) => void (async () => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://shim');
    const m = POD_PATH.exec(url.pathname);
    if (!m || !m[3]) {
      client.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const kind = m[3];
    const q = url.searchParams;
    proxied.push({ kind, query: q });
    const ids = resolve ? resolve(m[1]!, m[2]!, q.get('container') ?? 'main')
      : { containerId: `${m[1]}/${m[2]}/${q.get('container') ?? 'main'}`, podSandboxId: `${m[1]}/${m[2]}` };
    let target: string;
    try {
      target = await register(kind, q, ids.containerId, ids.podSandboxId, streaming);
    } catch (err) {
      const body = (err as Error).message;
      client.end(`HTTP/1.1 400 Bad Request\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    // The kubelet's proxy: replay the request line and headers to the streaming URL, then splice.
    const t = new URL(target);
    if (kind === 'portforward' && q.has('ports')) t.search = `?${options.portForwardQuery ?? 'ports'}=${q.getAll('ports').join(',')}`;
    const upstream = net.connect({ host: t.hostname, port: Number(t.port) });
    sockets.add(upstream);
    upstream.on('close', () => { sockets.delete(upstream); client.destroy(); });
    client.on('close', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    const lines = [`${req.method} ${t.pathname}${t.search} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!;
      lines.push(`${name}: ${name.toLowerCase() === 'host' ? t.host : req.rawHeaders[i + 1]}`);
    }
    upstream.write(lines.join('\r\n') + '\r\n\r\n');
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  })());

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    url,
    proxied,
    async writeKubeconfig(dir: string): Promise<string> {
      const file = path.join(dir, 'kubeconfig');
      await writeFile(file, [
        'apiVersion: v1', 'kind: Config', 'current-context: shim', 'preferences: {}',
        'clusters:', '- name: shim', '  cluster:', `    server: ${url}`,
        'users:', '- name: shim', '  user: {}',
        'contexts:', '- name: shim', '  context:', '    cluster: shim', '    user: shim', '    namespace: default',
        '',
      ].join('\n'));
      return file;
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
