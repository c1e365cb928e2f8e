// Plugin results: parsing any version cradle meets into one normalised (1.x) shape,
// converting back to the version of a network list for `prevResult`, and picking
// the pod's IPs. Covers what cradle uses: interfaces, IPs, routes, DNS.
import type { CniResult, DnsSettings, JsonObject, PodIp } from './types';
import { compareVersions } from './version';

export class ResultFormatError extends Error {}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optString(obj: JsonObject, key: string): string | undefined {
  const value = obj[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function parseDns(value: unknown): CniResult['dns'] {
  if (!isObject(value)) return {};
  const dns: CniResult['dns'] = {};
  const strings = (v: unknown): string[] | undefined =>
    Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : undefined;
  const servers = strings(value.nameservers);
  const searches = strings(value.search);
  const options = strings(value.options);
  if (servers?.length) dns.servers = servers;
  if (searches?.length) dns.searches = searches;
  if (options?.length) dns.options = options;
  const domain = optString(value, 'domain');
  if (domain) dns.domain = domain;
  return dns;
}

function parseRoutes(value: unknown): CniResult['routes'] {
  if (!Array.isArray(value)) return [];
  return value.filter(isObject).filter((r) => typeof r.dst === 'string')
    .map((r) => ({ ...r, dst: r.dst as string, ...(optString(r, 'gw') ? { gw: r.gw as string } : {}) }));
}

/** 0.1.0/0.2.0 results: `ip4`/`ip6` objects instead of an `ips` list. */
function parseLegacy(obj: JsonObject, version: string): CniResult {
  const result: CniResult = { cniVersion: version, interfaces: [], ips: [], routes: [], dns: parseDns(obj.dns) };
  for (const key of ['ip4', 'ip6']) {
    const entry = obj[key];
    if (!isObject(entry)) continue;
    const address = optString(entry, 'ip');
    if (!address) throw new ResultFormatError(`${key}.ip missing`);
    const gateway = optString(entry, 'gateway');
    result.ips.push({ address, ...(gateway ? { gateway } : {}) });
    result.routes.push(...parseRoutes(entry.routes));
  }
  return result;
}

/** Parses a plugin's ADD/CHECK output (or a cached result) of any supported version. */
export function parseResult(value: unknown): CniResult {
  if (!isObject(value)) throw new ResultFormatError('result is not a JSON object');
  const version = optString(value, 'cniVersion') ?? (Array.isArray(value.ips) ? '0.3.1' : '0.2.0');
  if (compareVersions(version, '0.3.0') < 0) return parseLegacy(value, version);
  const interfaces: CniResult['interfaces'] = [];
  if (value.interfaces !== undefined && !Array.isArray(value.interfaces)) throw new ResultFormatError('interfaces is not a list');
  for (const [i, entry] of ((value.interfaces as unknown[] | undefined) ?? []).entries()) {
    if (!isObject(entry) || typeof entry.name !== 'string') throw new ResultFormatError(`interfaces[${i}].name missing`);
    const iface: CniResult['interfaces'][number] = { name: entry.name };
    const mac = optString(entry, 'mac');
    const sandbox = optString(entry, 'sandbox');
    if (mac) iface.mac = mac;
    if (sandbox) iface.sandbox = sandbox;
    if (typeof entry.mtu === 'number') iface.mtu = entry.mtu;
    interfaces.push(iface);
  }
  const ips: CniResult['ips'] = [];
  if (value.ips !== undefined && !Array.isArray(value.ips)) throw new ResultFormatError('ips is not a list');
  for (const [i, entry] of ((value.ips as unknown[] | undefined) ?? []).entries()) {
    if (!isObject(entry)) throw new ResultFormatError(`ips[${i}] is not an object`);
    const address = optString(entry, 'address');
    if (!address || !address.includes('/')) throw new ResultFormatError(`ips[${i}].address must be an address in CIDR form`);
    const ip: CniResult['ips'][number] = { address };
    const gateway = optString(entry, 'gateway');
    if (gateway) ip.gateway = gateway;
    if (typeof entry.interface === 'number') ip.interface = entry.interface;
    ips.push(ip);
  }
  return { cniVersion: version, interfaces, ips, routes: parseRoutes(value.routes), dns: parseDns(value.dns) };
}

function dnsToJson(dns: CniResult['dns']): JsonObject {
  const out: JsonObject = {};
  if (dns.servers?.length) out.nameservers = dns.servers;
  if (dns.domain) out.domain = dns.domain;
  if (dns.searches?.length) out.search = dns.searches;
  if (dns.options?.length) out.options = dns.options;
  return out;
}

/**
 * Renders a result in the wire format of `version` (0.3.0 to 1.1.0), as libcni's
 * ConvertTo does: 0.3.x/0.4.0 carry `version: "4"|"6"` on each IP, 1.x drops it.
 */
export function convertResult(result: CniResult, version: string): JsonObject {
  if (compareVersions(version, '0.3.0') < 0) throw new ResultFormatError(`cannot convert a result to version ${version}`);
  const legacyIps = compareVersions(version, '1.0.0') < 0;
  const out: JsonObject = {
    cniVersion: version,
    interfaces: result.interfaces.map((iface) => ({ ...iface })),
    ips: result.ips.map((ip) => ({
      ...(legacyIps ? { version: ip.address.includes(':') ? '6' : '4' } : {}),
      address: ip.address,
      ...(ip.gateway ? { gateway: ip.gateway } : {}),
      ...(ip.interface !== undefined ? { interface: ip.interface } : {}),
    })),
    routes: result.routes.map((route) => ({ ...route })),
    dns: dnsToJson(result.dns),
  };
  return out;
}

/**
 * The pod's IPs: addresses on interfaces inside the sandbox (or with no interface
 * reference at all), in result order.
 */
export function podIps(result: CniResult): PodIp[] {
  const ips: PodIp[] = [];
  for (const entry of result.ips) {
    let ifaceName: string | undefined;
    if (entry.interface !== undefined) {
      const iface = result.interfaces[entry.interface];
      if (iface && !iface.sandbox) continue; // a host-side interface (the bridge or veth)
      ifaceName = iface?.name;
    }
    const [ip = '', prefix] = entry.address.split('/');
    const family = ip.includes(':') ? 'ipv6' : 'ipv4';
    ips.push({
      ip,
      cidr: prefix === undefined ? ip : `${ip}/${prefix}`,
      family,
      ...(entry.gateway ? { gateway: entry.gateway } : {}),
      ...(ifaceName ? { interface: ifaceName } : {}),
    });
  }
  return ips;
}

/** DNS settings a plugin returned, in the runtime's vocabulary (may be empty). */
export function resultDns(result: CniResult): DnsSettings {
  const { servers, searches, options } = result.dns;
  return { ...(servers ? { servers } : {}), ...(searches ? { searches } : {}), ...(options ? { options } : {}) };
}
