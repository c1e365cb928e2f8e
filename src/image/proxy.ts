// HTTP(S) proxies for registry traffic, chosen from the environment exactly as Go's
// net/http ProxyFromEnvironment (golang.org/x/net/http/httpproxy) chooses them,
// which is what containerd and cri-o do:
//
// * HTTPS_PROXY / https_proxy for https URLs, HTTP_PROXY / http_proxy for http
//   URLs (no fallback from one to the other); the upper-case name wins when both
//   are set and non-empty. A value without a scheme means http://.
// * Requests to "localhost" or to a loopback IP literal never use a proxy.
// * NO_PROXY / no_proxy: comma-separated; "*" disables proxies; "1.2.3.0/24" a
//   CIDR; "1.2.3.4" or "[::1]:5000" an IP with an optional port; "foo.com" that
//   domain and its subdomains, ".foo.com" and "*.foo.com" subdomains only, each
//   with an optional ":port". Domain entries never match an IP literal, IP entries
//   never match a name; ports default to 443/80 by scheme.
// * With REQUEST_METHOD set (a CGI environment) HTTP_PROXY is refused.
//
// https goes through a CONNECT tunnel, then TLS with the registry (the proxy sees
// only the host and port); http is sent to the proxy as an absolute-URI request.
// Credentials in the proxy URL are sent as Proxy-Authorization: Basic.
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { domainToASCII } from 'node:url';
import { errors } from '../common/errors';

export type ProxyEnv = Record<string, string | undefined>;

const PROXY_VARIABLES = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy', 'REQUEST_METHOD'];

interface Matcher {
  match(host: string, port: string, ip: Uint8Array | undefined): boolean;
}

export class ProxyConfig {
  private readonly httpProxy: URL | undefined;
  private readonly httpsProxy: URL | undefined;
  private readonly cgi: boolean;
  private readonly ipMatchers: Matcher[] = [];
  private readonly domainMatchers: Matcher[] = [];

  /** The variables this configuration was read from (to rebuild it on another thread). */
  readonly env: ProxyEnv;

  constructor(env: ProxyEnv = process.env) {
    this.env = Object.fromEntries(PROXY_VARIABLES.filter((name) => env[name] !== undefined).map((name) => [name, env[name]]));
    this.httpProxy = parseProxy(envAny(env, 'HTTP_PROXY', 'http_proxy'));
    this.httpsProxy = parseProxy(envAny(env, 'HTTPS_PROXY', 'https_proxy'));
    this.cgi = (env.REQUEST_METHOD ?? '') !== '';
    this.parseNoProxy(envAny(env, 'NO_PROXY', 'no_proxy'));
  }

  /** True when some proxy is configured (for logs). */
  get configured(): boolean {
    return this.httpProxy !== undefined || this.httpsProxy !== undefined;
  }

  describe(): { httpProxy?: string; httpsProxy?: string } {
    const shown = (u: URL | undefined) => (u ? `${u.protocol}//${u.host}` : undefined);
    const out: { httpProxy?: string; httpsProxy?: string } = {};
    if (this.httpProxy) out.httpProxy = shown(this.httpProxy)!;
    if (this.httpsProxy) out.httpsProxy = shown(this.httpsProxy)!;
    return out;
  }

