// cradled's lifecycle: state directories, services, the CRI server, signals
// (SIGHUP reloads, SIGTERM/SIGINT shut down gracefully and leave containers
// running) and sd_notify readiness.
import * as fs from 'node:fs';
import { createLogger, LogFilter, type Logger } from '../common/logger';
import { errors, messageOf, withContext } from '../common/errors';
import { cradleVersion } from '../common/package-info';
import type { CradleConfig } from '../config/schema';
import { loadConfig, type LoadOptions, type LoadedConfig } from '../config/load';
import { configForDisplay } from '../config/render';
import { planReload } from '../config/reload';
import { CriServer } from '../cri-server/server';
import { prepareSocketPath, socketPathOf } from '../cri-server/socket';
import { loggingInterceptor } from '../cri-server/interceptors';
import { imageRpcs, runtimeRpcs } from '../cri-server/rpc';
import type { CradleServices, ReadinessSource } from '../cri-server/services';
import { sdNotify } from '../sys/sd-notify';
import { RuntimeSettingsFile } from './runtime-settings';
import { RuntimeReadiness } from './runtime-readiness';
import { CniManager, ensureDefaultConfig } from '../cni';
import { ImageService } from '../image';
import { SandboxManager } from '../pod-sandbox/manager';
import { RuntimeHandlers, specRuntimeOptions, type HandlerReload } from '../runtime/handlers';
import { cgroupDriverFor } from '../runtime/cgroup-driver';
import { ExitMonitor } from '../runtime/conmon/exit-monitor';
import { CleanupRetrier } from '../runtime/cleanup-retrier';
import { ContainerManager } from '../containers/manager';
import type { StreamingServer } from '../streaming/server';
import { StatsService } from '../stats/stats-service';
import { auditRecords, checkNeeds, type CheckFinding } from './check';
import { CradleMetrics } from '../metrics/registry';
import { MetricsServer } from '../metrics/server';
import { metricsInterceptor } from '../cri-server/metrics-interceptor';
import { InspectServer, inspectSocketPath, type InspectSource } from './inspect';
import { beforeCallHook, readTestHooks } from './test-hooks';
import { armCrashPoints } from '../common/crash-points';
import { UndoStack } from '../common/undo';
import { StateLayout } from '../common/state-layout';

/** The pause image is always pinned, as in cri-o. */
function pinnedImages(config: CradleConfig): string[] {
  return [...config.image.pinned_images, config.image.pause_image];
}

function openImageService(config: CradleConfig, log: Logger, metrics: CradleMetrics): ImageService {
  const { image } = config;
  return new ImageService({
    root: StateLayout.of(config).imageRoot,
    registries: { confPath: image.registries_conf, confDir: image.registries_conf_dir, certsDir: image.certs_dir },
    ...(image.global_auth_file ? { authFile: image.global_auth_file } : {}),
    maxConcurrentDownloads: image.max_concurrent_downloads,
    pullProgressTimeoutSec: image.pull_progress_timeout / 1000,
    pinned: pinnedImages(config),
    metrics,
    log: log.child({ component: 'image' }),
  });
}

/** Writes cradle's default network when configured and none exists, then loads and watches CNI configs. */
async function startCni(config: CradleConfig, log: Logger, running: UndoStack): Promise<CniManager> {
  const { network } = config;
  if (network.write_default_config) {
    const written = await ensureDefaultConfig(network.cni_config_dir, { subnet: network.default_subnet });
    if (written) log.info({ file: written, subnet: network.default_subnet }, 'no CNI configuration found: wrote cradle\'s default bridge network');
  }
  const cni = new CniManager({
    cacheDir: StateLayout.of(config).cniCacheDir,
    log: log.child({ component: 'cni' }),
    confDir: network.cni_config_dir,
    pluginDirs: network.cni_plugin_dirs,
    execTimeoutMs: network.plugin_timeout,
    ...(network.cni_default_network ? { defaultNetwork: network.cni_default_network } : {}),
  });
  await cni.start();
  running.push('stopping the CNI config watcher', () => cni.stop());
  return cni;
}

