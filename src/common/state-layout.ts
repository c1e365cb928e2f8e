// Every path cradle owns under its two state roots, spelled once. `root`
// ([state] root) keeps what must survive a reboot: records, container data,
// logs, images. `runRoot` ([state] run_root, a tmpfs) keeps what a reboot may
// lose: pod run dirs, namespace pins, conmon's socket links and exit files,
// runtime state. The daemon, the managers, `cradled check` and the tests all
// ask this class, so a path cannot be spelled differently in two places.
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Namespaces a pod pins by bind mount under <run_root>/ns/<kind>/<id>. */
export const PINNABLE_KINDS = ['net', 'ipc', 'uts', 'user'] as const;
export type PinnableKind = (typeof PINNABLE_KINDS)[number];

/** The parts of a bundle dir (a pause's or a container's) that mountOverlay makes. */
export function bundleParts(bundle: string): { rootfs: string; upper: string; work: string; config: string; pidFile: string; conmonPidFile: string } {
  return {
    rootfs: path.join(bundle, 'rootfs'), upper: path.join(bundle, 'upper'), work: path.join(bundle, 'work'),
    config: path.join(bundle, 'config.json'),
    /** The container init's pid (written by the runtime) and conmon's own. */
    pidFile: path.join(bundle, 'pidfile'), conmonPidFile: path.join(bundle, 'conmon-pidfile'),
  };
}

/**
 * Files conmon keeps: `exit` (the exit code) in the persist dir, `oom` in the persist
 * or bundle dir, and `ctl` (resize and log-reopen requests) in the bundle dir.
 */
export function conmonFile(dir: string, name: 'exit' | 'oom' | 'ctl'): string {
  return path.join(dir, name);
}

export class StateLayout {
  constructor(readonly root: string, readonly runRoot: string) {}

  static of(config: { state: { root: string; run_root: string } }): StateLayout {
    return new StateLayout(config.state.root, config.state.run_root);
  }

  // ---- persistent, under root ------------------------------------------------

  /** One JSON record per pod sandbox. */
  get podRecords(): string { return path.join(this.root, 'pods'); }
  /** One JSON record per container. */
  get containerRecords(): string { return path.join(this.root, 'containers'); }
  /** conmon's persist dirs of pause processes (exit file, oom marker). */
  get podPersistDirs(): string { return path.join(this.root, 'pods-persist'); }
  podPersistDir(id: string): string { return path.join(this.podPersistDirs, id); }
  /** Container bundles: config.json, the overlay (rootfs, upper, work), persist dir, image volumes. */
  get containerDataDirs(): string { return path.join(this.root, 'containers-data'); }
  containerDataDir(id: string): string { return path.join(this.containerDataDirs, id); }
  /** Where mountOverlay (runtime/rootfs/overlay.ts) mounts a bundle's root filesystem. */
  containerRootfs(id: string): string { return bundleParts(this.containerDataDir(id)).rootfs; }
  containerPersistDir(id: string): string { return path.join(this.containerDataDir(id), 'persist'); }
  containerVolumesDir(id: string): string { return path.join(this.containerDataDir(id), 'volumes'); }
  /** The overlay of the image that config.mounts[index] names (an image mount, KEP-4639). */
  containerImageMountDir(id: string, index: number): string { return path.join(this.containerDataDir(id), 'image-mounts', String(index)); }
  /** Container logs of pods without a log directory of their own. */
  get podLogDirs(): string { return path.join(this.root, 'logs'); }
  podLogDir(sandboxId: string): string { return path.join(this.podLogDirs, sandboxId); }
  get imageRoot(): string { return path.join(this.root, 'image'); }
  get cniCacheDir(): string { return path.join(this.root, 'cni'); }
  get runtimeSettingsFile(): string { return path.join(this.root, 'runtime-settings.json'); }

  // ---- volatile, under run_root ------------------------------------------------

  /** Pod run dirs: pod files, the pause bundle, the pod's /dev/shm. */
  get podRunDirs(): string { return path.join(this.runRoot, 'pods'); }
  podRunDir(id: string): string { return path.join(this.podRunDirs, id); }
  pauseBundle(id: string): string { return path.join(this.podRunDir(id), 'pause'); }
  pauseRootfs(id: string): string { return bundleParts(this.pauseBundle(id)).rootfs; }
  podFiles(id: string): { resolvConf: string; hosts: string; hostname: string } {
    const dir = this.podRunDir(id);
    return { resolvConf: path.join(dir, 'resolv.conf'), hosts: path.join(dir, 'hosts'), hostname: path.join(dir, 'hostname') };
  }
  pauseLog(id: string): string { return path.join(this.podRunDir(id), 'pause.log'); }
  podShm(id: string): string { return path.join(this.podRunDir(id), 'shm'); }
  /** Namespace pins: <ns>/<kind>/<id>, a private mount. */
  get namespacePins(): string { return path.join(this.runRoot, 'ns'); }
  namespacePinDir(kind: PinnableKind): string { return path.join(this.namespacePins, kind); }
  namespacePin(kind: PinnableKind, id: string): string { return path.join(this.namespacePinDir(kind), id); }
  /** conmon's attach-socket links (--socket-dir-path), one per container or pause id. */
  get socketLinks(): string { return path.join(this.runRoot, 's'); }
  socketLink(id: string): string { return path.join(this.socketLinks, id); }
  /** The attach socket conmon serves behind a container's socket link. */
  attachSocket(id: string): string { return path.join(this.socketLink(id), 'attach'); }
  /** conmon's exit files (--exit-dir). */
  get exitDir(): string { return path.join(this.runRoot, 'exits'); }
  /** A runtime handler's own state root, unless it configures one. */
  get runtimeRoots(): string { return path.join(this.runRoot, 'runtimes'); }
  runtimeRoot(handler: string): string { return path.join(this.runtimeRoots, handler); }
  /** Work dirs of exec sessions. */
  get execDirs(): string { return path.join(this.runRoot, 'exec'); }
  /** A new work dir for one exec session in a container (emptied with execDirs at start). */
  newExecWorkDir(containerId: string): string {
    return path.join(this.execDirs, `${containerId.slice(0, 16)}-${randomBytes(6).toString('hex')}`);
  }
  get inspectSocket(): string { return path.join(this.runRoot, 'inspect.sock'); }
}
