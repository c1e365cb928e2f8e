// Pod sandboxes: pinned namespaces, CNI networking, pod files and a pause process
// (an OCI container from the pause image run by the pod's runtime handler under
// conmon). Every step of RunPodSandbox registers its undo, so a failure anywhere
// leaves nothing behind; stop and remove are idempotent.
import * as fs from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from '../common/logger';
import { crashPoint } from '../common/crash-points';
import { errors, messageOf, withContext } from '../common/errors';
import { UndoStack } from '../common/undo';
import { NameReservations } from '../common/reservations';
import { findByIdOrPrefix } from '../common/id-lookup';
import { RecordStore } from '../common/record-store';
import { writeFileAtomicSync } from '../common/atomic-file';
import { bundleParts, type StateLayout } from '../common/state-layout';
import type { CleanupRetrier, PendingCleanup } from '../runtime/cleanup-retrier';
import { namespacePins, pausePersistDir, podRunDir, POD_RESOURCES, releaseAll, socketLink } from '../runtime/resources';
import type { CniManager, PortMapping } from '../cni';
import { normalizePortMapping } from '../cni';
import type { ImageHold, ImageService } from '../image';
import type { PodSandboxConfig__Output } from '../generated/runtime/v1/PodSandboxConfig';
import type { RuntimeHandler, RuntimeHandlers } from '../runtime/handlers';
import type { SpecRuntimeOptions, PauseNamespace } from '../runtime/oci-config/inputs';
import { ociConfig } from '../runtime/oci-config/lazy';
import type { LinuxContainerResources__Output } from '../generated/runtime/v1/LinuxContainerResources';
import { mountOverlay, rootfsIdmap } from '../runtime/rootfs/overlay';
import type { PodUserns } from '../runtime/oci-config';
import { hostIdOf } from '../runtime/oci-config/userns';
import { isProcessAlive } from '../runtime/conmon/proc';
import { setPodCgroupLimits } from '../runtime/cgroup-driver';
import { NamespacePinner, type PinnableKind, type PinnedNamespaces } from './namespaces';
import { hostsFile, resolvConf, validateDns, validateHostname } from './pod-files';
import { reservedNameOf, type PidMode, type SandboxRecord } from './sandbox';

const STOP_WAIT_MS = 10_000;
/** Cleanup kinds (the label of cradle_cleanup_retries_total) of a pod's releases outside the catalogue. */
const PAUSE_CONTAINER_KIND = 'pause container';
const POD_NETWORK_KIND = 'pod network';

/** What starting a pod's pause process needs from RunPodSandbox's earlier steps. */
interface PauseStart {
  id: string;
  config: PodSandboxConfig__Output;
  handler: RuntimeHandler;
  hold: ImageHold;
  pauseCommand: string;
  bundle: string;
  pinned: PinnedNamespaces;
  hostNetwork: boolean;
  hostIpc: boolean;
  pidMode: PidMode;
  hostname: string;
  files: SandboxRecord['files'];
  runDir: string;
  undo: UndoStack;
  userns: PodUserns | undefined;
}

export interface SandboxManagerOptions {
  layout: StateLayout;
  /** Retries a release that failed in the background (a busy mount, ...). */
  cleanup: CleanupRetrier;
  /** The pause image and the command run in it (cri-o's pause_command), read per pod: SIGHUP changes them. */
  pause: () => { image: string; command: string };
  handlers: RuntimeHandlers;
  cni: CniManager;
  images: ImageService;
  specOptions: () => SpecRuntimeOptions;
  log: Logger;
  /** Reports each CNI network operation (for the cni_operations metrics). */
  onCniOperation?: (operation: 'ADD' | 'DEL', seconds: number, failed: boolean) => void;
}

/** Hooks the container layer registers so stopping a pod stops its containers. */
export interface SandboxContainerHooks {
  stopContainers(sandboxId: string): Promise<void>;
  removeContainers(sandboxId: string): Promise<void>;
}

export interface SandboxFilter {
  id?: string;
  state?: SandboxRecord['state'];
  labelSelector?: Record<string, string>;
}