function logFindings(log: Logger, findings: CheckFinding[]): void {
  for (const finding of findings) {
    if (finding.repaired) log.warn({ check: finding.what, detail: finding.detail }, 'reclaimed what an interrupted operation left');
    else if (finding.level !== 'ok') log.warn({ check: finding.what, detail: finding.detail }, 'cradled check finding');
  }
}

/** How often conmon processes are checked for having died under a running container. */
const MONITOR_PROBE_MS = 3000;

/** How long in-flight calls may take to finish on shutdown. */
const SHUTDOWN_GRACE_MS = 10_000;

export class Daemon {
  private config: CradleConfig;
  private readonly server: CriServer;
  private stopping: Promise<void> | undefined;

  private readonly startedAt = new Date();

  private constructor(
    loaded: LoadedConfig,
    private readonly loadOptions: LoadOptions,
    readonly log: Logger,
    /** The logger's message filter ([log] filter), replaced on reload. */
    private readonly logFilter: LogFilter,
    readonly services: CradleServices,
    readonly metrics: CradleMetrics,
    /** Stops what start started, in reverse: on a failure later in start, and at shutdown. */
    private readonly running: UndoStack,
    /** Applies a reloaded configuration to what start built (SIGHUP). */
    private readonly onConfigChange: (next: CradleConfig) => HandlerReload,
    /** Releases retried in the background, shown by `cradled status`. */
    private readonly cleanup: CleanupRetrier,
  ) {
    this.config = loaded.config;
    this.server = new CriServer({
      listen: this.config.api.listen,
      maxMessageSize: this.config.api.max_msg_size,
      socketMode: parseInt(this.config.api.socket_mode, 8),
      log,
      runtime: runtimeRpcs(services),
      image: imageRpcs(services),
      interceptors: [loggingInterceptor(), ...(loaded.config.metrics.enable ? [metricsInterceptor(metrics)] : [])],
      beforeCall: beforeCallHook(readTestHooks(), log),
    });
  }

  static async start(loadOptions: LoadOptions): Promise<Daemon> {
    const loaded = loadConfig(loadOptions);
    const { config } = loaded;
    const logFilter = new LogFilter(config.log.filter);
    const log = createLogger({ level: config.log.level, format: config.log.format, name: 'cradled', filter: logFilter });
    armCrashPoints(readTestHooks()?.crashAt);
    // Refuse early when another cradled serves this socket: it owns the state dirs.
    await prepareSocketPath(socketPathOf(config.api.listen));
    await fs.promises.mkdir(config.state.root, { recursive: true, mode: 0o711 });
    await fs.promises.mkdir(config.state.run_root, { recursive: true, mode: 0o711 });

    // Every subsystem started below pushes how to stop it: a failure later in start
    // stops them all in reverse, and shutdown does the same.
    const running = new UndoStack();
    try {
      return await Daemon.startStack(loaded, loadOptions, log, logFilter, running);
    } catch (err) {
      await running.unwind(log);
      throw err;
    }
  }