  /** The proxy for a request URL, or undefined to connect directly. */
  proxyFor(url: URL): URL | undefined {
    let proxy: URL | undefined;
    if (url.protocol === 'https:') {
      proxy = this.httpsProxy;
    } else if (url.protocol === 'http:') {
      proxy = this.httpProxy;
      if (proxy && this.cgi) throw errors.config('environment', 'HTTP_PROXY', 'refused in a CGI environment (REQUEST_METHOD is set)');
    }
    if (!proxy) return undefined;
    const host = hostnameOf(url);
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    if (!this.useProxy(host, port)) return undefined;
    if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
      throw errors.config('environment', url.protocol === 'https:' ? 'HTTPS_PROXY' : 'HTTP_PROXY', `${proxy.protocol}// proxies are not supported (http:// and https:// are)`);
    }
    return proxy;
  }

  private useProxy(rawHost: string, port: string): boolean {
    if (rawHost === 'localhost') return false;
    const ip = parseIp(rawHost);
    if (ip && isLoopback(ip)) return false;
    const host = rawHost.trim().toLowerCase();
    if (ip) for (const m of this.ipMatchers) if (m.match(host, port, ip)) return false;
    for (const m of this.domainMatchers) if (m.match(host, port, ip)) return false;
    return true;
  }

  private parseNoProxy(value: string): void {
    const all: Matcher = { match: () => true };
    for (const raw of value.split(',')) {
      const p = raw.trim().toLowerCase();
      if (p === '') continue;
      if (p === '*') {
        this.ipMatchers.splice(0, Infinity, all);
        this.domainMatchers.splice(0, Infinity, all);
        return;
      }
      const cidr = parseCidr(p);
      if (cidr) {
        this.ipMatchers.push({ match: (_h, _p, ip) => ip !== undefined && cidrContains(cidr, ip) });
        continue;
      }
      let phost = p;
      let pport = '';
      const split = splitHostPort(p);
      if (split) {
        if (split.host === '') continue;
        phost = split.host;
        pport = split.port;
      }
      const pip = parseIp(phost);
      if (pip) {
        this.ipMatchers.push({ match: (_h, port, ip) => ip !== undefined && sameIp(pip, ip) && (pport === '' || pport === port) });
        continue;
      }
      if (phost.startsWith('*.')) phost = phost.slice(1);
      let matchHost = false;
      if (!phost.startsWith('.')) {
        matchHost = true;
        phost = `.${phost}`;
      }
      phost = domainToASCII(phost.slice(1)) ? `.${domainToASCII(phost.slice(1))}` : phost;
      const suffix = phost;
      this.domainMatchers.push({
        match: (host, port, ip) => ip === undefined && (host.endsWith(suffix) || (matchHost && host === suffix.slice(1))) && (pport === '' || pport === port),
      });
    }
  }
}

function envAny(env: ProxyEnv, ...names: string[]): string {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
  }
  return '';
}

/** As Go's parseProxy: a bare host[:port] is taken as http://host[:port]; unparsable values are ignored. */
function parseProxy(value: string): URL | undefined {
  if (value === '') return undefined;
  try {
    const url = new URL(value);
    if (url.protocol !== '' && url.host !== '') return url;
  } catch {
    // try with a scheme
  }
  try {
    return new URL(`http://${value}`);
  } catch {
    return undefined;
  }
}

/** URL hostname without IPv6 brackets. */
function hostnameOf(url: URL): string {
  const h = url.hostname;
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

function splitHostPort(s: string): { host: string; port: string } | undefined {
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0 || s[end + 1] !== ':') return undefined;
    return { host: s.slice(0, end + 1), port: s.slice(end + 2) };
  }
  const colon = s.lastIndexOf(':');
  if (colon < 0 || s.indexOf(':') !== colon) return undefined;
  return { host: s.slice(0, colon), port: s.slice(colon + 1) };
}

/** IP literal → bytes (IPv4-mapped IPv6 as 4 bytes, as Go's To4 compares them). */
export function parseIp(s: string): Uint8Array | undefined {
  let text = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (net.isIPv4(text)) return Uint8Array.from(text.split('.').map(Number));
  if (!net.isIPv6(text)) return undefined;
  const bytes = ipv6Bytes(text);
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.slice(12) : bytes;
}

function ipv6Bytes(text: string): Uint8Array {
  let s = text;
  const tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (net.isIPv4(s.slice(lastColon + 1))) {
    const v4 = s.slice(lastColon + 1).split('.').map(Number);
    tail.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    s = `${s.slice(0, lastColon)}:0:0`;
  }
  const [head, rest] = s.includes('::') ? s.split('::') as [string, string] : [s, undefined];
  const left = head === '' ? [] : head.split(':').map((g) => parseInt(g, 16));
  const right = rest === undefined || rest === '' ? [] : rest.split(':').map((g) => parseInt(g, 16));
  const groups = rest === undefined ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  if (tail.length === 2) groups.splice(6, 2, tail[0]!, tail[1]!);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => { out[2 * i] = g >> 8; out[2 * i + 1] = g & 0xff; });
  return out;
}