function nowNanos(): string {
  return (BigInt(Date.now()) * 1_000_000n + BigInt(process.hrtime()[1] % 1_000_000)).toString();
}

export class SandboxManager {
  private readonly sandboxes = new Map<string, SandboxRecord>();
  private readonly names = new NameReservations<string>('pod sandbox');
  private readonly store: RecordStore<SandboxRecord>;
  private readonly pinner: NamespacePinner;
  private readonly holds = new Map<string, () => void>();
  /** Stops under way (a concurrent stop of the same pod joins it): no new container may start in these pods. */
  private readonly stopping = new Map<string, Promise<void>>();
  private containerHooks: SandboxContainerHooks = { stopContainers: async () => {}, removeContainers: async () => {} };

  constructor(private readonly options: SandboxManagerOptions) {
    this.store = new RecordStore(options.layout.podRecords, options.log);
    this.pinner = new NamespacePinner(options.layout);
  }

  setContainerHooks(hooks: SandboxContainerHooks): void {
    this.containerHooks = hooks;
  }

  // ---- queries -------------------------------------------------------------

  get(id: string): SandboxRecord | undefined {
    return this.sandboxes.get(id);
  }

  /** Ready, and no stop under way (a container being created now must back out). */
  isReady(id: string): boolean {
    return this.sandboxes.get(id)?.state === 'SANDBOX_READY' && !this.stopping.has(id);
  }

  /** By full id or unique prefix; NOT_FOUND otherwise. */
  find(idOrPrefix: string): SandboxRecord {
    return findByIdOrPrefix(this.sandboxes, idOrPrefix, 'pod sandbox');
  }

  /** As find(), but undefined instead of NOT_FOUND (for the idempotent stop and remove). */
  lookup(idOrPrefix: string): SandboxRecord | undefined {
    try {
      return this.find(idOrPrefix);
    } catch {
      return undefined;
    }
  }

  list(filter: SandboxFilter = {}): SandboxRecord[] {
    return [...this.sandboxes.values()].filter((s) =>
      (!filter.id || s.id.startsWith(filter.id))
      && (!filter.state || s.state === filter.state)
      && Object.entries(filter.labelSelector ?? {}).every(([k, v]) => s.config.labels[k] === v))
      .sort((a, b) => (BigInt(a.createdAt) < BigInt(b.createdAt) ? -1 : 1));
  }

  // ---- RunPodSandbox -------------------------------------------------------

  /** Creates and starts a sandbox; a kubelet retry of an in-flight run gets the same id. */
  async run(config: PodSandboxConfig__Output, runtimeHandler: string, log: Logger): Promise<string> {
    validateSandboxConfig(config);
    const handler = this.options.handlers.forNewPod(runtimeHandler);
    if (podUsernsOf(config) && !handler.features.userNamespaces) {
      const why = this.options.handlers.usernsWhyNot;
      throw errors.invalidField(`${USERNS_FIELD}.mode`, `the runtime handler ${JSON.stringify(handler.name)} cannot run pods with their own user namespace on this node (Status lists userNamespaces: false for it${why ? `: ${why}` : ''})`);
    }
    const fingerprint = createHash('sha256').update(JSON.stringify([config, runtimeHandler])).digest('hex');
    const id = randomBytes(32).toString('hex');
    return this.names.run(reservedNameOf(config), id, fingerprint, () => this.create(id, fingerprint, config, runtimeHandler, log.child({ podSandboxId: id })));
  }

  /** CNI ADD for the pod's pinned network namespace; its IPs. */
  private async addNetwork(id: string, config: PodSandboxConfig__Output, netnsPath: string, undo: UndoStack, log: Logger, onPluginStarted: () => void): Promise<SandboxRecord['ips']> {
    const result = await this.timedCni('ADD', () => this.options.cni.setUpPod({
      id, netnsPath, loopbackUp: true, onPluginStarted, podName: config.metadata!.name, podNamespace: config.metadata!.namespace,
      podUid: config.metadata!.uid, portMappings: portMappingsOf(config), cgroupPath: config.linux?.cgroupParent ?? '',
      ...(config.dnsConfig ? { dns: { servers: config.dnsConfig.servers, searches: config.dnsConfig.searches, options: config.dnsConfig.options } } : {}),
    }));
    undo.push(`tearing down the network of ${id}`, () => this.options.cni.tearDownPod({ id, netnsPath }));
    crashPoint('RunPodSandbox', 'network-added');
    log.debug({ ips: result.ips.map((i) => i.ip) }, 'pod network set up');
    return result.ips;
  }

