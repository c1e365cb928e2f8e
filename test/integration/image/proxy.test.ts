// Pulls through an HTTP proxy written here (CONNECT tunnels for https, absolute-URI
// requests for http), counting what it forwards. Go's rules (which cradle follows)
// never proxy loopback hosts, so the registry is named registry.test: only the
// proxy resolves that name (to 127.0.0.1), cradle never does.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import type { AddressInfo } from 'node:net';
import { startFixtureRegistry, type FixtureRegistry } from '../../helpers/registry';
import { startRegistryProxy, type RegistryProxy } from '../../helpers/registry-proxy';
import { makeTestCertificates } from '../../helpers/tls-cert';
import { entry, pushImage, type PushedImage } from '../../helpers/image-builder';
import { errors } from '../../../src/common/errors';
import { newService, registriesConf, sweepStale } from './setup';

const FAKE_HOST = 'registry.test';

interface ForwardProxy {
  url: string;
  connects: string[];
  requests: string[];
  /** Answer CONNECT with this status instead of tunnelling. */
  refuseConnect?: number;
  authorizations: string[];
  stop(): Promise<void>;
}

/** host:port as the proxy resolves it: registry.test is 127.0.0.1. */
function resolve(authority: string): { host: string; port: number } {
  const colon = authority.lastIndexOf(':');
  const host = authority.slice(0, colon);
  return { host: host === FAKE_HOST ? '127.0.0.1' : host, port: Number(authority.slice(colon + 1)) };
}