  private static async startStack(loaded: LoadedConfig, loadOptions: LoadOptions, log: Logger, logFilter: LogFilter, running: UndoStack): Promise<Daemon> {
    const { config } = loaded;
    let current = config;
    const layout = StateLayout.of(config);
    // Exec sessions end with the daemon that ran them: their work dirs are leftovers.
    await fs.promises.rm(layout.execDirs, { recursive: true, force: true });
    await fs.promises.mkdir(layout.execDirs, { mode: 0o700 });
    const runtimeSettings = RuntimeSettingsFile.load(layout.runtimeSettingsFile);
    const metrics = config.metrics.enable ? new CradleMetrics(config.metrics.collectors) : CradleMetrics.disabled();
    metrics.setDefaultRuntime(config.runtime.default_runtime);
    const images = openImageService(config, log, metrics);
    running.push('closing the image service', () => images.close());
    const cni = await startCni(config, log, running);
    runtimeSettings.onPodCidrChange((cidr) => cni.setPodCidr(cidr));
    cni.setPodCidr(runtimeSettings.podCidr());
    const handlers = new RuntimeHandlers(config);
    running.push('stopping the runtime handlers', () => handlers.close());
    const cleanup = new CleanupRetrier({
      log: log.child({ component: 'cleanup' }), onRetry: (kind, succeeded) => metrics.recordCleanupRetry(kind, succeeded),
    });
    running.push('stopping the cleanup retries', () => cleanup.stop());
    metrics.countPendingCleanupsWith(() => cleanup.pending().length);
    let specOptions = specRuntimeOptions(config);
    const sandboxes = new SandboxManager({
      layout, cleanup,
      pause: () => ({ image: current.image.pause_image, command: current.image.pause_command }),
      handlers, cni, images, specOptions: () => specOptions, log: log.child({ component: 'pod-sandbox' }),
      onCniOperation: (op, seconds, failed) => metrics.recordCniOperation(op, seconds, failed),
    });
    await sandboxes.recover();
    const containers = new ContainerManager({
      layout, cleanup, handlers, images, sandboxes,
      specOptions: () => specOptions, logSizeMax: config.runtime.log_size_max, log: log.child({ component: 'containers' }),
      onEventDropped: () => metrics.recordEventDropped(), onOom: (name) => metrics.recordOom(name),
      onMonitorDied: (name) => metrics.recordMonitorStopped(name),
    });
    await containers.recover();
    const monitorProbe = setInterval(() => {
      containers.probeMonitors().catch((err: unknown) => log.error({ error: messageOf(err) }, 'probing monitors failed'));
    }, MONITOR_PROBE_MS);
    monitorProbe.unref();
    running.push('stopping the conmon probe', () => clearInterval(monitorProbe));
    // The audit of `cradled check`, once per start, before any call is served. Its
    // orphans (objects under cradle's own dirs that no record names) are what
    // creations interrupted by a crash left: nothing else makes them, and no
    // creation is under way yet, so they are reclaimed here. What the node lacks
    // is only reported, once the socket serves (it runs programs: iptables).
    logFindings(log, auditRecords(config, true));
    metrics.countConmonWith(() => containers.monitored().length + sandboxes.list({ state: 'SANDBOX_READY' }).length);
    // The streaming server starts once the CRI socket serves (below); Exec, Attach
    // and PortForward wait for it.
    let streamingStarted!: (server: StreamingServer) => void;
    let streamingFailed!: (err: unknown) => void;
    const streaming = new Promise<StreamingServer>((resolve, reject) => {
      streamingStarted = resolve;
      streamingFailed = reject;
    });
    streaming.catch(() => undefined); // a failed start stops the daemon; waiting calls end with it
    const startStreaming = async () => {
      const { StreamingServer: Server, streamingOptionsFromConfig } = require('../streaming/server') as typeof import('../streaming/server');
      const { execBackend } = require('../streaming/backends/exec') as typeof import('../streaming/backends/exec');
      const { portForwardBackend } = require('../streaming/backends/port-forward') as typeof import('../streaming/backends/port-forward');
      const { attachBackend } = require('../streaming/backends/attach') as typeof import('../streaming/backends/attach');
      const server = await Server.start({
        ...(await streamingOptionsFromConfig(config.streaming)),
        backends: {
          exec: execBackend(containers, handlers, layout),
          portForward: portForwardBackend(sandboxes),
          attach: attachBackend(containers, layout),
        },
        logger: log.child({ component: 'streaming' }),
        onSession: (kind, protocol) => metrics.streamSessionStarted(kind, protocol),
      });
      running.push('stopping the streaming server', () => server.stop());
      return server;
    };
    const gc = await cni.gc(sandboxes.networkedIds());
    if (gc.released.length) log.info({ released: gc.released }, 'released network attachments of pods cradle no longer knows');
    const exits = new ExitMonitor(handlers.exitDir, (exit) => {
      void (async () => {
        log.debug({ id: exit.id, exitCode: exit.exitCode }, 'exit file seen');
        if (await containers.handleExit(exit)) {
          await exits.consume(exit.id);
        } else if (sandboxes.get(exit.id)) {
          await sandboxes.pauseExited(exit.id);
          await exits.consume(exit.id);
        } else {
          log.warn({ id: exit.id }, 'exit of a process cradle does not know: file left in place');
        }
      })().catch((err: unknown) => log.error({ id: exit.id, error: messageOf(err) }, 'handling an exit failed'));
    }, log);
    await exits.start();
    running.push('stopping the exit monitor', () => exits.stop());
    const networkReadiness: ReadinessSource = cni;
    const services: CradleServices = {
      config: () => current,
      version: cradleVersion(),
      runtimeReadiness: new RuntimeReadiness(() => current),
      networkReadiness,
      runtimeSettings,
      images,
      sandboxes,
      containers,
      streaming,
      metrics,
      stats: new StatsService(containers, sandboxes, cgroupDriverFor(config.runtime.cgroup_manager), log.child({ component: 'stats' })),
      runtimeHandlerFeatures: () => handlers.features(),
      verboseInfo: () => {
        const network = cni.status();
        return {
          config: configForDisplay(current), sources: loaded.sources, podCidr: runtimeSettings.podCidr(), node: process.version,
          // As containerd's `crictl info`: the loaded networks and the outcome of the last load.
          cniconfig: { confDir: current.network.cni_config_dir, pluginDirs: current.network.cni_plugin_dirs, ...cni.loadedNetworks() },
          lastCNILoadStatus: network.ready ? 'OK' : network.message,
        };
      },
    };
    const onConfigChange = (next: CradleConfig): HandlerReload => {
      // Read first: a seccomp profile that cannot be loaded refuses the reload.
      const nextSpecOptions = specRuntimeOptions(next);
      const handlerChanges = handlers.reload(next.runtime.runtimes);
      specOptions = nextSpecOptions;
      images.setPinned(pinnedImages(next));
      current = next;
      return handlerChanges;
    };
    const daemon = new Daemon(loaded, loadOptions, log, logFilter, services, metrics, running, onConfigChange, cleanup);
    const inspectServer = new InspectServer(daemon.inspectSource(loaded.sources), inspectSocketPath(config), log);
    try {
      await inspectServer.start();
    } catch (err) {
      throw withContext(err, `starting the inspection API on ${inspectSocketPath(config)}`);
    }
    running.push('stopping the inspection API', () => inspectServer.stop());
    if (config.metrics.enable) {
      const metricsServer = new MetricsServer(metrics, {
        host: config.metrics.host, port: config.metrics.port, socket: config.metrics.socket,
        tlsCert: config.metrics.tls_cert, tlsKey: config.metrics.tls_key, log,
      });
      try {
        await metricsServer.start();
      } catch (err) {
        throw withContext(err, `starting the metrics server on ${config.metrics.host}:${config.metrics.port}`);
      }
      running.push('stopping the metrics server', () => metricsServer.stop());
    }
    // The CRI socket last: once it accepts calls, everything else is serving too,
    // but the streaming server, which binds a TCP port right after (Exec, Attach and
    // PortForward wait for it): a client connecting in between is not refused. If
    // it cannot listen, the start fails as before and the socket closes again.
    await daemon.server.start();
    try {
      streamingStarted(await startStreaming());
    } catch (err) {
      streamingFailed(errors.unavailable(`streaming server: ${messageOf(err)}`));
      await daemon.server.shutdown(0);
      throw err;
    }
    log.info({ socket: daemon.server.socketPath, version: services.version, sources: loaded.sources }, 'cradled ready');
    setImmediate(() => {
      try {
        logFindings(log, checkNeeds(config, { probeUserns: false }));
      } catch (err) {
        log.warn({ error: messageOf(err) }, 'checking the node failed');
      }
    });
    try {
      if (sdNotify('READY=1')) log.debug('sent READY=1 to the service manager');
    } catch (err) {
      log.warn({ error: messageOf(err) }, 'sd_notify failed');
    }
    return daemon;
  }

