// Containers: a CRI ContainerConfig becomes an OCI bundle (overlay root
// filesystem + config.json from src/runtime/oci-config) created by the pod's runtime
// handler under conmon, which keeps it, its logs and its exit code alive across
// restarts of cradled. Exits arrive through the exit monitor (inotify on conmon's
// exit directory), never by polling.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from '../common/logger';
import { crashPoint } from '../common/crash-points';
import { errors, messageOf, withContext } from '../common/errors';
import { UndoStack } from '../common/undo';
import { NameReservations } from '../common/reservations';
import { findByIdOrPrefix } from '../common/id-lookup';
import { RecordStore } from '../common/record-store';
import { EventBus } from '../common/event-bus';
import { bundleParts, conmonFile, type StateLayout } from '../common/state-layout';
import type { CleanupRetrier } from '../runtime/cleanup-retrier';
import { CONTAINER_RESOURCES, containerDataDir, releaseAll, socketLink } from '../runtime/resources';
import type { ImageService } from '../image';
import type { ContainerConfig__Output } from '../generated/runtime/v1/ContainerConfig';
import type { LinuxContainerResources__Output } from '../generated/runtime/v1/LinuxContainerResources';
import type { RuntimeHandlers } from '../runtime/handlers';
import type { SandboxFacts, SpecRuntimeOptions } from '../runtime/oci-config/inputs';
import type { OciProcess, OciSpec } from '../common/oci-spec';
import { ociConfig } from '../runtime/oci-config/lazy';
import { mountOverlay, rootfsIdmap } from '../runtime/rootfs/overlay';
import { mountImages } from './image-mounts';
import { isProcessAlive } from '../runtime/conmon/proc';
import type { ContainerExit } from '../runtime/conmon/exit-monitor';
import type { ConmonCreateRequest } from '../runtime/conmon/conmon';
import type { SandboxManager } from '../pod-sandbox/manager';
import type { SandboxRecord } from '../pod-sandbox/sandbox';
import { nowNanos, reservedContainerName, type ContainerRecord, type ContainerState } from './container';
import { OomLedger } from '../runtime/oom-ledger';
import { systemdUnitOf } from '../common/systemd-units';
import type { CheckpointSource } from './checkpoint';

/** Checkpoints and restores (archives, tar-stream): loaded by the first one, not with the daemon. */
const checkpoints = () => require('./checkpoint') as typeof import('./checkpoint');

/** cri-o's test for a restore: the image names a file on this node (a checkpoint archive), not an image. */
function isCheckpointArchive(image: string): boolean {
  if (!path.isAbsolute(image)) return false;
  try {
    return fs.statSync(image).isFile();
  } catch {
    return false;
  }
}

/**
 * ExecSync output cap: 16 MiB (cri-o's per-stream cap) less room for the rest of the
 * response, for stdout and stderr together, so the reply fits the 16 MiB message
 * limit of the kubelet's and crictl's gRPC clients (a larger one fails on their side).
 */
export const EXEC_SYNC_OUTPUT_LIMIT = 16 * 1024 * 1024 - 1024;
const KILL_WAIT_MS = 10_000;
/** The cleanup kind (label of cradle_cleanup_retries_total) of the runtime's delete of a container. */
const CONTAINER_RUNTIME_KIND = 'container runtime state';
const CGROUP_ROOT = '/sys/fs/cgroup';
/** A day: larger ExecSync timeouts are refused (they would overflow timers). */
const MAX_EXEC_TIMEOUT_SECONDS = 86_400;

export type ContainerEventType = 'CONTAINER_CREATED_EVENT' | 'CONTAINER_STARTED_EVENT' | 'CONTAINER_STOPPED_EVENT' | 'CONTAINER_DELETED_EVENT';

export interface ContainerEvent {
  type: ContainerEventType;
  containerId: string;
  sandboxId: string;
  createdAt: string;
  /** The container as it was at the event (undefined after deletion). */
  container: ContainerRecord | undefined;
}

export interface ContainerFilter {
  id?: string;
  sandboxId?: string;
  state?: ContainerState;
  labelSelector?: Record<string, string>;
}

export interface ContainerManagerOptions {
  layout: StateLayout;
  /** Retries a release that failed in the background (a busy mount, ...). */
  cleanup: CleanupRetrier;
  handlers: RuntimeHandlers;
  images: ImageService;
  sandboxes: SandboxManager;
  specOptions: () => SpecRuntimeOptions;
  /** [runtime] log_size_max: bytes, or -1 for no limit. */
  logSizeMax: number;
  log: Logger;
  onEventDropped?: () => void;
  onOom?: (containerName: string) => void;
  onMonitorDied?: (containerName: string) => void;
}