  /** The pause process: an OCI container joining the pinned namespaces, created under conmon and started. */
  private async startPause(p: PauseStart): Promise<{ created: { pid: number; conmonPid: number; conmonStartTime: string }; bundle: string }> {
    const { id, config, handler, hold, pauseCommand, bundle, undo } = p;
    // Unmounted by the run dir's release (the bundle is in it).
    const sandboxUserns = p.userns ? { ...p.userns, path: p.pinned.user! } : undefined;
    const overlay = mountOverlay(bundle, hold.overlay, sandboxUserns && rootfsIdmap(sandboxUserns));
    const ns = (kind: PinnableKind, host: boolean): PauseNamespace => (host ? 'host' : { path: p.pinned[kind]! });
    const spec = ociConfig().buildPauseSpec({
      sandboxConfig: config,
      imageConfig: hold.image.config.config ?? {},
      sandboxId: id,
      rootfs: overlay.rootfs,
      args: [pauseCommand],
      namespaces: { network: ns('net', p.hostNetwork), ipc: ns('ipc', p.hostIpc), uts: ns('uts', p.hostNetwork), pid: p.pidMode === 'NODE' ? 'host' : 'new' },
      hostname: p.hostname,
      shmPath: p.files.shm,
      cgroupParent: config.linux?.cgroupParent ?? '',
      sysctls: config.linux?.sysctls ?? {},
      imageRef: hold.image.id,
      runtime: this.options.specOptions(),
      ...(sandboxUserns ? { userns: sandboxUserns } : {}),
    });
    fs.writeFileSync(bundleParts(bundle).config, JSON.stringify(spec));
    handler.runtime.prepareBundle(id, bundle);
    // Before the create: a create that fails has already made conmon's socket link and persist dir.
    undo.push(`deleting the pause container of ${id}`, async () => {
      await handler.runtime.delete(id, true);
      releaseAll([socketLink, pausePersistDir], this.options.layout, id);
    });
    const created = await handler.conmon.create({
      id, name: `${config.metadata!.namespace}_${config.metadata!.name}_POD`, bundle,
      persistDir: this.options.layout.podPersistDir(id),
      logPath: this.options.layout.pauseLog(id), tty: false, stdin: false, stdinOnce: false, timeoutMs: 60_000,
    });
    crashPoint('RunPodSandbox', 'pause-created');
    await handler.runtime.start(id);
    crashPoint('RunPodSandbox', 'pause-started');
    return { created, bundle };
  }

