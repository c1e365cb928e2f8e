// CniManager: what the daemon and the pod sandbox layer use. It owns the loaded
// network configs (re-read on inotify events and on a slow poll), network
// readiness for the CRI Status RPC, the attachment cache, and pod setup/teardown.
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import { errors, messageOf, withContext } from '../common/errors';
import type { Logger } from '../common/logger';
import { AttachmentCache, type CachedAttachment } from './cache';
import { DEFAULT_CONF_DIR, DEFAULT_PLUGIN_DIRS, loadNetworkConfigs, networkFromJson, type InvalidConfigFile } from './config';
import { formatCniArgs } from './exec';
import { bringUpLoopback } from './loopback';
import { NetworkOps } from './network-ops';
import { parseResult, podIps, resultDns } from './result';
import type {
  Attachment, BandwidthLimits, CapabilityArgs, CniResult, DnsSettings, IpRange, JsonObject,
  NetworkConfigList, PodIp, PortMapping, RuntimeConf,
} from './types';

export const NETWORK_NOT_READY_REASON = 'NetworkPluginNotReady';

export interface CniManagerOptions {
  /** Network config dir (default /etc/cni/net.d). Created if missing so it can be watched. */
  confDir?: string;
  /** Plugin binary dirs, searched in order (default /opt/cni/bin, /usr/lib/cni). */
  pluginDirs?: readonly string[];
  /** cradle's CNI state dir; attachments are cached in `<cacheDir>/results`. */
  cacheDir: string;
  /** Name of the network pods join; default: the first valid config in lexical order. */
  defaultNetwork?: string;
  log: Logger;
  /** Limit for one plugin invocation (default 120 s); the plugin is killed past it. */
  execTimeoutMs?: number;
  /** Re-read the conf dir this often besides inotify (default 5 s; 0 disables). */
  pollIntervalMs?: number;
  /** Watch the conf and plugin dirs with inotify (default true). */
  watch?: boolean;
}

export interface NetworkStatus {
  ready: boolean;
  /** '' when ready, else NetworkPluginNotReady. */
  reason: string;
  /** '' when ready, else why (config errors, STATUS error). */
  message: string;
  /** The default network's name when one is loaded. */
  network?: string;
}

export interface PodNetworkRequest {
  /** Sandbox id; becomes CNI_CONTAINERID and K8S_POD_INFRA_CONTAINER_ID. */
  id: string;
  /** Path of the pod's pinned network namespace. */
  netnsPath: string;
  podName: string;
  podNamespace: string;
  podUid: string;
  /** Interface name inside the pod (default eth0). */
  ifName?: string;
  portMappings?: PortMapping[];
  bandwidth?: BandwidthLimits;
  dns?: DnsSettings;
  cgroupPath?: string;
  /** network name → DNS aliases (the `aliases` capability). */
  aliases?: Record<string, string[]>;
  /** Explicit ranges; default: one range set per pod CIDR from setPodCidr(). */
  ipRanges?: IpRange[][];
  /** Cancels plugin runs (e.g. the gRPC deadline); an interrupted ADD is rolled back. */
  signal?: AbortSignal;
  /** The caller set `lo` up when it created the namespace: no loopback plugin run. */
  loopbackUp?: boolean;
  /** Called once the first plugin of the ADD has been spawned (other work may start then without delaying it). */
  onPluginStarted?: () => void;
}

export interface PodTeardownRequest {
  id: string;
  /** May be gone or empty: DEL then runs with an empty CNI_NETNS from the cache. */
  netnsPath?: string;
  podName?: string;
  podNamespace?: string;
  podUid?: string;
  signal?: AbortSignal;
}

export interface PodNetworkResult {
  network: string;
  ifName: string;
  /** Pod addresses in result order (the first is the primary one). */
  ips: PodIp[];
  /** DNS settings the plugins returned (often empty). */
  dns: DnsSettings;
  result: CniResult;
  /** The final result in the network's CNI version, as the plugins returned it. */
  raw: JsonObject;
}

export interface GcReport {
  /** Attachments torn down because their pod is not in the valid list. */
  released: Array<{ id: string; network: string }>;
  failed: Array<{ id: string; network: string; error: string }>;
  /** Networks whose plugins got the spec 1.1 GC verb. */
  gcNetworks: string[];
}