function isLoopback(ip: Uint8Array): boolean {
  if (ip.length === 4) return ip[0] === 127;
  return ip.slice(0, 15).every((b) => b === 0) && ip[15] === 1;
}

function sameIp(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

interface Cidr { network: Uint8Array; bits: number }

function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = s.slice(0, slash);
  const bitsText = s.slice(slash + 1);
  if (!/^\d+$/.test(bitsText)) return undefined;
  // Go's ParseCIDR keeps an IPv4-mapped IPv6 network 16 bytes long only for "::ffff:a.b.c.d/n" with n ≥ 96.
  const ip = net.isIPv4(addr) ? Uint8Array.from(addr.split('.').map(Number)) : net.isIPv6(addr) ? ipv6Bytes(addr) : undefined;
  if (!ip) return undefined;
  const bits = Number(bitsText);
  if (bits > ip.length * 8) return undefined;
  return { network: ip, bits };
}

function cidrContains(cidr: Cidr, ip: Uint8Array): boolean {
  if (ip.length !== cidr.network.length) return false;
  for (let bit = 0; bit < cidr.bits; bit++) {
    const mask = 0x80 >> (bit % 8);
    if ((ip[bit >> 3]! & mask) !== (cidr.network[bit >> 3]! & mask)) return false;
  }
  return true;
}

function proxyAuthorization(proxy: URL): string | undefined {
  if (proxy.username === '' && proxy.password === '') return undefined;
  const user = decodeURIComponent(proxy.username);
  const pass = decodeURIComponent(proxy.password);
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

/** Request options sending an http:// request to the proxy as an absolute URI. */
export function absoluteUriOptions(proxy: URL, target: URL, options: http.RequestOptions): { module: typeof http | typeof https; options: http.RequestOptions } {
  const auth = proxyAuthorization(proxy);
  const headers = { ...(options.headers as Record<string, string>), host: target.host, ...(auth ? { 'proxy-authorization': auth } : {}) };
  return {
    module: proxy.protocol === 'https:' ? https : http,
    options: {
      ...options,
      protocol: proxy.protocol,
      hostname: hostnameOf(proxy),
      port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
      path: target.href,
      headers,
    },
  };
}

/**
 * An https.Agent whose connections are CONNECT tunnels through a proxy, with TLS
 * to the registry inside them; pooled and reused like direct ones.
 */
export class TunnelingAgent extends https.Agent {
  constructor(private readonly proxy: URL, options: https.AgentOptions) {
    super(options);
  }

  override createConnection(requestOptions: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | undefined {
    const options = requestOptions as tls.ConnectionOptions & { host?: string; port?: number };
    const host = options.host ?? 'localhost';
    const port = Number(options.port ?? 443);
    const authority = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
    const auth = proxyAuthorization(this.proxy);
    const shown = `${this.proxy.protocol}//${this.proxy.host}`;
    const request = (this.proxy.protocol === 'https:' ? https : http).request({
      hostname: hostnameOf(this.proxy),
      port: this.proxy.port || (this.proxy.protocol === 'https:' ? 443 : 80),
      method: 'CONNECT',
      path: authority,
      headers: { host: authority, ...(auth ? { 'proxy-authorization': auth } : {}) },
      agent: false,
    });
    let done = false;
    const finish = (err: Error | null, socket?: Duplex) => {
      if (done) return;
      done = true;
      callback?.(err, socket as Duplex);
    };
    request.once('connect', (res, socket, head) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        finish(errors.registry(authority, `proxy ${shown} refused CONNECT ${authority}: HTTP ${res.statusCode}${res.statusMessage ? ` ${res.statusMessage}` : ''}`));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      // options carry host and servername as the agent computed them: TLS is checked against the registry.
      const secure = tls.connect({ ...options, socket });
      finish(null, secure);
    });
    request.once('error', (err) => finish(new Error(`proxy ${shown}: ${err.message}`)));
    request.once('response', (res) => {
      res.resume();
      finish(errors.registry(authority, `proxy ${shown} refused CONNECT ${authority}: HTTP ${res.statusCode}`));
    });
    request.end();
    return undefined;
  }
}