async function startForwardProxy(): Promise<ForwardProxy> {
  const sockets = new Set<net.Socket>();
  const proxy: ForwardProxy = { url: '', connects: [], requests: [], authorizations: [], stop: async () => undefined };
  const server = http.createServer((req, res) => {
    proxy.requests.push(`${req.method} ${req.url}`);
    if (req.headers['proxy-authorization']) proxy.authorizations.push(req.headers['proxy-authorization']);
    const target = new URL(req.url ?? '');
    const { host, port } = resolve(`${target.hostname}:${target.port || 80}`);
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const upstream = http.request({ host, port, method: req.method, path: `${target.pathname}${target.search}`, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    proxy.connects.push(req.url ?? '');
    if (req.headers['proxy-authorization']) proxy.authorizations.push(req.headers['proxy-authorization']);
    if (proxy.refuseConnect !== undefined) {
      client.end(`HTTP/1.1 ${proxy.refuseConnect} Forbidden\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    const { host, port } = resolve(req.url ?? '');
    const upstream = net.connect(port, host, () => {
      client.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.stop = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((ok) => server.close(() => ok()));
  };
  return proxy;
}

let registry: FixtureRegistry;
let tlsFront: RegistryProxy;
let pushed: PushedImage;
let forward: ForwardProxy;

before(async () => {
  sweepStale();
  registry = await startFixtureRegistry();
  pushed = await pushImage(registry, 'proxied/app:v1', { layers: [{ entries: [entry.file('a', 'a')] }, { entries: [entry.file('b', 'b')] }] });
  const certDir = fs.mkdtempSync(`${os.tmpdir()}/cradle-test-image-certs-`);
  const certs = makeTestCertificates(certDir);
  fs.rmSync(certDir, { recursive: true, force: true });
  tlsFront = await startRegistryProxy(registry, { kind: 'none' }, {}, { key: certs.serverKey, cert: certs.serverCert });
  forward = await startForwardProxy();
});
after(async () => {
  await forward?.stop();
  await tlsFront?.stop();
  await registry?.stop();
});

function port(host: string): string {
  return host.slice(host.lastIndexOf(':') + 1);
}

function reset(): void {
  forward.connects.length = 0;
  forward.requests.length = 0;
  forward.authorizations.length = 0;
  delete forward.refuseConnect;
}

test('https through HTTPS_PROXY: CONNECT tunnels with TLS to the registry inside', async (t) => {
  reset();
  const host = `${FAKE_HOST}:${port(tlsFront.host)}`;
  // insecure: the test certificate names 127.0.0.1, not registry.test; TLS still runs end to end.
  const { service } = newService(t, registriesConf([host]), {
    proxyEnv: { HTTPS_PROXY: forward.url.replace('http://', 'http://user:secret@') },
  });
  const image = await service.pull(`${host}/proxied/app:v1`);
  assert.equal(image.id, pushed.configDigest);
  assert.ok(forward.connects.length >= 1 && forward.connects.every((c) => c === host), `CONNECT ${host}: ${forward.connects.join(', ')}`);
  assert.deepEqual(forward.requests, [], 'nothing in clear text');
  assert.ok(tlsFront.blobGets(pushed.layers[0]!.digest) >= 1, 'the blobs came from the registry through the tunnel');
  assert.ok(forward.authorizations.every((a) => a === `Basic ${Buffer.from('user:secret').toString('base64')}`) && forward.authorizations.length > 0);
});

test('http through HTTP_PROXY: absolute-URI requests', async (t) => {
  reset();
  const host = `${FAKE_HOST}:${port(registry.host)}`;
  // HTTPS is tried first (insecure registries fall back to HTTP): a tunnel is opened, TLS fails against plain HTTP.
  const { service } = newService(t, registriesConf([host]), { proxyEnv: { HTTPS_PROXY: forward.url, http_proxy: forward.url } });
  const image = await service.pull(`${host}/proxied/app:v1`);
  assert.equal(image.id, pushed.configDigest);
  assert.ok(forward.requests.includes(`GET http://${host}/v2/proxied/app/manifests/v1`), forward.requests.join('\n'));
  assert.ok(forward.requests.some((r) => r === `GET http://${host}/v2/proxied/app/blobs/${pushed.layers[1]!.digest}`));
});

test('NO_PROXY excludes a registry; loopback registries are never proxied', async (t) => {
  reset();
  const host = `${FAKE_HOST}:${port(registry.host)}`;
  const env = { HTTPS_PROXY: forward.url, HTTP_PROXY: forward.url };
  const excluded = newService(t, registriesConf([host]), { proxyEnv: { ...env, NO_PROXY: `other.example,.test:${port(registry.host)}` } });
  // Excluded, cradle resolves registry.test itself, which nothing can.
  await assert.rejects(excluded.service.pull(`${host}/proxied/app:v1`), (err: unknown) => errors.registry.is(err) && /registry\.test/.test(err.message));
  assert.deepEqual([...forward.connects, ...forward.requests], [], 'the proxy saw nothing');

  const loopback = newService(t, registriesConf([registry.host]), { proxyEnv: env });
  assert.equal((await loopback.service.pull(`${registry.host}/proxied/app:v1`)).id, pushed.configDigest);
  assert.deepEqual([...forward.connects, ...forward.requests], [], '127.0.0.1 goes direct');

  // A non-loopback address of this host reaches the registry directly when NO_PROXY names its network.
  const address = Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  if (!address) {
    t.diagnostic('no non-loopback IPv4 address: the CIDR case is skipped');
    return;
  }
  const relayed = new Set<net.Socket>();
  const relay = net.createServer((c) => {
    const up = net.connect(Number(port(registry.host)), '127.0.0.1');
    relayed.add(c).add(up);
    c.pipe(up).pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
  });
  await new Promise<void>((ok) => relay.listen(0, address, ok));
  t.after(() => new Promise<void>((ok) => {
    relay.close(() => ok());
    for (const s of relayed) s.destroy();
  }));
  const direct = `${address}:${(relay.address() as AddressInfo).port}`;
  const byCidr = newService(t, registriesConf([direct]), { proxyEnv: { ...env, NO_PROXY: `${address.split('.').slice(0, 3).join('.')}.0/24` } });
  assert.equal((await byCidr.service.pull(`${direct}/proxied/app:v1`)).id, pushed.configDigest);
  assert.deepEqual([...forward.connects, ...forward.requests], [], 'NO_PROXY CIDR: direct');
  const proxied = newService(t, registriesConf([direct]), { proxyEnv: env });
  assert.equal((await proxied.service.pull(`${direct}/proxied/app:v1`)).id, pushed.configDigest);
  assert.ok(forward.requests.length > 0, 'without NO_PROXY the same address goes through the proxy');
});

test('a proxy refusing CONNECT fails the pull with a clear error', async (t) => {
  reset();
  forward.refuseConnect = 403;
  const host = `${FAKE_HOST}:${port(tlsFront.host)}`;
  const { service } = newService(t, '', { proxyEnv: { HTTPS_PROXY: forward.url } });
  await assert.rejects(service.pull(`${host}/proxied/app:v1`), (err: unknown) => {
    assert.ok(errors.registry.is(err), String(err));
    assert.match(err.message, new RegExp(`proxy ${forward.url.replace(/[.]/g, '\\.')} refused CONNECT registry\\.test:\\d+: HTTP 403`));
    return true;
  });
  assert.equal(forward.connects.length, 1, 'refused once, not retried in a loop');
});