  private inspectSource(sources: string[]): InspectSource {
    return {
      info: () => {
        const runtime = this.services.runtimeReadiness.status();
        const network = this.services.networkReadiness.status();
        return {
          name: 'cradle',
          version: this.services.version,
          node: process.version,
          pid: process.pid,
          startedAt: this.startedAt.toISOString(),
          socket: this.server.socketPath,
          cgroupDriver: cgroupDriverFor(this.config.runtime.cgroup_manager),
          defaultRuntime: this.config.runtime.default_runtime,
          runtimeHandlers: Object.keys(this.config.runtime.runtimes),
          stateRoot: this.config.state.root,
          runRoot: this.config.state.run_root,
          podCidr: this.services.runtimeSettings.podCidr(),
          conditions: { RuntimeReady: runtime, NetworkReady: network },
          pendingCleanups: this.cleanup.pending(),
        };
      },
      config: () => ({ config: this.config, sources }),
      collections: () => ({
        pods: () => this.services.sandboxes.list().map((p) => ({
          id: p.id, name: p.config.metadata?.name, namespace: p.config.metadata?.namespace, state: p.state,
          ips: p.ips.map((i) => i.ip), runtimeHandler: p.runtimeHandler, pausePid: p.pause?.pid,
        })),
        containers: () => this.services.containers.list().map((c) => ({
          id: c.id, podSandboxId: c.sandboxId, name: c.config.metadata?.name, state: c.state, image: c.image,
          pid: c.pid, conmonPid: c.conmonPid, exitCode: c.exitCode, reason: c.reason,
        })),
        images: () => this.services.images.list().map((i) => ({ id: i.id, repoTags: i.repoTags, size: i.size, pinned: i.pinned })),
        conmon: () => this.services.containers.monitored().map((c) => ({ containerId: c.id, conmonPid: c.conmonPid })),
      }),
      item: (collection, id) => {
        try {
          if (collection === 'containers') return this.services.containers.find(id);
          if (collection === 'pods') return this.services.sandboxes.find(id);
          if (collection === 'images') return this.services.images.status(id);
        } catch {
          return undefined;
        }
        return undefined;
      },
    };
  }