interface LoadState {
  networks: NetworkConfigList[];
  invalid: InvalidConfigFile[];
  defaultNetwork: NetworkConfigList | undefined;
  problem: string;
}

const ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const NSFS_MAGIC = 0x6e736673;

function validateIfName(name: string): void {
  if (name === '' || name.length > 15 || name === '.' || name === '..' || /[/:\s]/.test(name)) {
    throw errors.invalidArgument(`interface name ${JSON.stringify(name)} is not valid (1-15 chars, no '/', ':' or spaces)`);
  }
}

function parseCidr(cidr: string): string {
  const trimmed = cidr.trim();
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(trimmed);
  if (v4 && v4.slice(1, 5).every((o) => Number(o) <= 255) && Number(v4[5]) <= 32) return trimmed;
  const v6 = /^([0-9a-fA-F:]+)\/(\d{1,3})$/.exec(trimmed);
  if (v6 && v6[1]!.includes(':') && Number(v6[2]) <= 128) return trimmed;
  throw errors.invalidArgument(`pod CIDR ${JSON.stringify(cidr)} is not a valid CIDR`);
}

const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

/** Checks a port mapping for the portmap plugin; protocol is lower-cased. Throws INVALID_ARGUMENT naming it. */
export function normalizePortMapping(mapping: PortMapping): PortMapping {
  const bad = (problem: string): never => {
    throw errors.invalidArgument(`port mapping ${JSON.stringify(mapping)}: ${problem}`);
  };
  const port = (value: unknown): boolean => Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535;
  if (!port(mapping.hostPort)) bad('hostPort must be 1-65535');
  if (!port(mapping.containerPort)) bad('containerPort must be 1-65535');
  const protocol = String(mapping.protocol ?? '').toLowerCase();
  if (!PROTOCOLS.has(protocol)) bad('protocol must be tcp, udp or sctp');
  if (mapping.hostIP !== undefined && mapping.hostIP !== '' && isIP(mapping.hostIP) === 0) bad('hostIP is not an IP address');
  return { hostPort: mapping.hostPort, containerPort: mapping.containerPort, protocol, ...(mapping.hostIP ? { hostIP: mapping.hostIP } : {}) };
}