  private async create(id: string, fingerprint: string, config: PodSandboxConfig__Output, runtimeHandler: string, log: Logger): Promise<string> {
    const undo = new UndoStack();
    const nsOptions = config.linux?.securityContext?.namespaceOptions;
    const hostNetwork = nsOptions?.network === 'NODE';
    const hostIpc = nsOptions?.ipc === 'NODE';
    // The CRI's default (enum value 0, also when namespace_options is absent) is POD.
    const pidMode: PidMode = nsOptions?.pid === 'NODE' ? 'NODE' : nsOptions?.pid === 'CONTAINER' ? 'CONTAINER' : 'POD';
    const runDir = this.options.layout.podRunDir(id);
    const handler = this.options.handlers.forNewPod(runtimeHandler);
    const hostname = config.hostname || (hostNetwork ? fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim() : id.slice(0, 12));
    const userns = podUsernsOf(config);
    try {
      // 1. Network plugin ready (pods on the host network do not need it).
      if (!hostNetwork) await this.options.cni.waitForReady({ timeoutMs: 30_000 });

      // 2. Pause image present, its layers held while the pod exists.
      const { image: pauseImage, command: pauseCommand } = this.options.pause();
      if (!this.options.images.status(pauseImage)) {
        log.info({ image: pauseImage }, 'pulling the pause image');
        await this.options.images.pull(pauseImage);
      }
      const hold = this.options.images.hold(pauseImage);
      undo.push(`releasing pause image layers for ${id}`, () => hold.release());

      // 3. Run directory with the pod files and its /dev/shm.
      undo.push(`removing ${runDir}`, () => podRunDir.release(this.options.layout, id));
      // In its own user namespace the pod's root owns its files and /dev/shm on the host (not idmapped: see build.ts).
      const podRoot = userns && { uid: hostIdOf(userns.uids, 0)!, gid: hostIdOf(userns.gids, 0)! };
      const files = { ...this.options.layout.podFiles(id), shm: podRunDir.acquire(this.options.layout, id, hostIpc, podRoot) };

      crashPoint('RunPodSandbox', 'run-dir');
      // 4. Namespaces pinned by bind mounts (network, IPC, UTS unless shared with the host).
      const kinds: PinnableKind[] = [];
      if (!hostNetwork) kinds.push('net', 'uts');
      if (!hostIpc) kinds.push('ipc');
      this.pinner.prepare();
      // With its own user namespace, the pod's network, IPC and UTS namespaces are made in it.
      const pinned = userns ? this.pinner.pinInUserns(id, userns, hostname) : this.pinner.pin(id, kinds, hostNetwork ? undefined : hostname);
      undo.push(`unpinning namespaces of ${id}`, () => namespacePins.release(this.options.layout, id));

      crashPoint('RunPodSandbox', 'namespaces-pinned');
      // 5. Network through CNI and 6. the pause process, concurrently: the pause only
      // joins the pinned namespaces, and neither waits on the other's programs. The
      // pause's preparation and conmon's spawn hold this thread, so they begin once the
      // first CNI plugin runs (the plugin chain is the longer path), or once the ADD
      // has ended before that. Both settle before anything is undone, so every undo is
      // on the stack by then.
      let pluginStarted!: () => void;
      const networkRunning = new Promise<void>((resolve) => { pluginStarted = resolve; });
      const networkAdded = hostNetwork ? Promise.resolve([]) : this.addNetwork(id, config, pinned.net!, undo, log, pluginStarted);
      const pauseStarted = Promise.race([networkRunning, networkAdded.then(() => undefined, () => undefined)])
        .then(() => this.startPause({ id, config, handler, hold, pauseCommand, bundle: this.options.layout.pauseBundle(id), pinned, hostNetwork, hostIpc, pidMode, hostname, files, runDir, undo, userns }));
      const [network, pause] = await Promise.allSettled([networkAdded, pauseStarted]);
      if (network.status === 'rejected') throw network.reason;
      if (pause.status === 'rejected') throw pause.reason;
      const ips = network.value;
      const { created, bundle } = pause.value;

      // 7. Pod files (the hosts file names the pod's IPs).
      writeFileAtomicSync(files.hostname, `${hostname}\n`, { durable: false });
      writeFileAtomicSync(files.hosts, hostNetwork ? safeRead('/etc/hosts') : hostsFile(hostname, ips.map((i) => i.ip)), { durable: false });
      writeFileAtomicSync(files.resolvConf, resolvConf(config.dnsConfig ?? undefined), { durable: false });
      if (podRoot) for (const file of [files.hostname, files.hosts, files.resolvConf]) fs.chownSync(file, podRoot.uid, podRoot.gid);
      crashPoint('RunPodSandbox', 'pod-files');

      const record: SandboxRecord = {
        id, reservedName: reservedNameOf(config), fingerprint, state: 'SANDBOX_READY', createdAt: nowNanos(),
        runtimeHandler: handler.name, config, runDir, hostNetwork, hostIpc, pidMode, pinned, hostname, files, ips, ...(userns ? { userns } : {}),
        pause: { pid: created.pid, conmonPid: created.conmonPid, conmonStartTime: created.conmonStartTime, bundle },
        pauseChainIds: hold.image.chainIds, pauseImageRef: hold.image.id, networkUp: !hostNetwork,
      };
      await this.store.save(record);
      crashPoint('RunPodSandbox', 'recorded');
      this.sandboxes.set(id, record);
      this.holds.set(id, () => hold.release());
      undo.release();
      log.info({ name: config.metadata!.name, namespace: config.metadata!.namespace, ips: ips.map((i) => i.ip) }, 'pod sandbox ready');
      return id;
    } catch (err) {
      const failures = await undo.unwind(log, { owner: id, to: this.options.cleanup });
      if (failures.length) log.error({ failures }, 'cleanup after a failed RunPodSandbox is retried in the background');
      throw withContext(err, `running pod sandbox ${config.metadata?.namespace}/${config.metadata?.name}`);
    }
  }