  get socketPath(): string {
    return this.server.socketPath;
  }

  /**
   * SIGHUP: re-reads the config files. Reloadable keys (docs/config.md) and the
   * handler tables apply at once; other changed keys are logged as needing a
   * restart. A bad file, or a seccomp profile that cannot be loaded, keeps the old
   * configuration.
   */
  reload(): void {
    let next: CradleConfig;
    try {
      next = loadConfig(this.loadOptions).config;
    } catch (err) {
      this.log.error({ error: messageOf(err) }, 'config reload failed; keeping the current configuration');
      return;
    }
    for (const warning of this.services.images.reloadRegistries()) this.log.warn({ warning }, 'registries configuration');
    const plan = planReload(this.config, next);
    let handlers: HandlerReload;
    try {
      handlers = this.onConfigChange(plan.config);
    } catch (err) {
      this.log.error({ error: messageOf(err) }, 'config reload refused; keeping the current configuration');
      return;
    }
    this.config = plan.config;
    this.log.level = plan.config.log.level;
    this.logFilter.set(plan.config.log.filter);
    const needRestart = [...plan.needRestart, ...handlers.changed.map((name) => `runtime.runtimes.${name}`)];
    if (needRestart.length > 0) this.log.warn({ keys: needRestart }, 'these configuration changes take effect after a restart');
    this.log.info({
      applied: plan.applied.filter((key) => key !== 'runtime.runtimes'),
      handlersAdded: handlers.added, handlersRemoved: handlers.removed,
    }, 'configuration reloaded');
  }

  /** Stops serving; containers and pods are left running. Idempotent. */
  shutdown(): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('shutting down: no new calls, finishing in-flight ones');
      try {
        sdNotify('STOPPING=1');
      } catch { /* best effort */ }
      await this.server.shutdown(SHUTDOWN_GRACE_MS);
      await this.running.unwind(this.log);
      this.log.info('cradled stopped');
    })();
    return this.stopping;
  }

  /** Wires SIGHUP, SIGTERM and SIGINT. A second SIGTERM/SIGINT exits at once. */
  handleSignals(exit: (code: number) => void): void {
    process.on('SIGHUP', () => this.reload());
    let signalled = false;
    const stop = (signal: string) => {
      if (signalled) {
        this.log.warn({ signal }, 'second signal: exiting now');
        exit(1);
        return;
      }
      signalled = true;
      this.log.info({ signal }, 'signal received');
      this.shutdown().then(() => exit(0), (err: unknown) => {
        this.log.error({ error: messageOf(err) }, 'shutdown failed');
        exit(1);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  }
}
