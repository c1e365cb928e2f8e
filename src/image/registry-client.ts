// OCI distribution client: manifests and blobs over HTTP(S) with the registry auth
// flows (anonymous, Basic, Bearer tokens from WWW-Authenticate), redirects, Range
// resumes, per-host CAs from certs.d and insecure registries (TLS unverified, plain
// HTTP allowed) as registries.conf says; HTTP(S)_PROXY/NO_PROXY as Go reads them
// (proxy.ts).
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { errors, isCradleError, messageOf } from '../common/errors';
import type { LogMethods } from '../common/logger';
import type { BlobBody } from './content-store';
import type { Credentials } from './credentials';
import { readHostCertificates, type PullSource } from './registries-conf';
import { MANIFEST_ACCEPT } from './manifest';
import { absoluteUriOptions, ProxyConfig, TunnelingAgent } from './proxy';

const MAX_MANIFEST_BYTES = 4 << 20;
const MAX_REDIRECTS = 10;
const USER_AGENT = 'cradle/0.1';

export interface RegistryClientOptions {
  /** Per-host certificates (containers-certs.d(5)); undefined disables lookups. */
  certsDir?: string;
  log: LogMethods;
  /** Timeout for manifest and token requests (ms). */
  requestTimeoutMs?: number;
  /** HTTP(S) proxies (default: none). */
  proxy?: ProxyConfig;
}

export interface FetchedManifest {
  bytes: Buffer;
  contentType: string | undefined;
}

interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** What a client learnt of registries' auth (challenges, tokens, plain-HTTP hosts), to hand to another client. */
export interface RegistryAuthState {
  plainHttp: string[];
  tokens: [string, CachedToken][];
  challenges: [string, Challenge][];
}

export class RegistryClient {
  private readonly agents = new Map<string, http.Agent>();
  /** Hosts reached over plain HTTP (insecure ones without TLS). */
  private readonly plainHttp = new Set<string>();
  private readonly tokens = new Map<string, CachedToken>();
  /** What the host asked for last time, so later requests authenticate up front. */
  private readonly challenges = new Map<string, Challenge>();

  constructor(private readonly options: RegistryClientOptions) {}

  /** Drops agents (certificates may have changed) and cached tokens. */
  reset(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
    this.plainHttp.clear();
    this.tokens.clear();
    this.challenges.clear();
  }

  /** The auth state of the given registries (a pull worker's client starts from it). */
  exportAuth(registries: string[]): RegistryAuthState {
    const hosts = new Set(registries.map(endpointHost));
    const now = Date.now();
    return {
      plainHttp: [...this.plainHttp].filter((host) => hosts.has(host)),
      tokens: [...this.tokens].filter(([, token]) => token.expiresAt > now),
      challenges: [...this.challenges].filter(([registry]) => registries.includes(registry)),
    };
  }

  /** Takes over what another client learnt (see exportAuth). */
  importAuth(state: RegistryAuthState): void {
    for (const host of state.plainHttp) this.plainHttp.add(host);
    for (const [key, token] of state.tokens) this.tokens.set(key, token);
    for (const [registry, challenge] of state.challenges) this.challenges.set(registry, challenge);
  }

  async getManifest(source: PullSource, reference: string, credentials: Credentials | undefined, signal?: AbortSignal): Promise<FetchedManifest> {
    const pathname = `/v2/${source.repository}/manifests/${reference}`;
    const res = await this.authorizedRequest(source, 'GET', pathname, { accept: MANIFEST_ACCEPT }, credentials, signal, true);
    const what = `${source.registry}/${source.repository}:${reference}`;
    if (res.statusCode !== 200) throw await this.statusError(res, source, what, 'manifest');
    const declared = Number(res.headers['content-length'] ?? 0);
    if (declared > MAX_MANIFEST_BYTES) {
      res.destroy();
      throw errors.registry(source.registry, `manifest ${what} is ${declared} bytes, more than the ${MAX_MANIFEST_BYTES} allowed`);
    }
    const bytes = await readBody(res, MAX_MANIFEST_BYTES, `manifest ${what}`);
    return { bytes, contentType: res.headers['content-type'] };
  }

  /** A small blob (an image config) read whole, at most `limit` bytes; the caller verifies it. */
  async getBlobBytes(source: PullSource, digest: string, credentials: Credentials | undefined, signal: AbortSignal | undefined, limit: number): Promise<Buffer> {
    const res = await this.authorizedRequest(source, 'GET', `/v2/${source.repository}/blobs/${digest}`, {}, credentials, signal, true);
    const what = `${source.registry}/${source.repository}@${digest}`;
    if (res.statusCode !== 200) throw await this.statusError(res, source, what, 'blob');
    return readBody(res, limit, `blob ${what}`);
  }