export interface ExecSyncOutcome {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

export class ContainerManager {
  private readonly containers = new Map<string, ContainerRecord>();
  private readonly names = new NameReservations<string>('container');
  private readonly store: RecordStore<ContainerRecord>;
  private readonly holds = new Map<string, () => void>();
  private readonly exitWaiters = new Map<string, (() => void)[]>();
  /** Starts in progress: an exit seen meanwhile waits, so STARTED is always published before STOPPED. */
  private readonly starting = new Map<string, Promise<void>>();
  private readonly oomLedger = new OomLedger();
  readonly events: EventBus<ContainerEvent>;

  constructor(private readonly options: ContainerManagerOptions) {
    this.store = new RecordStore(options.layout.containerRecords, options.log);
    this.events = new EventBus<ContainerEvent>(1000, options.onEventDropped);
    options.sandboxes.setContainerHooks({
      stopContainers: (sandboxId) => this.stopAllIn(sandboxId),
      removeContainers: (sandboxId) => this.removeAllIn(sandboxId),
    });
  }

  // ---- queries -------------------------------------------------------------

  get(id: string): ContainerRecord | undefined {
    return this.containers.get(id);
  }

  /** Containers conmon still supervises (created or running). */
  monitored(): ContainerRecord[] {
    return this.list().filter((c) => c.state === 'CONTAINER_RUNNING' || c.state === 'CONTAINER_CREATED');
  }

  /** By full id or unique prefix; NOT_FOUND otherwise. */
  find(idOrPrefix: string): ContainerRecord {
    return findByIdOrPrefix(this.containers, idOrPrefix, 'container');
  }

  list(filter: ContainerFilter = {}): ContainerRecord[] {
    return [...this.containers.values()].filter((c) =>
      (!filter.id || c.id.startsWith(filter.id))
      && (!filter.sandboxId || c.sandboxId.startsWith(filter.sandboxId))
      && (!filter.state || c.state === filter.state)
      && Object.entries(filter.labelSelector ?? {}).every(([k, v]) => c.config.labels[k] === v))
      .sort((a, b) => (BigInt(a.createdAt) < BigInt(b.createdAt) ? -1 : 1));
  }

  // ---- CreateContainer -------------------------------------------------------

  async create(sandboxId: string, config: ContainerConfig__Output, log: Logger): Promise<string> {
    const sandbox = this.options.sandboxes.find(sandboxId);
    if (!config.metadata) throw errors.missingField('config.metadata');
    if (!config.metadata.name) throw errors.missingField('config.metadata.name');
    if (!config.image?.image) throw errors.missingField('config.image.image');
    // Refused here, before the image is held or a directory made (the spec builder checks it too).
    ociConfig().checkRunAsGroupHasUser(config.linux?.securityContext ?? null);
    if (!this.options.sandboxes.isReady(sandbox.id)) {
      throw errors.failedPrecondition(`pod sandbox ${sandbox.id} is not ready: cannot create a container in it`);
    }
    const sm = sandbox.config.metadata!;
    const fingerprint = createHash('sha256').update(JSON.stringify(config)).digest('hex');
    const id = randomBytes(32).toString('hex');
    // cri-o's create-from-checkpoint: the image is a checkpoint archive on this node.
    let checkpoint: CheckpointSource | undefined;
    let effective = config;
    if (isCheckpointArchive(config.image.image)) {
      const { readCheckpointSource, requireCriu, restoredConfig } = checkpoints();
      requireCriu();
      fs.mkdirSync(this.options.layout.containerDataDirs, { recursive: true, mode: 0o700 });
      checkpoint = await readCheckpointSource(config.image.image, this.options.layout.containerDataDirs);
      effective = restoredConfig(checkpoint, config);
    }
    return this.names.run(reservedContainerName(config, sm.name, sm.namespace, sm.uid), id, fingerprint,
      () => this.createIn(id, fingerprint, sandbox, effective, log.child({ containerId: id, podSandboxId: sandbox.id }), checkpoint));
  }