  private async timedCni<T>(operation: 'ADD' | 'DEL', run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await run();
      this.options.onCniOperation?.(operation, (performance.now() - started) / 1000, false);
      return result;
    } catch (err) {
      this.options.onCniOperation?.(operation, (performance.now() - started) / 1000, true);
      throw err;
    }
  }

  // ---- StopPodSandbox / RemovePodSandbox -----------------------------------

  /** Stops the pod's containers and pause process and tears down its network. Idempotent. */
  async stop(id: string, log: Logger): Promise<void> {
    const sandbox = this.sandboxes.get(id);
    if (!sandbox) return;
    // Not ready from the first moment for new containers (isReady); the record says
    // NOTREADY once that is saved.
    let stopping = this.stopping.get(id);
    if (!stopping) {
      stopping = this.stopIn(sandbox, log).finally(() => this.stopping.delete(id));
      this.stopping.set(id, stopping);
    }
    await stopping;
  }

  private async stopIn(sandbox: SandboxRecord, log: Logger): Promise<void> {
    const id = sandbox.id;
    const wasReady = sandbox.state === 'SANDBOX_READY';
    await this.containerHooks.stopContainers(id);
    // The runtime's delete (its state, the pause's cgroup) and the CNI DEL are
    // releases: one that fails is retried in the background, and the record keeps
    // saying what is left (pause, networkUp) until a Stop or Remove sees it done,
    // after a restart too. RemovePodSandbox is UNAVAILABLE meanwhile.
    let pauseDeleted = true;
    if (sandbox.pause) {
      const handler = this.options.handlers.get(sandbox.runtimeHandler);
      if (isProcessAlive(sandbox.pause.pid)) {
        // --all: with the host's PID namespace, the pause's children would outlive it.
        await handler.runtime.kill(id, 'KILL', true).catch((err: unknown) => log.debug({ error: messageOf(err) }, 'killing pause'));
        const deadline = Date.now() + STOP_WAIT_MS;
        while (isProcessAlive(sandbox.pause.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      }
      pauseDeleted = await this.options.cleanup.release(PAUSE_CONTAINER_KIND, id, () => handler.runtime.delete(id, true));
    }
    crashPoint('StopPodSandbox', 'pause-deleted');
    let networkDown = true;
    if (sandbox.networkUp) {
      networkDown = await this.options.cleanup.release(POD_NETWORK_KIND, id,
        () => this.timedCni('DEL', () => this.options.cni.tearDownPod({ id, netnsPath: sandbox.pinned.net ?? '' })));
    }
    // Every step above is idempotent: if this write fails, the record still says
    // what a retried StopPodSandbox has to do.
    await this.save(sandbox, (next) => {
      next.state = 'SANDBOX_NOTREADY';
      if (pauseDeleted) next.pause = undefined;
      if (networkDown) next.networkUp = false;
    }, `recording pod sandbox ${id} as stopped`);
    if (wasReady) log.info('pod sandbox stopped');
  }

  /** Changes a record in memory only once it is on disk (RecordStore.update); a failed write is a catalogue error. */
  private async save(sandbox: SandboxRecord, change: (next: SandboxRecord) => void, context: string): Promise<void> {
    try {
      await this.store.update(sandbox, change);
    } catch (err) {
      throw withContext(err, context);
    }
  }

  /** Stops the pod if needed and removes every trace of it. Idempotent. */
  async remove(id: string, log: Logger): Promise<void> {
    const sandbox = this.sandboxes.get(id);
    if (!sandbox) return;
    await this.stop(id, log);
    crashPoint('RemovePodSandbox', 'stopped');
    await this.containerHooks.removeContainers(id);
    crashPoint('RemovePodSandbox', 'containers-removed');
    // A release that fails is retried in the background; until it succeeds the pod
    // stays listed (NOTREADY, stopped above) and RemovePodSandbox is UNAVAILABLE,
    // so the kubelet calls it again instead of losing track of what is left.
    // The namespaces stay pinned while the network's DEL is pending: plugins want the netns.
    const { cleanup, layout } = this.options;
    let released = cleanup.pending(id).length === 0;
    if (released) {
      released = await cleanup.release('pod namespace pins', id, () => namespacePins.release(layout, id));
      crashPoint('RemovePodSandbox', 'unpinned');
    }
    if (released) released = await cleanup.release('pod resources', id, () => releaseAll(POD_RESOURCES, layout, id));
    if (!released) throw errors.unavailable(`pod sandbox ${id}: ${cleanup.describePending(id)}`);
    this.holds.get(id)?.();
    this.holds.delete(id);
    await this.store.remove(id);
    this.sandboxes.delete(id);
    this.names.release(sandbox.reservedName, id);
    log.info('pod sandbox removed');
  }

  /**
   * UpdatePodSandboxResources: writes the pod's limits (its containers' sum plus
   * overhead) to the pod cgroup (CgroupParent), where they bound every container.
   */
  async updateResources(id: string, resources: LinuxContainerResources__Output | null, overhead: LinuxContainerResources__Output | null, log: Logger): Promise<void> {
    const sandbox = this.find(id);
    const parent = sandbox.config.linux?.cgroupParent ?? '';
    if (parent === '' || parent === '/') throw errors.failedPrecondition(`pod sandbox ${sandbox.id} has no cgroup parent of its own to update`);
    if (!resources && !overhead) throw errors.missingField('resources');
    const sum = (a: string | undefined, b: string | undefined) => String(BigInt(a || '0') + BigInt(b || '0'));
    const r = resources ?? overhead!;
    const combined: LinuxContainerResources__Output = {
      ...r,
      memoryLimitInBytes: sum(resources?.memoryLimitInBytes, overhead?.memoryLimitInBytes),
      cpuShares: sum(resources?.cpuShares, overhead?.cpuShares),
      cpuQuota: sum(resources?.cpuQuota, overhead?.cpuQuota),
    };
    const oci = ociConfig().buildResources(combined, this.options.specOptions(), 'resources');
    const { devices: _devices, ...limits } = oci;
    void _devices;
    const driver = this.options.specOptions().cgroupDriver;
    // The same check CreateContainer makes: a slice name under systemd, a path under cgroupfs.
    ociConfig().cgroupsPath(driver, parent, sandbox.id, 'sandbox.cgroupParent');
    setPodCgroupLimits(parent, driver, limits);
    log.info({ memoryLimit: combined.memoryLimitInBytes, cpuShares: combined.cpuShares }, 'pod sandbox resources updated');
  }

  /** The pause process exited (seen by the exit monitor): the pod is no longer ready. */
  async pauseExited(id: string): Promise<void> {
    const sandbox = this.sandboxes.get(id);
    if (!sandbox || sandbox.state === 'SANDBOX_NOTREADY') return;
    await this.save(sandbox, (next) => { next.state = 'SANDBOX_NOTREADY'; }, `recording the exit of the pause of pod sandbox ${id}`);
    this.options.log.warn({ podSandboxId: id }, 'pause process exited: pod sandbox not ready');
  }

  // ---- recovery --------------------------------------------------------------

  /**
   * Loads every recorded sandbox after a restart of cradled: live pods stay ready,
   * pods whose pause died or whose run directory vanished (a reboot) are not ready.
   */
  async recover(): Promise<void> {
    for (const record of await this.store.loadAll()) {
      const log = this.options.log.child({ podSandboxId: record.id });
      const rebooted = !fs.existsSync(record.runDir);
      const alive = !rebooted && record.pause !== undefined && isProcessAlive(record.pause.pid);
      if (!alive && record.state === 'SANDBOX_READY') {
        record.state = 'SANDBOX_NOTREADY';
        log.warn({ rebooted }, 'recovered pod sandbox is not ready');
      }
      if (rebooted) record.pause = undefined;
      try {
        const hold = this.options.images.holdLayers(record.pauseChainIds);
        this.holds.set(record.id, () => hold.release());
      } catch (err) {
        log.warn({ error: messageOf(err) }, 'pause image layers missing');
      }
      this.sandboxes.set(record.id, record);
      this.names.hold(record.reservedName, record.id, record.fingerprint, record.id);
      await this.store.save(record);
    }
  }

  /** Releases of the pod still retried in the background (why it is still listed NOTREADY). */
  pendingCleanups(id: string): PendingCleanup[] {
    return this.options.cleanup.pending(id);
  }

  /** IDs the CNI cache may keep (for CNI GC at start-up). */
  networkedIds(): string[] {
    return [...this.sandboxes.values()].filter((s) => s.networkUp).map((s) => s.id);
  }
}

function safeRead(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function portMappingsOf(config: PodSandboxConfig__Output): PortMapping[] {
  return config.portMappings
    .filter((m) => m.hostPort !== 0)
    .map((m) => normalizePortMapping({ hostPort: m.hostPort, containerPort: m.containerPort, protocol: String(m.protocol).toLowerCase(), ...(m.hostIp ? { hostIP: m.hostIp } : {}) }));
}

const USERNS_FIELD = 'config.linux.securityContext.namespaceOptions.usernsOptions';

/** The pod's user namespace maps (mode POD), checked; undefined for the host's. */
function podUsernsOf(config: PodSandboxConfig__Output): PodUserns | undefined {
  return ociConfig().validatePodUserns(config.linux?.securityContext?.namespaceOptions?.usernsOptions, USERNS_FIELD);
}

/** Everything that can be refused before any resource is created. */
export function validateSandboxConfig(config: PodSandboxConfig__Output): void {
  const m = config.metadata;
  if (!m) throw errors.missingField('config.metadata');
  if (!m.name) throw errors.missingField('config.metadata.name');
  if (!m.namespace) throw errors.missingField('config.metadata.namespace');
  if (!m.uid) throw errors.missingField('config.metadata.uid');
  if (config.hostname) validateHostname(config.hostname);
  if (config.dnsConfig) validateDns(config.dnsConfig);
  for (const [i, pm] of config.portMappings.entries()) {
    if (pm.hostPort === 0 && pm.containerPort === 0) throw errors.invalidArgument(`config.portMappings[${i}]: containerPort must be 1-65535`);
    if (pm.containerPort < 1 || pm.containerPort > 65535) throw errors.invalidArgument(`config.portMappings[${i}].containerPort: must be 1-65535, got ${pm.containerPort}`);
    if (pm.hostPort < 0 || pm.hostPort > 65535) throw errors.invalidArgument(`config.portMappings[${i}].hostPort: must be 0-65535, got ${pm.hostPort}`);
  }
  ociConfig().checkRunAsGroupHasUser(config.linux?.securityContext ?? null, 'config.linux.securityContext');
  const ns = config.linux?.securityContext?.namespaceOptions;
  // hostUsers: false, checked before anything is made: bad maps are refused, and a pod
  // that asked for its own user namespace never runs in the host's.
  if (podUsernsOf(config) && (ns?.network === 'NODE' || ns?.ipc === 'NODE' || ns?.pid === 'NODE')) {
    throw errors.invalidField(`${USERNS_FIELD}.mode`, 'a pod with its own user namespace cannot use the host\'s network, IPC or PID namespace');
  }
  ociConfig().validateSysctls(config.linux?.sysctls ?? {}, { network: ns?.network === 'NODE', ipc: ns?.ipc === 'NODE', uts: ns?.network === 'NODE' }, 'config.linux.sysctls');
}
