// The catalogue of what a pod or container owns on the filesystem, one entry per
// kind: where it lives (StateLayout), how it is made, how it is released and how
// `cradled check` finds one no record names. A failed create's undo, remove(),
// the start-up reclaim and `check --repair` all call the same `release`, so the
// inverse of a resource is written once. Every `release` is idempotent: releasing
// what is already gone succeeds, which is what lets a cleanup be retried.
import * as fs from 'node:fs';
import { MS_NODEV, MS_NOEXEC, MS_NOSUID } from '../sys/constants';
import { mountsUnder } from '../sys/mountinfo';
import { mount } from '../sys/libc';
import { unmountOverlay } from './rootfs/overlay';
import { PINNABLE_KINDS, type StateLayout } from '../common/state-layout';

/** Ids that have a record (anything else under the roots is a leftover). */
export interface KnownIds {
  pods: ReadonlySet<string>;
  containers: ReadonlySet<string>;
}

/** One resource no record names, as `cradled check` lists it. */
export interface Leftover {
  kind: ResourceKind;
  id: string;
  path: string;
}

export interface ResourceKind {
  /** What `check` calls a leftover of this kind. */
  readonly leftoverName: string;
  /** The path of the resource of `id` (for messages). */
  path(layout: StateLayout, id: string): string;
  /** Makes it (kinds another module makes, as namespace pins, have none here). */
  acquire?(layout: StateLayout, id: string, ...options: never[]): unknown;
  /** Releases it; succeeds when it is already gone. */
  release(layout: StateLayout, id: string): void;
  /** Those without a record. */
  findLeftovers(layout: StateLayout, known: KnownIds): Leftover[];
}

const POD_SHM_SIZE = 64 * 1024 * 1024;

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** Detaches any mount (overlay, tmpfs, bind); not mounted or gone is fine. */
const unmountIfMounted = unmountOverlay;

function leftoversIn(kind: ResourceKind, layout: StateLayout, dir: string, known: ReadonlySet<string>): Leftover[] {
  return listDir(dir).filter((id) => !known.has(id)).map((id) => ({ kind, id, path: kind.path(layout, id) }));
}

/** <run_root>/pods/<id>: pod files, the pause bundle (its overlay mounted), the pod's /dev/shm tmpfs. */
export const podRunDir = {
  leftoverName: 'pod run directory without a record',
  path: (layout: StateLayout, id: string) => layout.podRunDir(id),
  /**
   * Makes the run dir and, unless the pod shares the host's IPC, its /dev/shm tmpfs (owned by
   * `owner`, the host ids of a pod's root in its own user namespace); the shm path.
   */
  acquire(layout: StateLayout, id: string, hostIpc: boolean, owner?: { uid: number; gid: number }): string {
    fs.mkdirSync(layout.podRunDir(id), { recursive: true, mode: 0o711 });
    if (hostIpc) return '/dev/shm';
    const shm = layout.podShm(id);
    fs.mkdirSync(shm, { recursive: true });
    mount('shm', shm, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, `mode=1777,size=${POD_SHM_SIZE}${owner ? `,uid=${owner.uid},gid=${owner.gid}` : ''}`);
    return shm;
  },
  release(layout: StateLayout, id: string): void {
    unmountIfMounted(layout.pauseRootfs(id));
    unmountIfMounted(layout.podShm(id));
    fs.rmSync(layout.podRunDir(id), { recursive: true, force: true });
  },
  findLeftovers(layout: StateLayout, known: KnownIds): Leftover[] {
    return leftoversIn(this, layout, layout.podRunDirs, known.pods);
  },
} satisfies ResourceKind;

/** <run_root>/ns/<kind>/<id>: bind mounts that keep a pod's namespaces alive (made by pod-sandbox's NamespacePinner). */
export const namespacePins = {
  leftoverName: 'pinned namespace without a pod',
  path: (layout: StateLayout, id: string) => PINNABLE_KINDS.map((kind) => layout.namespacePin(kind, id)).join(', '),
  release(layout: StateLayout, id: string): void {
    for (const kind of PINNABLE_KINDS) {
      const pin = layout.namespacePin(kind, id);
      unmountIfMounted(pin);
      fs.rmSync(pin, { force: true });
    }
  },
  findLeftovers(layout: StateLayout, known: KnownIds): Leftover[] {
    const ids = new Set(PINNABLE_KINDS.flatMap((kind) => listDir(layout.namespacePinDir(kind))));
    return [...ids].filter((id) => !known.pods.has(id)).map((id) => ({ kind: this, id, path: this.path(layout, id) }));
  },
} satisfies ResourceKind;

/** <root>/pods-persist/<id>: conmon's persist dir of a pause process. */
export const pausePersistDir = {
  leftoverName: 'pause persist directory without a record',
  path: (layout: StateLayout, id: string) => layout.podPersistDir(id),
  release(layout: StateLayout, id: string): void {
    fs.rmSync(layout.podPersistDir(id), { recursive: true, force: true });
  },
  findLeftovers(layout: StateLayout, known: KnownIds): Leftover[] {
    return leftoversIn(this, layout, layout.podPersistDirs, known.pods);
  },
} satisfies ResourceKind;

/** <root>/containers-data/<id>: a container's bundle with its overlay mounted on rootfs. */
export const containerDataDir = {
  leftoverName: 'container directory without a record',
  path: (layout: StateLayout, id: string) => layout.containerDataDir(id),
  acquire(layout: StateLayout, id: string): string {
    const dir = layout.containerDataDir(id);
    fs.mkdirSync(dir, { mode: 0o700 });
    return dir;
  },
  release(layout: StateLayout, id: string): void {
    // The root filesystem and any image mounts (KEP-4639) below the dir: never remove through a mount.
    for (const point of mountsUnder(fs.readFileSync('/proc/self/mountinfo', 'utf8'), layout.containerDataDir(id))) unmountIfMounted(point);
    fs.rmSync(layout.containerDataDir(id), { recursive: true, force: true });
  },
  findLeftovers(layout: StateLayout, known: KnownIds): Leftover[] {
    return leftoversIn(this, layout, layout.containerDataDirs, known.containers);
  },
} satisfies ResourceKind;

/** <run_root>/s/<id>: conmon's attach-socket link (--socket-dir-path), for pause processes and containers alike. */
export const socketLink = {
  leftoverName: 'conmon socket link without a record',
  path: (layout: StateLayout, id: string) => layout.socketLink(id),
  release(layout: StateLayout, id: string): void {
    fs.rmSync(layout.socketLink(id), { force: true });
  },
  findLeftovers(layout: StateLayout, known: KnownIds): Leftover[] {
    const all = new Set([...known.pods, ...known.containers]);
    return leftoversIn(this, layout, layout.socketLinks, all);
  },
} satisfies ResourceKind;

/** What a pod sandbox owns, in the order its removal releases them. */
export const POD_RESOURCES: readonly ResourceKind[] = [podRunDir, namespacePins, socketLink, pausePersistDir];
/** What a container owns, in the order its removal releases them. */
export const CONTAINER_RESOURCES: readonly ResourceKind[] = [containerDataDir, socketLink];
/** Every kind, once: what `cradled check` audits. */
export const RESOURCE_KINDS: readonly ResourceKind[] = [pausePersistDir, containerDataDir, podRunDir, socketLink, namespacePins];

/** Releases every resource of a pod or container; each is attempted, the first failure is thrown after. */
export function releaseAll(kinds: readonly ResourceKind[], layout: StateLayout, id: string): void {
  let failure: unknown;
  for (const kind of kinds) {
    try {
      kind.release(layout, id);
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure !== undefined) throw failure;
}