  private async createIn(id: string, fingerprint: string, sandbox: SandboxRecord, config: ContainerConfig__Output, log: Logger,
    checkpoint?: CheckpointSource): Promise<string> {
    const undo = new UndoStack();
    const handler = this.options.handlers.get(sandbox.runtimeHandler);
    const dir = this.options.layout.containerDataDir(id);
    try {
      const imageRef = config.image!.image;
      if (!this.options.images.status(imageRef)) throw errors.imageNotFound(imageRef);
      const hold = this.options.images.hold(imageRef);
      undo.push(`releasing image layers for ${id}`, () => hold.release());

      containerDataDir.acquire(this.options.layout, id);
      undo.push(`removing ${dir} and its overlay`, () => containerDataDir.release(this.options.layout, id));
      const facts = sandboxFacts(sandbox);
      const overlay = mountOverlay(dir, hold.overlay, facts.userns && rootfsIdmap(facts.userns));
      crashPoint('CreateContainer', 'overlay-mounted');
      const imageMounts = mountImages(config, (index) => this.options.layout.containerImageMountDir(id, index), this.options.images, undo, facts.userns && rootfsIdmap(facts.userns));
      crashPoint('CreateContainer', 'image-mounts-mounted');
      const restoreImages = checkpoint ? await checkpoints().unpackForRestore(checkpoint.archive, dir, overlay.rootfs) : undefined;

      const logPath = containerLogPath(sandbox, config, this.options.layout, id);
      if (logPath) fs.mkdirSync(path.dirname(logPath), { recursive: true });
      const createdAt = nowNanos();
      const built = ociConfig().buildContainerSpec({
        config,
        sandboxConfig: sandbox.config,
        imageConfig: hold.image.config.config ?? {},
        sandbox: facts,
        rootfs: overlay.rootfs,
        container: { id, logPath, imageRef: hold.image.id, imageVolumeRoot: this.options.layout.containerVolumesDir(id), imageMountSources: imageMounts.sources, createdAt },
        runtime: { ...this.options.specOptions(), supportsRecursiveReadOnly: handler.features.recursiveReadOnlyMounts },
      });
      for (const volume of built.imageVolumes) fs.mkdirSync(volume.hostPath, { recursive: true });
      fs.writeFileSync(bundleParts(dir).config, JSON.stringify(built.spec));
      handler.runtime.prepareBundle(id, dir);
      crashPoint('CreateContainer', 'spec-written');

      const persistDir = this.options.layout.containerPersistDir(id);
      // Before the create: a create that fails has already made conmon's socket link
      // and may have left runtime state (the delete is idempotent).
      undo.push(`deleting container ${id} from the runtime`, async () => {
        await handler.runtime.kill(id, 'KILL', true).catch(() => undefined);
        await handler.runtime.delete(id, true);
        socketLink.release(this.options.layout, id);
      });
      // A restored container has no process until StartContainer restores it.
      const created = restoreImages ? { pid: 0, conmonPid: 0, conmonStartTime: '' } : await handler.conmon.create(this.conmonRequest(id, config, dir, persistDir, logPath));
      crashPoint('CreateContainer', 'runtime-created');
      // The pod may have been stopped or removed while this container was being made.
      if (!this.options.sandboxes.isReady(sandbox.id)) {
        throw errors.failedPrecondition(`pod sandbox ${sandbox.id} was stopped or removed while container ${id} was being created`);
      }

      const record: ContainerRecord = {
        id, sandboxId: sandbox.id, fingerprint,
        reservedName: reservedContainerName(config, sandbox.config.metadata!.name, sandbox.config.metadata!.namespace, sandbox.config.metadata!.uid),
        state: 'CONTAINER_CREATED', createdAt, startedAt: '0', finishedAt: '0', exitCode: 0, reason: '', message: '',
        config, image: imageRef, imageId: hold.image.id, imageChainIds: hold.image.chainIds, runtimeHandler: handler.name,
        dir, rootfs: overlay.rootfs, upperDir: overlay.upper, persistDir, logPath, stopSignal: built.stopSignal, user: built.user,
        pid: created.pid, conmonPid: created.conmonPid, conmonStartTime: created.conmonStartTime,
        resources: config.linux?.resources ?? null, cgroupsPath: built.spec.linux?.cgroupsPath ?? '',
        imageMounts: imageMounts.records,
        ...(checkpoint && restoreImages ? { restoredFrom: checkpoint.archive, restoreImages } : {}),
      };
      await this.store.save(record);
      crashPoint('CreateContainer', 'recorded');
      this.containers.set(id, record);
      this.holds.set(id, () => {
        hold.release();
        imageMounts.release();
      });
      undo.release();
      this.publish('CONTAINER_CREATED_EVENT', record);
      log.info({ name: config.metadata!.name, image: imageRef, ...(checkpoint ? { checkpoint: checkpoint.archive } : {}) }, 'container created');
      return id;
    } catch (err) {
      const failures = await undo.unwind(log, { owner: id, to: this.options.cleanup });
      if (failures.length) log.error({ failures }, 'cleanup after a failed CreateContainer is retried in the background');
      if (!this.options.sandboxes.isReady(sandbox.id) && !errors.failedPrecondition.is(err)) {
        // A runtime error because the pod's namespaces vanished: say what happened.
        throw errors.failedPrecondition(`pod sandbox ${sandbox.id} was stopped or removed while container ${config.metadata!.name} was being created`);
      }
      throw withContext(err, `creating container ${config.metadata!.name} in pod sandbox ${sandbox.id}`);
    }
  }