/** True when `path` is a live network namespace file (nsfs), as a pinned bind mount is. */
export async function isNetnsPath(path: string): Promise<boolean> {
  if (!path) return false;
  try {
    return (await fs.promises.statfs(path)).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

export class CniManager {
  readonly confDir: string;
  readonly pluginDirs: readonly string[];
  private readonly log: Logger;
  private readonly cache: AttachmentCache;
  private readonly ops: NetworkOps;
  private readonly execTimeoutMs: number;
  private readonly events = new EventEmitter();
  private state: LoadState = { networks: [], invalid: [], defaultNetwork: undefined, problem: 'CNI config not loaded yet' };
  private statusError = '';
  private podCidrs: string[] = [];
  private watchers: fs.FSWatcher[] = [];
  private pollTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> = Promise.resolve();
  private locks = new Map<string, Promise<unknown>>();
  private started = false;

  constructor(private readonly options: CniManagerOptions) {
    this.confDir = options.confDir ?? DEFAULT_CONF_DIR;
    this.pluginDirs = options.pluginDirs ?? DEFAULT_PLUGIN_DIRS;
    this.log = options.log;
    this.cache = new AttachmentCache(options.cacheDir);
    this.execTimeoutMs = options.execTimeoutMs ?? 120_000;
    this.ops = new NetworkOps({ pluginDirs: this.pluginDirs, execTimeoutMs: this.execTimeoutMs });
    this.events.setMaxListeners(0);
  }

  /** Loads the configs and starts watching. Never throws for a bad or missing config. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    try {
      await fs.promises.mkdir(this.confDir, { recursive: true, mode: 0o755 });
    } catch (err) {
      this.log.warn({ confDir: this.confDir, err: messageOf(err) }, 'cannot create CNI conf dir; polling for it');
    }
    await this.reload();
    if (this.options.watch ?? true) {
      for (const dir of [this.confDir, ...this.pluginDirs]) this.watchDir(dir);
    }
    const poll = this.options.pollIntervalMs ?? 5000;
    if (poll > 0) {
      this.pollTimer = setInterval(() => { void this.reload(); }, poll);
      this.pollTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    this.pollTimer = this.debounceTimer = undefined;
    await this.reloading;
  }

  private watchDir(dir: string): void {
    try {
      const watcher = fs.watch(dir, { persistent: false }, () => this.scheduleReload());
      watcher.on('error', (err) => {
        this.log.warn({ dir, err: messageOf(err) }, 'CNI dir watch failed; relying on polling');
        watcher.close();
        this.watchers = this.watchers.filter((w) => w !== watcher);
      });
      this.watchers.push(watcher);
    } catch (err) {
      // A plugin dir that does not exist (/opt/cni/bin on Debian) is normal.
      this.log.debug({ dir, err: messageOf(err) }, 'not watching CNI dir');
    }
  }

  private scheduleReload(): void {
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    // Editors and installers write in several steps; settle first.
    this.debounceTimer = setTimeout(() => { this.debounceTimer = undefined; void this.reload(); }, 100);
    this.debounceTimer.unref();
  }

  /** Re-reads the conf dir (and runs STATUS for 1.1 networks). Serialised; never throws. */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(() => this.doReload()).catch((err: unknown) => {
      this.log.error({ err: messageOf(err) }, 'CNI config reload failed');
    });
    return this.reloading;
  }

  private async doReload(): Promise<void> {
    const before = this.status();
    const loaded = await loadNetworkConfigs(this.confDir, this.pluginDirs);
    let defaultNetwork: NetworkConfigList | undefined;
    let problem = '';
    if (this.options.defaultNetwork) {
      defaultNetwork = loaded.networks.find((n) => n.name === this.options.defaultNetwork);
      if (!defaultNetwork) {
        const names = loaded.networks.map((n) => n.name);
        problem = `default network ${JSON.stringify(this.options.defaultNetwork)} not found in ${this.confDir}`
          + (names.length ? ` (valid networks: ${names.join(', ')})` : '');
      }
    } else {
      defaultNetwork = loaded.networks[0];
      if (!defaultNetwork) problem = `no valid CNI network config in ${this.confDir}`;
    }
    if (problem && loaded.invalid.length > 0) problem += `: ${loaded.invalid.map((f) => f.error).join('; ')}`;
    this.state = { ...loaded, defaultNetwork, problem };

    let statusError = '';
    if (defaultNetwork) {
      try {
        await this.ops.status(defaultNetwork);
      } catch (err) {
        statusError = `network ${JSON.stringify(defaultNetwork.name)} STATUS: ${messageOf(err)}`;
      }
    }
    this.statusError = statusError;

    const after = this.status();
    if (after.ready !== before.ready || after.message !== before.message || after.network !== before.network) {
      if (after.ready) this.log.info({ network: after.network, file: defaultNetwork?.source }, 'CNI network ready');
      else this.log.warn({ reason: after.reason, problem: after.message }, 'CNI network not ready');
      for (const file of loaded.invalid) this.log.warn({ file: file.file, err: file.error }, 'CNI config file skipped');
      this.events.emit('change', after);
    }
  }

  /** Network readiness as of the last load (cheap; for the CRI Status RPC). */
  status(): NetworkStatus {
    const network = this.state.defaultNetwork?.name;
    const problem = this.state.problem || this.statusError;
    if (!problem) return { ready: true, reason: '', message: '', ...(network ? { network } : {}) };
    return { ready: false, reason: NETWORK_NOT_READY_REASON, message: problem, ...(network ? { network } : {}) };
  }

  /** Reloads now and returns the fresh status. */
  async refreshStatus(): Promise<NetworkStatus> {
    await this.reload();
    return this.status();
  }

  /** Valid networks and skipped files of the last load (for verbose status and `cradle info`). */
  loadedNetworks(): { networks: Array<{ name: string; cniVersion: string; file: string; plugins: string[] }>; invalid: InvalidConfigFile[]; defaultNetwork?: string } {
    return {
      networks: this.state.networks.map((n) => ({ name: n.name, cniVersion: n.cniVersion, file: n.source, plugins: n.plugins.map((p) => p.type) })),
      invalid: [...this.state.invalid],
      ...(this.state.defaultNetwork ? { defaultNetwork: this.state.defaultNetwork.name } : {}),
    };
  }

  /** Subscribe to readiness changes. Returns the unsubscribe function. */
  onStatusChange(listener: (status: NetworkStatus) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  /** Resolves once the network is ready; rejects with CRADLE_ERR_CNI_NOT_READY at the timeout or abort. */
  async waitForReady(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    if (this.status().ready) return;
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (err?: unknown): void => {
        unsubscribe();
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err); else resolve();
      };
      const fail = (): void => done(errors.cniNotReady(this.status().message));
      const onAbort = (): void => fail();
      const unsubscribe = this.onStatusChange((s) => { if (s.ready) done(); });
      if (options.timeoutMs !== undefined) timer = setTimeout(fail, options.timeoutMs);
      if (options.signal?.aborted) return fail();
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Records the pod CIDR(s) from UpdateRuntimeConfig (comma-separated for dual
   * stack; '' clears). Pods set up afterwards pass them as the `ipRanges`
   * capability, so plugins that declare it (host-local under a bridge with
   * "capabilities": {"ipRanges": true}) allocate from the pod CIDR.
   */
  setPodCidr(cidr: string): void {
    const cidrs = cidr.split(',').map((c) => c.trim()).filter((c) => c !== '').map(parseCidr);
    if (cidrs.join(',') !== this.podCidrs.join(',')) this.log.info({ podCidr: cidrs }, 'pod CIDR updated');
    this.podCidrs = cidrs;
  }

  podCidr(): string[] {
    return [...this.podCidrs];
  }

  /** Runs `fn` with the per-pod lock, so ADD/DEL/CHECK of one pod never overlap. */
  private async withPodLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(fn);
    const tail = run.catch(() => undefined);
    this.locks.set(id, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    }
  }

  private capabilityArgs(req: PodNetworkRequest): CapabilityArgs {
    const portMappings = req.portMappings?.map(normalizePortMapping);
    const ipRanges = req.ipRanges ?? (this.podCidrs.length ? this.podCidrs.map((subnet) => [{ subnet }]) : undefined);
    const args: CapabilityArgs = {};
    if (portMappings?.length) args.portMappings = portMappings;
    if (req.bandwidth) args.bandwidth = req.bandwidth;
    if (ipRanges?.length) args.ipRanges = ipRanges;
    if (req.dns) args.dns = req.dns;
    if (req.aliases) args.aliases = req.aliases;
    if (req.cgroupPath) args.cgroupPath = req.cgroupPath;
    return args;
  }

  /**
   * ADD: brings up loopback (unless the caller did), attaches the pod to the default network and caches the
   * attachment. On any failure (including abort) the attachment is deleted again
   * before the error is thrown, so nothing is leaked.
   */
  async setUpPod(req: PodNetworkRequest): Promise<PodNetworkResult> {
    if (!ID_PATTERN.test(req.id)) throw errors.invalidArgument(`pod sandbox id ${JSON.stringify(req.id)} is not valid for CNI`);
    for (const field of ['podName', 'podNamespace', 'podUid', 'netnsPath'] as const) {
      if (!req[field]) throw errors.missingField(field);
    }
    const ifName = req.ifName ?? 'eth0';
    validateIfName(ifName);
    const rt: RuntimeConf = {
      containerId: req.id,
      netns: req.netnsPath,
      ifName,
      args: [
        ['IgnoreUnknown', '1'],
        ['K8S_POD_NAMESPACE', req.podNamespace],
        ['K8S_POD_NAME', req.podName],
        ['K8S_POD_INFRA_CONTAINER_ID', req.id],
        ['K8S_POD_UID', req.podUid],
      ],
      capabilityArgs: this.capabilityArgs(req),
    };
    formatCniArgs(rt.args); // refuse bad values before anything is created
    const network = this.state.defaultNetwork;
    const status = this.status();
    if (!network || !status.ready) throw errors.cniNotReady(status.message);
    const context = `pod ${req.podNamespace}/${req.podName} (${req.id}): network ${JSON.stringify(network.name)}`;
    return this.withPodLock(req.id, async () => {
      if (!req.loopbackUp) {
        try {
          await bringUpLoopback(this.ops, this.pluginDirs, req.netnsPath, req.id, this.execTimeoutMs, req.signal);
        } catch (err) {
          throw withContext(err, `${context}: loopback`);
        }
      }
      const entry: CachedAttachment = {
        containerId: req.id, ifName, networkName: network.name, netns: req.netnsPath, config: network.raw,
        cniArgs: rt.args, capabilityArgs: rt.capabilityArgs, state: 'adding', result: null,
      };
      await this.cache.write(entry);
      let outcome;
      try {
        outcome = await this.ops.add(network, rt, req.signal, req.onPluginStarted);
      } catch (err) {
        await this.rollBack(network, rt, entry, err);
        throw withContext(err, `${context}: ADD`);
      }
      try {
        await this.cache.write({ ...entry, state: 'added', result: outcome.raw });
      } catch (err) {
        await this.rollBack(network, rt, entry, err);
        throw withContext(err, `${context}: caching the result`);
      }
      this.log.debug({ id: req.id, network: network.name, ips: podIps(outcome.result).map((ip) => ip.cidr) }, 'pod network set up');
      return { network: network.name, ifName, ips: podIps(outcome.result), dns: resultDns(outcome.result), result: outcome.result, raw: outcome.raw };
    });
  }

  private async rollBack(network: NetworkConfigList, rt: RuntimeConf, entry: CachedAttachment, cause: unknown): Promise<void> {
    try {
      // Not req.signal: the caller may have given up, the cleanup must still run.
      await this.ops.del(network, rt, null);
      await this.cache.remove(entry.networkName, entry.containerId, entry.ifName);
    } catch (err) {
      this.log.error({ id: entry.containerId, network: network.name, cause: messageOf(cause), err: messageOf(err) },
        'CNI DEL after a failed ADD failed; the attachment stays cached for teardown or GC');
    }
  }

  private async runtimeConfFromCache(entry: CachedAttachment, netnsHint?: string): Promise<RuntimeConf> {
    const candidates = [netnsHint, entry.netns].filter((p): p is string => !!p);
    let netns = '';
    for (const candidate of candidates) {
      if (await isNetnsPath(candidate)) { netns = candidate; break; }
    }
    return { containerId: entry.containerId, netns, ifName: entry.ifName, args: entry.cniArgs, capabilityArgs: entry.capabilityArgs };
  }

  private async deleteCached(entry: CachedAttachment, netnsHint: string | undefined, signal?: AbortSignal): Promise<void> {
    const network = networkFromJson(entry.config, entry.networkName);
    const rt = await this.runtimeConfFromCache(entry, netnsHint);
    await this.ops.del(network, rt, entry.result, signal);
    await this.cache.remove(entry.networkName, entry.containerId, entry.ifName);
  }

  /**
   * DEL for every cached attachment of the pod, with the config and arguments
   * cached at ADD time (works after a restart and when the netns is gone). With
   * no cache entry, DEL runs on the default network (plugins treat unknown
   * attachments as success). Idempotent.
   */
  async tearDownPod(req: PodTeardownRequest): Promise<void> {
    if (!ID_PATTERN.test(req.id)) throw errors.invalidArgument(`pod sandbox id ${JSON.stringify(req.id)} is not valid for CNI`);
    await this.withPodLock(req.id, async () => {
      const entries = await this.cache.forContainer(req.id);
      if (entries.length === 0) {
        const network = this.state.defaultNetwork;
        if (!network) {
          this.log.debug({ id: req.id }, 'no cached CNI attachment and no network config; nothing to tear down');
          return;
        }
        const netns = req.netnsPath && (await isNetnsPath(req.netnsPath)) ? req.netnsPath : '';
        const args: Array<[string, string]> = [['IgnoreUnknown', '1']];
        if (req.podNamespace) args.push(['K8S_POD_NAMESPACE', req.podNamespace]);
        if (req.podName) args.push(['K8S_POD_NAME', req.podName]);
        args.push(['K8S_POD_INFRA_CONTAINER_ID', req.id]);
        if (req.podUid) args.push(['K8S_POD_UID', req.podUid]);
        try {
          await this.ops.del(network, { containerId: req.id, netns, ifName: 'eth0', args, capabilityArgs: {} }, null, req.signal);
        } catch (err) {
          throw withContext(err, `pod ${req.id}: network ${JSON.stringify(network.name)}: DEL`);
        }
        return;
      }
      let first: unknown;
      for (const entry of entries) {
        try {
          await this.deleteCached(entry, req.netnsPath, req.signal);
        } catch (err) {
          first ??= withContext(err, `pod ${req.id}: network ${JSON.stringify(entry.networkName)}: DEL`);
        }
      }
      if (first) throw first;
    });
  }

  /** The cached attachment of a pod (for status after a restart), without running plugins. */
  async cachedPodNetwork(id: string): Promise<PodNetworkResult | undefined> {
    const entry = (await this.cache.forContainer(id)).find((e) => e.state === 'added' && e.result);
    if (!entry?.result) return undefined;
    const result = parseResult(entry.result);
    return { network: entry.networkName, ifName: entry.ifName, ips: podIps(result), dns: resultDns(result), result, raw: entry.result };
  }

  /**
   * CHECK of the pod's cached attachment (spec ≥ 0.4.0 networks; others are
   * reported as unchecked). Throws the plugin's error when the attachment is broken.
   */
  async checkPod(req: { id: string; netnsPath: string; signal?: AbortSignal }): Promise<{ checked: boolean; network: PodNetworkResult }> {
    return this.withPodLock(req.id, async () => {
      const entry = (await this.cache.forContainer(req.id)).find((e) => e.state === 'added' && e.result);
      if (!entry?.result) throw errors.notFound('CNI attachment of pod sandbox', req.id);
      const network = networkFromJson(entry.config, entry.networkName);
      const rt: RuntimeConf = { containerId: entry.containerId, netns: req.netnsPath, ifName: entry.ifName, args: entry.cniArgs, capabilityArgs: entry.capabilityArgs };
      let checked: boolean;
      try {
        checked = await this.ops.check(network, rt, entry.result, req.signal);
      } catch (err) {
        throw withContext(err, `pod ${req.id}: network ${JSON.stringify(network.name)}: CHECK`);
      }
      const result = parseResult(entry.result);
      return { checked, network: { network: entry.networkName, ifName: entry.ifName, ips: podIps(result), dns: resultDns(result), result, raw: entry.result } };
    });
  }

  /**
   * Garbage collection at startup with the ids of all known sandboxes: every cached
   * attachment of another pod is deleted (this releases IPs leaked by crashes, on
   * any spec version), then networks of spec ≥ 1.1 get the GC verb with the valid
   * attachments so plugins can drop what cradle never cached.
   */
  async gc(validIds: Iterable<string>, signal?: AbortSignal): Promise<GcReport> {
    const valid = new Set(validIds);
    const report: GcReport = { released: [], failed: [], gcNetworks: [] };
    for (const file of await this.cache.removeInterruptedWrites()) this.log.info({ file }, 'removed a CNI cache write interrupted by a crash');
    const { entries, broken } = await this.cache.list();
    for (const file of broken) this.log.warn({ file }, 'unreadable CNI cache entry ignored');
    const kept: CachedAttachment[] = [];
    for (const entry of entries) {
      if (valid.has(entry.containerId)) { kept.push(entry); continue; }
      try {
        await this.withPodLock(entry.containerId, () => this.deleteCached(entry, undefined, signal));
        report.released.push({ id: entry.containerId, network: entry.networkName });
        this.log.info({ id: entry.containerId, network: entry.networkName }, 'released leaked CNI attachment');
      } catch (err) {
        report.failed.push({ id: entry.containerId, network: entry.networkName, error: messageOf(err) });
        this.log.warn({ id: entry.containerId, network: entry.networkName, err: messageOf(err) }, 'CNI GC: DEL failed');
      }
    }
    for (const network of this.state.networks) {
      const attachments: Attachment[] = kept.filter((e) => e.networkName === network.name)
        .map((e) => ({ containerID: e.containerId, ifname: e.ifName }));
      try {
        if (await this.ops.gc(network, attachments, signal)) report.gcNetworks.push(network.name);
      } catch (err) {
        report.failed.push({ id: '', network: network.name, error: messageOf(err) });
        this.log.warn({ network: network.name, err: messageOf(err) }, 'CNI GC verb failed');
      }
    }
    return report;
  }
}
