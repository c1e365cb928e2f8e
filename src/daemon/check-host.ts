// The host half of `cradled check` beyond binaries: kernel settings Kubernetes
// networking needs, iptables and its backend, libseccomp, the cgroup mode,
// overlayfs features, and the CNI plugins the configured networks name.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { CradleConfig } from '../config/schema';
import { defaultNetworkConfig } from '../cni/default-config';
import { cleanChildEnv } from '../common/child-env';
import type { CheckFinding, CheckLevel } from './check';
import { executable } from './runtime-readiness';

/** Files the checks read, overridable so tests can point them at a fake /proc and /sys. */
export interface HostPaths {
  proc: string;
  sys: string;
  path: string[];
  libDirs: string[];
}

export const DEFAULT_HOST_PATHS: HostPaths = {
  proc: '/proc',
  sys: '/sys',
  path: ['/usr/sbin', '/usr/bin', '/sbin', '/bin'],
  libDirs: ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib'],
};

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Plugin types of one network config (.conf or .conflist), IPAM plugins included. */
export function pluginTypes(doc: unknown): string[] {
  const types = new Set<string>();
  const obj = doc as { type?: unknown; ipam?: { type?: unknown }; plugins?: unknown };
  const plugins = Array.isArray(obj.plugins) ? obj.plugins as typeof obj[] : [obj];
  for (const p of plugins) {
    if (typeof p?.type === 'string') types.add(p.type);
    if (typeof p?.ipam?.type === 'string') types.add(p.ipam.type);
  }
  return [...types];
}

export function checkHost(config: CradleConfig, paths: HostPaths = DEFAULT_HOST_PATHS): CheckFinding[] {
  const findings: CheckFinding[] = [];
  const add = (level: CheckLevel, what: string, detail: string) => findings.push({ level, what, detail });

  const forward = read(path.join(paths.proc, 'sys/net/ipv4/ip_forward'));
  add(forward === '1' ? 'ok' : 'warn', 'net.ipv4.ip_forward',
    forward === '1' ? '1' : `${forward ?? 'unreadable'}: pod traffic is not routed off the node (sysctl -w net.ipv4.ip_forward=1)`);
  const nf = read(path.join(paths.proc, 'sys/net/bridge/bridge-nf-call-iptables'));
  add(nf === '1' ? 'ok' : 'warn', 'br_netfilter', nf === undefined
    ? 'module not loaded: Service traffic between pods on one bridge bypasses iptables (modprobe br_netfilter)'
    : nf === '1' ? 'net.bridge.bridge-nf-call-iptables = 1' : `net.bridge.bridge-nf-call-iptables = ${nf} (set it to 1)`);

  const iptables = paths.path.map((d) => path.join(d, 'iptables')).find(executable);
  if (!iptables) {
    add('fail', 'iptables', `not found in ${paths.path.join(', ')} (apt-get install iptables): CNI masquerading and portmap need it`);
  } else {
    const out = spawnSync(iptables, ['--version'], { encoding: 'utf8', env: cleanChildEnv(), timeout: 10_000 });
    const backend = /\((nf_tables|legacy)\)/.exec(out.stdout ?? '')?.[1];
    add(out.status === 0 ? 'ok' : 'warn', 'iptables', `${iptables}: ${(out.stdout ?? '').trim() || 'no version'}${backend ? ` (backend ${backend === 'nf_tables' ? 'nft' : 'legacy'}; the kubelet and kube-proxy must use the same)` : ''}`);
  }

  const seccomp = paths.libDirs.map((d) => path.join(d, 'libseccomp.so.2')).find((f) => fs.existsSync(f));
  add(seccomp ? 'ok' : 'fail', 'libseccomp', seccomp ?? 'libseccomp.so.2 not found (apt-get install libseccomp2): seccomp profiles cannot be applied');

  const v2 = fs.existsSync(path.join(paths.sys, 'fs/cgroup/cgroup.controllers'));
  add(v2 ? 'ok' : 'warn', 'cgroup mode', v2 ? 'v2 (unified)' : 'v1: Kubernetes 1.35 refuses cgroup v1 by default (failCgroupV1); boot with systemd.unified_cgroup_hierarchy=1');

  const params = path.join(paths.sys, 'module/overlay/parameters');
  const features = ['redirect_dir', 'index', 'metacopy'].map((p) => `${p}=${read(path.join(params, p)) ?? '?'}`);
  if (fs.existsSync(params)) add('ok', 'overlayfs features', features.join(' '));

  // The networks: the default one (named, or first in lexical order) must find its
  // plugins (FAIL); other files only WARN, they are not used unless named.
  const dir = config.network.cni_config_dir;
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir).filter((n) => /\.(conf|conflist|json)$/.test(n)).sort();
  } catch { /* no directory yet */ }
  const networks: { source: string; name: string; types: string[] }[] = [];
  for (const n of names) {
    try {
      const doc = JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')) as { name?: unknown };
      networks.push({ source: path.join(dir, n), name: String(doc.name ?? ''), types: pluginTypes(doc) });
    } catch (err) {
      add('warn', 'CNI configuration', `${path.join(dir, n)}: ${(err as Error).message}`);
    }
  }
  if (networks.length === 0 && config.network.write_default_config) {
    networks.push({ source: 'cradle\'s default network (written at start)', name: 'cradle', types: pluginTypes(defaultNetworkConfig({})) });
  }
  const wanted = config.network.cni_default_network;
  const defaultNet = networks.find((n) => (wanted ? n.name === wanted : true));
  if (wanted && !defaultNet) add('fail', 'CNI default network', `no configuration in ${dir} is named ${JSON.stringify(wanted)}`);
  for (const net of networks) {
    for (const type of net.types) {
      const found = config.network.cni_plugin_dirs.map((d) => path.join(d, type)).find(executable);
      const level: CheckLevel = found ? 'ok' : net === defaultNet ? 'fail' : 'warn';
      add(level, `CNI plugin ${type}`, found ? `${found} (network ${net.name})` : `needed by network ${net.name} (${net.source}), not in ${config.network.cni_plugin_dirs.join(', ')}`);
    }
  }
  return findings;
}