  private conmonRequest(id: string, config: ContainerConfig__Output, dir: string, persistDir: string, logPath: string, restorePath?: string): ConmonCreateRequest {
    return {
      id, name: config.metadata!.name, bundle: dir, persistDir,
      logPath: logPath || path.join(dir, 'console.log'),
      tty: config.tty, stdin: config.stdin, stdinOnce: config.stdinOnce, timeoutMs: 240_000,
      ...(this.options.logSizeMax > 0 ? { logSizeMax: this.options.logSizeMax } : {}),
      ...(restorePath ? { restorePath } : {}),
    };
  }

  // ---- StartContainer / StopContainer / RemoveContainer ------------------

  async start(idOrPrefix: string, log: Logger): Promise<void> {
    const c = this.find(idOrPrefix);
    if (c.state !== 'CONTAINER_CREATED') {
      throw errors.failedPrecondition(`container ${c.id} is ${c.state.replace('CONTAINER_', '').toLowerCase()}, not created: it cannot be started`);
    }
    const handler = this.options.handlers.get(c.runtimeHandler);
    let finished!: () => void;
    this.starting.set(c.id, new Promise<void>((resolve) => { finished = resolve; }));
    try {
      await this.startIn(c, handler, log);
    } finally {
      this.starting.delete(c.id);
      finished();
    }
  }

  private async startIn(c: ContainerRecord, handler: ReturnType<RuntimeHandlers['get']>, log: Logger): Promise<void> {
    if (c.restoreImages) {
      await this.restoreIn(c, handler, log);
      return;
    }
    const startedAt = nowNanos();
    try {
      await handler.runtime.start(c.id);
      crashPoint('StartContainer', 'started');
    } catch (err) {
      // A retry after the runtime started it but the RUNNING state could not be saved.
      const state = await handler.runtime.state(c.id).catch(() => undefined);
      if (state?.status !== 'running') {
        await this.save(c, (next) => {
          Object.assign(next, { state: 'CONTAINER_EXITED', startedAt, finishedAt: nowNanos(), exitCode: 128, reason: 'StartError', message: messageOf(err) });
        }, `starting container ${c.id}: ${messageOf(err)}; recording the failure`);
        throw withContext(err, `starting container ${c.id}`);
      }
      log.warn('container was already started by the runtime: recording it as running');
    }
    // An exit may have been recorded between start and here (a short-lived process).
    await this.save(c, (next) => {
      next.startedAt = startedAt;
      if (next.state === 'CONTAINER_CREATED') next.state = 'CONTAINER_RUNNING';
    }, `recording the start of container ${c.id}`);
    this.publish('CONTAINER_STARTED_EVENT', c);
    log.info('container started');
  }

  /**
   * StartContainer of a container made from a checkpoint: conmon runs the runtime's
   * restore, and the processes continue where they were checkpointed.
   */
  private async restoreIn(c: ContainerRecord, handler: ReturnType<RuntimeHandlers['get']>, log: Logger): Promise<void> {
    const startedAt = nowNanos();
    let created: Awaited<ReturnType<typeof handler.conmon.create>>;
    try {
      checkpoints().carryOverLog(c.dir, c.logPath);
      created = await handler.conmon.create(this.conmonRequest(c.id, c.config, c.dir, c.persistDir, c.logPath, c.restoreImages));
    } catch (err) {
      await handler.runtime.delete(c.id, true).catch(() => undefined);
      await this.save(c, (next) => {
        Object.assign(next, { state: 'CONTAINER_EXITED', startedAt, finishedAt: nowNanos(), exitCode: 128, reason: 'StartError', message: messageOf(err) });
        delete next.restoreImages;
      }, `restoring container ${c.id}: ${messageOf(err)}; recording the failure`);
      throw withContext(err, `restoring container ${c.id} from ${c.restoredFrom}`);
    }
    await this.save(c, (next) => {
      Object.assign(next, { pid: created.pid, conmonPid: created.conmonPid, conmonStartTime: created.conmonStartTime, startedAt });
      if (next.state === 'CONTAINER_CREATED') next.state = 'CONTAINER_RUNNING';
      delete next.restoreImages;
    }, `recording the restore of container ${c.id}`);
    fs.rmSync(path.join(c.dir, checkpoints().RESTORE_DIR), { recursive: true, force: true });
    this.publish('CONTAINER_STARTED_EVENT', c);
    log.info({ pid: created.pid, checkpoint: c.restoredFrom }, 'container restored from its checkpoint');
  }

