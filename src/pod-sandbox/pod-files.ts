// The files a pod's containers share: /etc/resolv.conf from the pod's DNSConfig
// (or the host's), /etc/hostname, and /etc/hosts with the pod's own address.
// Written into the sandbox's run directory and bind-mounted read-only into each
// container by the container code.
import * as fs from 'node:fs';
import { errors } from '../common/errors';

export interface DnsConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

/** resolv.conf(5) allows 6 search domains... glibc 2.26+ lifts it; keep cri-o's checks. */
const MAX_DNS_SEARCHES = 32;
const MAX_DNS_SEARCH_CHARS = 2048;
const DNS_OPTION = /^[a-z][a-z0-9-]*(:\d+)?$/i;

export function validateDns(dns: DnsConfig): void {
  for (const server of dns.servers) {
    if (!/^[0-9a-fA-F:.%a-z]+$/.test(server) || server.length > 64) {
      throw errors.invalidArgument(`config.dnsConfig.servers: ${JSON.stringify(server)} is not an IP address`);
    }
  }
  if (dns.searches.length > MAX_DNS_SEARCHES || dns.searches.join(' ').length > MAX_DNS_SEARCH_CHARS) {
    throw errors.invalidArgument(`config.dnsConfig.searches: at most ${MAX_DNS_SEARCHES} domains and ${MAX_DNS_SEARCH_CHARS} characters`);
  }
  for (const search of dns.searches) {
    if (!/^[A-Za-z0-9.-]+$/.test(search)) throw errors.invalidArgument(`config.dnsConfig.searches: ${JSON.stringify(search)} is not a domain`);
  }
  for (const option of dns.options) {
    if (!DNS_OPTION.test(option)) throw errors.invalidArgument(`config.dnsConfig.options: ${JSON.stringify(option)} is not a resolver option`);
  }
}

/** The pod's resolv.conf: its DNSConfig when it has one, else a copy of the host's. */
export function resolvConf(dns: DnsConfig | undefined, hostResolvConf = '/etc/resolv.conf'): string {
  if (!dns || (dns.servers.length === 0 && dns.searches.length === 0 && dns.options.length === 0)) {
    try {
      return fs.readFileSync(hostResolvConf, 'utf8');
    } catch {
      return '';
    }
  }
  const lines: string[] = [];
  if (dns.searches.length) lines.push(`search ${dns.searches.join(' ')}`);
  for (const server of dns.servers) lines.push(`nameserver ${server}`);
  if (dns.options.length) lines.push(`options ${dns.options.join(' ')}`);
  return lines.join('\n') + '\n';
}

export function hostsFile(hostname: string, podIps: string[]): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
  ];
  for (const ip of podIps) lines.push(`${ip}\t${hostname}`);
  return lines.join('\n') + '\n';
}

/** RFC 1123 hostname check, as the kubelet validates pod hostnames. */
export function validateHostname(hostname: string): void {
  if (hostname.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i.test(hostname)) {
    throw errors.invalidArgument(`config.hostname: ${JSON.stringify(hostname)} is not a valid hostname`);
  }
}