  /** Opens a blob body from offset; the caller verifies what it reads. */
  async openBlob(source: PullSource, digest: string, offset: number, credentials: Credentials | undefined, signal: AbortSignal, urls: string[] = []): Promise<BlobBody> {
    const headers: Record<string, string> = {};
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const pathname = `/v2/${source.repository}/blobs/${digest}`;
    const res = await this.authorizedRequest(source, 'GET', pathname, headers, credentials, signal, false);
    if (res.statusCode === 404 && urls.length > 0) {
      res.resume();
      return this.openForeignBlob(urls, headers, offset, signal, `blob ${digest}`);
    }
    if (res.statusCode === 200) return { stream: res, offset: 0 };
    if (res.statusCode === 206 && offset > 0) return { stream: res, offset: contentRangeStart(res) ?? offset };
    throw await this.statusError(res, source, `${source.registry}/${source.repository}@${digest}`, 'blob');
  }

  /** Non-distributable layers the registry does not host come from their descriptor URLs. */
  private async openForeignBlob(urls: string[], headers: Record<string, string>, offset: number, signal: AbortSignal, what: string): Promise<BlobBody> {
    let last: unknown;
    for (const url of urls) {
      if (!/^https?:\/\//.test(url)) continue;
      try {
        const res = await this.send(new URL(url), 'GET', headers, signal, false, 0);
        if (res.statusCode === 200) return { stream: res, offset: 0 };
        if (res.statusCode === 206 && offset > 0) return { stream: res, offset: contentRangeStart(res) ?? offset };
        res.resume();
        last = new Error(`HTTP ${res.statusCode} from ${url}`);
      } catch (err) {
        last = err;
      }
    }
    throw errors.registry(urls[0] ?? '(none)', `${what}: no foreign layer URL worked: ${messageOf(last)}`);
  }

  private async authorizedRequest(source: PullSource, method: string, pathname: string, headers: Record<string, string>,
    credentials: Credentials | undefined, signal: AbortSignal | undefined, timed: boolean): Promise<http.IncomingMessage> {
    const scope = `repository:${source.repository}:pull`;
    const hostKey = source.registry;
    const requestSignal = timed ? withTimeout(signal, this.options.requestTimeoutMs ?? 60_000) : signal;
    let authorization = await this.authorizationFor(source, this.challenges.get(hostKey), scope, credentials, requestSignal, false);
    for (let attempt = 0; ; attempt++) {
      const res = await this.request(source, method, pathname, authorization ? { ...headers, authorization } : headers, requestSignal);
      if (res.statusCode !== 401 || attempt > 0) {
        if (res.statusCode === 401) {
          const message = await errorMessage(res);
          throw errors.registryAuth(source.registry, `${credentials ? 'credentials rejected' : 'the registry requires credentials and none were given'}${message ? `: ${message}` : ''}`);
        }
        return res;
      }
      const challenge = parseChallenge(res.headers['www-authenticate']);
      res.resume();
      if (!challenge) throw errors.registryAuth(source.registry, 'HTTP 401 without a usable WWW-Authenticate challenge');
      this.challenges.set(hostKey, challenge);
      authorization = await this.authorizationFor(source, challenge, scope, credentials, requestSignal, true);
      if (!authorization) throw errors.registryAuth(source.registry, 'the registry requires credentials and none were given');
    }
  }

  private async authorizationFor(source: PullSource, challenge: Challenge | undefined, scope: string,
    credentials: Credentials | undefined, signal: AbortSignal | undefined, refresh: boolean): Promise<string | undefined> {
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      if (credentials?.username === undefined) return undefined;
      return `Basic ${Buffer.from(`${credentials.username}:${credentials.password ?? ''}`).toString('base64')}`;
    }
    if (credentials?.registryToken) return `Bearer ${credentials.registryToken}`;
    const realm = challenge.params.realm;
    if (!realm) throw errors.registryAuth(source.registry, 'Bearer challenge without a realm');
    const service = challenge.params.service ?? '';
    const key = `${realm}|${service}|${scope}|${credentialKey(credentials)}`;
    const cached = this.tokens.get(key);
    if (cached && !refresh && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
    const token = await this.fetchToken(source, realm, service, scope, credentials, signal);
    this.tokens.set(key, token);
    return `Bearer ${token.token}`;
  }

  private async fetchToken(source: PullSource, realm: string, service: string, scope: string,
    credentials: Credentials | undefined, signal: AbortSignal | undefined): Promise<CachedToken> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw errors.registryAuth(source.registry, `token realm ${JSON.stringify(realm)} is not a URL`);
    }
    const insecure = source.insecure && url.host === source.registry;
    let res: http.IncomingMessage;
    try {
      if (credentials?.identityToken) {
        // OAuth2 refresh-token grant, as docker does with an identity token.
        const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credentials.identityToken, service, scope, client_id: 'cradle' });
        res = await this.send(url, 'POST', { 'content-type': 'application/x-www-form-urlencoded' }, signal, insecure, 0, Buffer.from(form.toString()));
      } else {
        if (service) url.searchParams.set('service', service);
        url.searchParams.set('scope', scope);
        const headers: Record<string, string> = {};
        if (credentials?.username !== undefined) {
          headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password ?? ''}`).toString('base64')}`;
        }
        res = await this.send(url, 'GET', headers, signal, insecure, 0);
      }
    } catch (err) {
      if (isCradleError(err)) throw err;
      throw errors.registryAuth(source.registry, `token server ${url.origin}: ${messageOf(err)}`);
    }
    if (res.statusCode !== 200) {
      const message = await errorMessage(res);
      throw errors.registryAuth(source.registry, `token server ${url.origin} answered HTTP ${res.statusCode}${message ? `: ${message}` : ''}`);
    }
    const body = await readBody(res, 1 << 20, 'token response');
    let doc: { token?: string; access_token?: string; expires_in?: number };
    try {
      doc = JSON.parse(body.toString('utf8')) as typeof doc;
    } catch {
      throw errors.registryAuth(source.registry, `token server ${url.origin} sent invalid JSON`);
    }
    const token = doc.token ?? doc.access_token;
    if (!token) throw errors.registryAuth(source.registry, `token server ${url.origin} sent no token`);
    const lifetime = Math.max(60, Number(doc.expires_in) || 60);
    return { token, expiresAt: Date.now() + (lifetime - 10) * 1000 };
  }

  /** A request to the registry itself (scheme per insecure/plain-HTTP state), redirects followed. */
  private async request(source: PullSource, method: string, pathname: string, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<http.IncomingMessage> {
    const host = endpointHost(source.registry);
    if (!this.plainHttp.has(host)) {
      try {
        return await this.send(new URL(`https://${host}${pathname}`), method, headers, signal, source.insecure, 0);
      } catch (err) {
        if (!source.insecure || isCradleError(err) || signal?.aborted) throw this.connectError(host, err, signal);
        this.options.log.debug({ registry: host, err: messageOf(err) }, 'insecure registry: HTTPS failed, trying plain HTTP');
        this.plainHttp.add(host);
      }
    }
    try {
      return await this.send(new URL(`http://${host}${pathname}`), method, headers, signal, true, 0);
    } catch (err) {
      throw this.connectError(host, err, signal);
    }
  }

  private connectError(host: string, err: unknown, signal: AbortSignal | undefined): Error {
    if (isCradleError(err)) return err;
    if (signal?.aborted) {
      const reason: unknown = signal.reason;
      if (isCradleError(reason)) return reason;
      return errors.cancelled(`registry ${host}: request cancelled`);
    }
    return errors.registry(host, `unreachable: ${messageOf(err)}`);
  }

  /** One HTTP exchange, following redirects; Authorization is dropped when the host changes. */
  private send(url: URL, method: string, headers: Record<string, string>, signal: AbortSignal | undefined,
    insecure: boolean, redirects: number, body?: Buffer): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const isHttps = url.protocol === 'https:';
      const proxy = this.options.proxy?.proxyFor(url);
      const options: https.RequestOptions = {
        method,
        headers: { 'user-agent': USER_AGENT, ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        agent: this.agentFor(url, insecure, isHttps ? proxy : undefined),
        ...(signal ? { signal } : {}),
      };
      const onResponse = (res: http.IncomingMessage) => {
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if ([301, 302, 303, 307, 308].includes(status) && location) {
          res.resume();
          if (redirects >= MAX_REDIRECTS) {
            reject(errors.registry(url.host, `too many redirects fetching ${url.pathname}`));
            return;
          }
          const next = new URL(location, url);
          const nextHeaders = { ...headers };
          if (next.host !== url.host) delete nextHeaders.authorization;
          const nextMethod = status === 303 ? 'GET' : method;
          // Redirect targets (blob storage) are verified with the normal CAs unless on the same insecure host.
          const nextInsecure = insecure && next.host === url.host;
          this.send(next, nextMethod, nextHeaders, signal, nextInsecure, redirects + 1, status === 303 ? undefined : body).then(resolve, reject);
          return;
        }
        resolve(res);
      };
      let req: http.ClientRequest;
      if (proxy && !isHttps) {
        // Plain HTTP through a proxy: the whole URL goes to the proxy.
        const viaProxy = absoluteUriOptions(proxy, url, { ...options, agent: this.proxyAgent(proxy) });
        req = viaProxy.module.request(viaProxy.options, onResponse);
      } else {
        req = (isHttps ? https : http).request(url, options, onResponse);
      }
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Keep-alive agent for plain-HTTP requests sent to a proxy. */
  private proxyAgent(proxy: URL): http.Agent {
    const key = `proxy|${proxy.protocol}//${proxy.host}`;
    let agent = this.agents.get(key);
    if (!agent) {
      agent = proxy.protocol === 'https:' ? new https.Agent({ keepAlive: true, maxSockets: 16 }) : new http.Agent({ keepAlive: true, maxSockets: 16 });
      this.agents.set(key, agent);
    }
    return agent;
  }

  private agentFor(url: URL, insecure: boolean, tunnel: URL | undefined): http.Agent {
    const isHttps = url.protocol === 'https:';
    const key = `${url.protocol}//${url.host}|${insecure}${tunnel ? `|via ${tunnel.href}` : ''}`;
    let agent = this.agents.get(key);
    if (agent) return agent;
    if (!isHttps) {
      agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    } else {
      const certs = this.options.certsDir ? readHostCertificates(this.options.certsDir, url.host) : undefined;
      const options: https.AgentOptions = {
        keepAlive: true,
        maxSockets: 16,
        rejectUnauthorized: !insecure,
        ...(certs && certs.ca.length > 0 ? { ca: [...tls.rootCertificates, ...certs.ca.map((c) => c.toString())] } : {}),
        ...(certs?.cert && certs.key ? { cert: certs.cert, key: certs.key } : {}),
      };
      // HTTPS through a proxy: a CONNECT tunnel per connection, TLS with the registry inside it.
      agent = tunnel ? new TunnelingAgent(tunnel, options) : new https.Agent(options);
    }
    this.agents.set(key, agent);
    return agent;
  }

  private async statusError(res: http.IncomingMessage, source: PullSource, what: string, kind: 'manifest' | 'blob'): Promise<Error> {
    const message = await errorMessage(res);
    if (res.statusCode === 404 && kind === 'manifest') {
      return errors.imageNotFound(`${what}${message ? ` (registry ${source.registry}: ${message})` : ''}`);
    }
    if (res.statusCode === 403) return errors.registryAuth(source.registry, `access to ${what} denied${message ? `: ${message}` : ''}`);
    return errors.registry(source.registry, `GET ${kind} ${what}: HTTP ${res.statusCode}${message ? `: ${message}` : ''}`);
  }

  close(): void {
    this.reset();
  }
}

/** The host serving a registry's API: Docker Hub's is not docker.io itself. */
export function endpointHost(registry: string): string {
  return registry === 'docker.io' ? 'registry-1.docker.io' : registry;
}

function credentialKey(credentials: Credentials | undefined): string {
  if (!credentials) return 'anonymous';
  return JSON.stringify([credentials.username ?? '', credentials.password ?? '', credentials.identityToken ?? '']);
}

/** Parses `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`. */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!match) return undefined;
  const scheme = match[1]!.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(match[2]!)) !== null) params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  return { scheme, params };
}

function contentRangeStart(res: http.IncomingMessage): number | undefined {
  const match = /^bytes (\d+)-/.exec(res.headers['content-range'] ?? '');
  return match ? Number(match[1]) : undefined;
}

async function readBody(res: http.IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of res) {
    length += (chunk as Buffer).length;
    if (length > limit) {
      res.destroy();
      throw errors.invalidArgument(`${what}: larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The registry's error message from an OCI error body ({"errors":[{"code","message"}]}). */
async function errorMessage(res: http.IncomingMessage): Promise<string> {
  let text: string;
  try {
    text = (await readBody(res, 64 << 10, 'error body')).toString('utf8');
  } catch {
    return '';
  }
  try {
    const doc = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    if (Array.isArray(doc.errors) && doc.errors.length > 0) {
      return doc.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
    }
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 200);
}

function withTimeout(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const timeout = AbortSignal.timeout(ms);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}