  /** CheckpointContainer: the archive at location; the container keeps running (the kubelet's forensic checkpoint). */
  async checkpoint(idOrPrefix: string, location: string, timeoutSeconds: number, log: Logger): Promise<void> {
    const c = this.find(idOrPrefix);
    if (!location) throw errors.missingField('location');
    if (c.state !== 'CONTAINER_RUNNING') {
      throw errors.failedPrecondition(`container ${c.id} is ${c.state.replace('CONTAINER_', '').toLowerCase()}: only a running container can be checkpointed`);
    }
    // Its terminal's master is conmon's: CRIU would need its RPC hand-over of orphaned ptys.
    if (c.config.tty) throw errors.failedPrecondition(`container ${c.id} has a terminal (tty): cradle cannot checkpoint containers with a terminal`);
    const { exportCheckpoint, requireCriu } = checkpoints();
    requireCriu();
    const handler = this.options.handlers.get(c.runtimeHandler);
    await exportCheckpoint({
      container: c, runtime: handler.runtime, runtimeHandler: handler.name, location,
      timeoutMs: timeoutSeconds > 0 ? timeoutSeconds * 1000 : 600_000,
    });
    log.info({ location }, 'container checkpointed');
  }

  /** Changes a record in memory only once it is on disk (RecordStore.update); a failed write is a catalogue error. */
  private async save(c: ContainerRecord, change: (next: ContainerRecord) => void, context: string): Promise<void> {
    try {
      await this.store.update(c, change);
    } catch (err) {
      throw withContext(err, context);
    }
  }

  /** Stop signal, then SIGKILL after `timeoutSeconds`. Idempotent. */
  async stop(idOrPrefix: string, timeoutSeconds: number, log: Logger): Promise<void> {
    const c = this.find(idOrPrefix);
    if (c.state === 'CONTAINER_EXITED') return;
    const handler = this.options.handlers.get(c.runtimeHandler);
    if (c.state === 'CONTAINER_CREATED' || timeoutSeconds <= 0) {
      await this.killAndWait(c, 'KILL', KILL_WAIT_MS);
    } else {
      await handler.runtime.kill(c.id, c.stopSignal).catch((err: unknown) => log.debug({ error: messageOf(err) }, 'stop signal'));
      if (!(await this.waitForExit(c, timeoutSeconds * 1000))) {
        log.info({ timeoutSeconds }, 'container ignored its stop signal: killing it');
        await this.killAndWait(c, 'KILL', KILL_WAIT_MS);
      }
    }
    await this.killRemaining(c);
    log.info('container stopped');
  }

  /**
   * Processes the init left behind (with the host's or the pod's PID namespace
   * its children outlive it): every process still in the container's cgroup.
   */
  private async killRemaining(c: ContainerRecord): Promise<void> {
    await this.options.handlers.get(c.runtimeHandler).runtime.kill(c.id, 'KILL', true).catch(() => undefined);
  }

  private async killAndWait(c: ContainerRecord, signal: string, waitMs: number): Promise<void> {
    if (c.restoreImages && c.state === 'CONTAINER_CREATED') {
      // Made from a checkpoint and never restored: no process, no monitor.
      await this.recordExit(c, { id: c.id, exitCode: 0, finishedAt: new Date() }, 'Completed');
      return;
    }
    const handler = this.options.handlers.get(c.runtimeHandler);
    await handler.runtime.kill(c.id, signal, true).catch(() => undefined);
    if (!(await this.waitForExit(c, waitMs)) && !isProcessAlive(c.pid)) {
      // conmon is gone too (killed from outside): record the exit ourselves.
      await this.recordExit(c, { id: c.id, exitCode: 137, finishedAt: new Date() }, 'ContainerMonitorDied');
    }
  }

  /** Resolves true when the container has exited (state EXITED), false on timeout. */
  private waitForExit(c: ContainerRecord, timeoutMs: number): Promise<boolean> {
    if (c.state === 'CONTAINER_EXITED') return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const list = this.exitWaiters.get(c.id) ?? [];
        this.exitWaiters.set(c.id, list.filter((w) => w !== done));
        resolve(c.state === 'CONTAINER_EXITED');
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.exitWaiters.set(c.id, [...(this.exitWaiters.get(c.id) ?? []), done]);
    });
  }

  /** Removes the container (killing it if it runs). Idempotent for unknown ids. */
  async remove(idOrPrefix: string, log: Logger): Promise<void> {
    let c: ContainerRecord;
    try {
      c = this.find(idOrPrefix);
    } catch {
      return;
    }
    if (c.state === 'CONTAINER_RUNNING' || c.state === 'CONTAINER_CREATED') await this.killAndWait(c, 'KILL', KILL_WAIT_MS);
    await this.killRemaining(c);
    // As a pod's: a failed release is retried in the background, and the container
    // stays listed (EXITED) with RemoveContainer UNAVAILABLE until it succeeds. The
    // runtime's delete (its state, the cgroup: busy while a process is left in it)
    // goes first: the rootfs stays mounted while anything may still use it.
    const handler = this.options.handlers.get(c.runtimeHandler);
    const layout = this.options.layout;
    const released = await this.options.cleanup.release(CONTAINER_RUNTIME_KIND, c.id, () => handler.runtime.delete(c.id, true))
      && await this.options.cleanup.release('container resources', c.id, () => releaseAll(CONTAINER_RESOURCES, layout, c.id));
    if (!released) throw errors.unavailable(`container ${c.id}: ${this.options.cleanup.describePending(c.id)}`);
    this.holds.get(c.id)?.();
    this.holds.delete(c.id);
    await this.store.remove(c.id);
    this.containers.delete(c.id);
    this.names.release(c.reservedName, c.id);
    this.publish('CONTAINER_DELETED_EVENT', c, undefined);
    log.info('container removed');
  }

  private async stopAllIn(sandboxId: string): Promise<void> {
    await Promise.all(this.list({ sandboxId }).filter((c) => c.state !== 'CONTAINER_EXITED')
      .map((c) => this.stop(c.id, 0, this.options.log.child({ containerId: c.id, podSandboxId: sandboxId }))));
  }

  private async removeAllIn(sandboxId: string): Promise<void> {
    for (const c of this.list({ sandboxId })) await this.remove(c.id, this.options.log.child({ containerId: c.id, podSandboxId: sandboxId }));
    this.oomLedger.forget(sandboxId);
  }

  // ---- exits -------------------------------------------------------------------

  /** Called by the exit monitor for every exit file; true when it was one of ours. */
  async handleExit(exit: ContainerExit): Promise<boolean> {
    const c = this.containers.get(exit.id);
    if (!c) return false;
    await this.recordExit(c, exit);
    return true;
  }

  private async recordExit(c: ContainerRecord, exit: ContainerExit, reason?: string): Promise<void> {
    await this.starting.get(c.id);
    if (c.state === 'CONTAINER_EXITED') return;
    const conmonSawOom = fs.existsSync(conmonFile(c.dir, 'oom')) || fs.existsSync(conmonFile(c.persistDir, 'oom'));
    // Under the systemd driver systemd may have removed the scope (and the memory.events
    // conmon reads) first: the pod slice's counters tell. Asked at every exit, to keep its count.
    const ledgerSawOom = this.options.specOptions().cgroupDriver === 'systemd' && c.cgroupsPath !== ''
      && this.oomLedger.killedAtExit(c.sandboxId, path.join(CGROUP_ROOT, systemdUnitOf(c.cgroupsPath).cgroup), exit.exitCode === 128 + 9);
    const oom = conmonSawOom || ledgerSawOom;
    // The exit file's mtime has millisecond precision: never report finishing before starting.
    const finished = BigInt(exit.finishedAt.getTime()) * 1_000_000n;
    await this.save(c, (next) => {
      next.state = 'CONTAINER_EXITED';
      next.exitCode = exit.exitCode;
      next.finishedAt = (finished > BigInt(next.startedAt) ? finished : BigInt(next.startedAt)).toString();
      next.reason = reason ?? (oom ? 'OOMKilled' : exit.exitCode === 0 ? 'Completed' : 'Error');
      next.message = reason === 'ContainerMonitorDied' ? 'conmon, the container\'s monitor, died: the container was killed and its real exit code is unknown' : '';
    }, `recording the exit of container ${c.id}`);
    if (oom) this.options.onOom?.(c.config.metadata?.name ?? c.id);
    // Published with the state change, before anything yields: a caller that sees
    // EXITED and removes the container at once must not get DELETED before STOPPED.
    this.publish('CONTAINER_STOPPED_EVENT', c);
    for (const waiter of this.exitWaiters.get(c.id) ?? []) waiter();
    this.exitWaiters.delete(c.id);
    // Which source told of an OOM kill (the pod slice: systemd removed the scope before conmon read it).
    const oomSeenBy = conmonSawOom ? 'conmon' : ledgerSawOom ? 'pod slice' : undefined;
    this.options.log.info({ containerId: c.id, exitCode: c.exitCode, reason: c.reason, ...(oomSeenBy ? { oomSeenBy } : {}) }, 'container exited');
  }

  /**
   * Finds containers whose conmon died (killed from outside) while they ran: their
   * process is killed (nothing would collect its exit) and the container is
   * reported exited with reason ContainerMonitorDied, instead of hanging as running.
   */
  async probeMonitors(): Promise<void> {
    for (const c of this.containers.values()) {
      if (c.state !== 'CONTAINER_RUNNING' || isProcessAlive(c.conmonPid, c.conmonStartTime)) continue;
      if (fs.existsSync(conmonFile(c.persistDir, 'exit'))) continue; // a normal exit the monitor will report
      this.options.log.warn({ containerId: c.id, conmonPid: c.conmonPid }, 'conmon of a running container died');
      await this.options.handlers.get(c.runtimeHandler).runtime.kill(c.id, 'KILL', true).catch(() => undefined);
      this.options.onMonitorDied?.(c.config.metadata?.name ?? c.id);
      await this.recordExit(c, { id: c.id, exitCode: 137, finishedAt: new Date() }, 'ContainerMonitorDied');
    }
  }

  // ---- ExecSync, UpdateContainerResources, ReopenContainerLog ------------

  async execSync(idOrPrefix: string, cmd: string[], timeoutSeconds: number): Promise<ExecSyncOutcome> {
    const c = this.find(idOrPrefix);
    if (cmd.length === 0 || cmd[0] === '') throw errors.missingField('cmd');
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0 || timeoutSeconds > MAX_EXEC_TIMEOUT_SECONDS) {
      throw errors.invalidArgument(`timeout: must be 0 (none) to ${MAX_EXEC_TIMEOUT_SECONDS} seconds, got ${timeoutSeconds}`);
    }
    if (c.state !== 'CONTAINER_RUNNING') throw errors.failedPrecondition(`container ${c.id} is not running`);
    const handler = this.options.handlers.get(c.runtimeHandler);
    const process = ociConfig().buildExecProcess(this.processOf(c), cmd, false);
    const result = await handler.runtime.execSync({
      id: c.id, name: c.config.metadata!.name, process, tty: false, timeoutSeconds,
      workDir: this.options.layout.newExecWorkDir(c.id),
      maxOutputBytes: EXEC_SYNC_OUTPUT_LIMIT,
    });
    // As cri-o: a timeout is exit code -1 and a message, so a probe fails instead of going Unknown.
    const stderr = result.timedOut ? Buffer.concat([result.stderr, Buffer.from(`command ${JSON.stringify(cmd)} timed out after ${timeoutSeconds}s\n`)]) : result.stderr;
    const stdout = result.stdout.subarray(0, EXEC_SYNC_OUTPUT_LIMIT);
    return { stdout, stderr: stderr.subarray(0, EXEC_SYNC_OUTPUT_LIMIT - stdout.length), exitCode: result.timedOut ? -1 : result.exitCode };
  }

  /** The OCI process of the container (for exec: same user, env, caps, cwd). */
  processOf(c: ContainerRecord): OciProcess {
    const spec = JSON.parse(fs.readFileSync(bundleParts(c.dir).config, 'utf8')) as OciSpec;
    return spec.process!;
  }

  async updateResources(idOrPrefix: string, resources: LinuxContainerResources__Output | null, log: Logger): Promise<void> {
    const c = this.find(idOrPrefix);
    if (!resources) throw errors.missingField('linux');
    if (c.state === 'CONTAINER_EXITED') throw errors.failedPrecondition(`container ${c.id} has exited`);
    const oci = ociConfig().buildResources(resources, this.options.specOptions(), 'linux');
    await this.options.handlers.get(c.runtimeHandler).runtime.update(c.id, oci);
    await this.save(c, (next) => { next.resources = resources; }, `recording the resources of container ${c.id}`);
    log.info('container resources updated');
  }

  /** Asks conmon to reopen the log file (after the kubelet rotated it). */
  async reopenLog(idOrPrefix: string): Promise<void> {
    const c = this.find(idOrPrefix);
    if (c.state !== 'CONTAINER_RUNNING') throw errors.failedPrecondition(`container ${c.id} is not running`);
    const before = fs.existsSync(c.logPath);
    const fd = fs.openSync(conmonFile(c.dir, 'ctl'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    try {
      fs.writeSync(fd, '2 0 0\n');
    } finally {
      fs.closeSync(fd);
    }
    // conmon reopens asynchronously; wait (briefly) for the new file to appear.
    for (let i = 0; i < 100 && !fs.existsSync(c.logPath); i++) await new Promise((r) => setTimeout(r, 10));
    if (!before && !fs.existsSync(c.logPath)) throw errors.internal(`container ${c.id}: conmon did not reopen ${c.logPath}`);
  }

  // ---- recovery --------------------------------------------------------------

  /** Loads every recorded container after a restart; exits recorded while cradled was down are applied by the exit monitor's start-up scan. */
  async recover(): Promise<void> {
    // Made now, not by the first create: on a read-only filesystem a create's
    // recursive mkdir would report the missing parent (ENOENT), not EROFS.
    fs.mkdirSync(this.options.layout.containerDataDirs, { recursive: true, mode: 0o700 });
    for (const record of await this.store.loadAll()) {
      const log = this.options.log.child({ containerId: record.id, podSandboxId: record.sandboxId });
      if (!this.options.sandboxes.get(record.sandboxId)) {
        log.warn('container of an unknown pod sandbox: removing its record');
        await this.store.remove(record.id);
        continue;
      }
      const releases: Array<() => void> = [];
      for (const chainIds of [record.imageChainIds, ...(record.imageMounts ?? []).map((m) => m.chainIds)]) {
        try {
          releases.push(this.options.images.holdLayers(chainIds).release);
        } catch (err) {
          log.warn({ error: messageOf(err) }, 'image layers missing');
        }
      }
      this.holds.set(record.id, () => { for (const release of releases) release(); });
      this.containers.set(record.id, record);
      this.names.hold(record.reservedName, record.id, record.fingerprint, record.id);
      // Made from a checkpoint and not restored yet: no monitor runs until its StartContainer.
      if (record.state === 'CONTAINER_CREATED' && record.restoreImages) continue;
      const monitorAlive = isProcessAlive(record.conmonPid, record.conmonStartTime);
      if ((record.state === 'CONTAINER_RUNNING' || record.state === 'CONTAINER_CREATED') && !monitorAlive) {
        const exitFile = conmonFile(record.persistDir, 'exit');
        if (fs.existsSync(exitFile)) {
          const code = Number(fs.readFileSync(exitFile, 'utf8').trim());
          await this.recordExit(record, { id: record.id, exitCode: Number.isFinite(code) ? code : 255, finishedAt: fs.statSync(exitFile).mtime });
        } else {
          await this.recordExit(record, { id: record.id, exitCode: 255, finishedAt: new Date() }, 'ContainerMonitorDied');
        }
      } else if (record.state === 'CONTAINER_CREATED') {
        await this.recoverStarted(record, log);
      }
    }
  }

  /**
   * A CREATED record whose container the runtime reports running: cradled died
   * between the runtime's start and saving the new state. It is running (the
   * kubelet would not start it again); the start time is when this was noticed.
   */
  private async recoverStarted(record: ContainerRecord, log: Logger): Promise<void> {
    const state = await this.options.handlers.get(record.runtimeHandler).runtime.state(record.id).catch(() => undefined);
    if (state?.status !== 'running') return;
    await this.save(record, (next) => {
      next.state = 'CONTAINER_RUNNING';
      next.startedAt = nowNanos();
    }, `recording container ${record.id} as running`);
    this.publish('CONTAINER_STARTED_EVENT', record);
    log.warn('container was started before cradled stopped: recorded as running');
  }

  // ---- events ------------------------------------------------------------------

  private publish(type: ContainerEventType, c: ContainerRecord, snapshot: ContainerRecord | undefined = { ...c }): void {
    this.events.publish({ type, containerId: c.id, sandboxId: c.sandboxId, createdAt: nowNanos(), container: snapshot });
  }
}

/** Where the kubelet wants the log: LogDirectory (pod) joined with LogPath (container). */
export function containerLogPath(sandbox: SandboxRecord, config: ContainerConfig__Output, layout: StateLayout, id: string): string {
  if (config.logPath && sandbox.config.logDirectory) {
    const full = path.resolve(sandbox.config.logDirectory, config.logPath);
    if (!full.startsWith(path.resolve(sandbox.config.logDirectory) + path.sep)) {
      throw errors.invalidArgument(`config.logPath: ${JSON.stringify(config.logPath)} leaves the pod's log directory`);
    }
    return full;
  }
  return path.join(layout.podLogDir(sandbox.id), `${config.metadata!.name}_${config.metadata!.attempt}_${id.slice(0, 12)}.log`);
}

function sandboxFacts(s: SandboxRecord): SandboxFacts {
  return {
    id: s.id,
    namespaces: {
      network: s.hostNetwork ? 'host' : { path: s.pinned.net! },
      ipc: s.hostIpc ? 'host' : { path: s.pinned.ipc! },
      uts: s.hostNetwork ? 'host' : { path: s.pinned.uts! },
      // The pause's PID namespace, for containers asking for POD (also the CRI default).
      ...(s.pidMode === 'NODE' ? { pid: 'host' as const } : s.pause ? { pid: { path: `/proc/${s.pause.pid}/ns/pid` } } : {}),
    },
    hostname: s.hostname,
    resolvConfPath: s.files.resolvConf,
    hostsPath: s.files.hosts,
    hostnamePath: s.files.hostname,
    shmPath: s.files.shm,
    cgroupParent: s.config.linux?.cgroupParent ?? '',
    sysctls: s.config.linux?.sysctls ?? {},
    ...(s.userns && s.pinned.user ? { userns: { ...s.userns, path: s.pinned.user } } : {}),
  };
}
