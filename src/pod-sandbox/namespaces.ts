// Pod namespaces pinned by bind mounts (as cri-o's pinns, but in-daemon): the main
// thread unshares new network/IPC/UTS namespaces, bind-mounts its own namespace
// files onto <dir>/<kind>/<id>, and setns()es straight back. The namespaces then
// live as long as the bind mounts: past the pause process and past cradled.
//
// Namespaces are per thread (runtime-notes Q1): between unshare and setns only
// synchronous work happens on this thread, so no other JavaScript runs inside the
// pod's namespaces. A new network namespace gets its `lo` up here too.
// A pod with its own user namespace (hostUsers: false) has its namespaces made inside
// it by the native launcher instead (pinInUserns): Node cannot enter a user namespace.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWUSER, CLONE_NEWUTS, MS_BIND, MS_PRIVATE, MS_REC } from '../sys/constants';
import { mount, setns, unshare, sethostname, setLoopbackUp } from '../sys/libc';
import { errors, messageOf } from '../common/errors';
import { PINNABLE_KINDS, type PinnableKind, type StateLayout } from '../common/state-layout';
import { namespacePins } from '../runtime/resources';
import { shippedBinary } from '../common/package-info';
import { cleanChildEnv } from '../common/child-env';
import type { PodUserns } from '../runtime/oci-config/userns';

export type { PinnableKind } from '../common/state-layout';
const CLONE_FLAG: Record<PinnableKind, number> = { net: CLONE_NEWNET, ipc: CLONE_NEWIPC, uts: CLONE_NEWUTS, user: CLONE_NEWUSER };

export type PinnedNamespaces = Partial<Record<PinnableKind, string>>;

function isMountPoint(dir: string): boolean {
  const target = path.resolve(dir);
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[4] === target);
}

/** "container host length" lines for uid_map/gid_map. */
function mapText(maps: PodUserns['uids']): string {
  return maps.map((m) => `${m.containerId} ${m.hostId} ${m.length}`).join('\n');
}

export class NamespacePinner {
  private readonly dir: string;

  constructor(private readonly layout: StateLayout) {
    this.dir = layout.namespacePins;
  }

  /**
   * Makes <dir> a private mount (once), so pins made under it neither propagate
   * into other mount namespaces nor receive their mounts.
   */
  prepare(): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o711 });
    for (const kind of PINNABLE_KINDS) fs.mkdirSync(this.layout.namespacePinDir(kind), { recursive: true, mode: 0o711 });
    if (!isMountPoint(this.dir)) mount(this.dir, this.dir, null, MS_BIND | MS_REC);
    mount(null, this.dir, null, MS_PRIVATE | MS_REC);
  }

  pathOf(kind: PinnableKind, id: string): string {
    return this.layout.namespacePin(kind, id);
  }

  /**
   * Creates new namespaces of the given kinds and pins them. On failure nothing
   * stays pinned and the thread is back in its own namespaces.
   */
  pin(id: string, kinds: readonly PinnableKind[], hostname?: string): PinnedNamespaces {
    if (kinds.length === 0) return {};
    const saved = kinds.map((kind) => ({ kind, fd: fs.openSync(`/proc/thread-self/ns/${kind}`, 'r') }));
    const pinned: PinnedNamespaces = {};
    let failure: unknown;
    try {
      unshare(kinds.reduce((flags, kind) => flags | CLONE_FLAG[kind], 0));
      try {
        if (hostname !== undefined && kinds.includes('uts')) sethostname(hostname);
        // lo is brought up here, while this thread is in the new network namespace, so
        // RunPodSandbox's CNI ADD runs no loopback plugin (a process less on its path).
        if (kinds.includes('net')) setLoopbackUp();
        for (const kind of kinds) {
          const target = this.pathOf(kind, id);
          fs.writeFileSync(target, '', { mode: 0o444 });
          mount(`/proc/thread-self/ns/${kind}`, target, null, MS_BIND);
          pinned[kind] = target;
        }
      } catch (err) {
        failure = err;
      } finally {
        for (const { kind, fd } of saved) setns(fd, CLONE_FLAG[kind], kind);
      }
    } catch (err) {
      failure ??= err;
    } finally {
      for (const { fd } of saved) fs.closeSync(fd);
    }
    if (failure !== undefined) {
      namespacePins.release(this.layout, id);
      throw errors.runtime(`pinning namespaces of pod sandbox ${id}: ${messageOf(failure)}`);
    }
    return pinned;
  }

  /**
   * A pod's own user namespace (hostUsers: false) with its maps, and new network, IPC
   * and UTS namespaces owned by it, all pinned (as cri-o's pinns): the pod's root has its
   * capabilities over its network (ports below 1024, its interfaces) and its hostname.
   * Node cannot enter a user namespace (runtime-notes Q1), so the native launcher's
   * `__userns-pin` makes them: its child unshares the user namespace, it writes the maps
   * from here (the host's user namespace), the child unshares the rest inside it. On
   * failure nothing stays pinned.
   */
  pinInUserns(id: string, userns: PodUserns, hostname: string): PinnedNamespaces {
    const kinds: PinnableKind[] = ['user', 'net', 'ipc', 'uts'];
    const pinned: PinnedNamespaces = {};
    try {
      for (const kind of kinds) {
        const target = this.pathOf(kind, id);
        fs.writeFileSync(target, '', { mode: 0o444 });
        pinned[kind] = target;
      }
      const helper = shippedBinary('cradle-runtime');
      const run = spawnSync(helper, ['__userns-pin', mapText(userns.uids), mapText(userns.gids), hostname, ...kinds.map((k) => `${k}=${pinned[k]!}`)], {
        env: cleanChildEnv(), encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'ignore', 'pipe'],
      });
      if (run.error) throw run.error;
      if (run.status !== 0) throw new Error(run.stderr.trim() || `${helper} exited with status ${String(run.status ?? run.signal)}`);
    } catch (err) {
      namespacePins.release(this.layout, id);
      throw errors.runtime(`pinning the user namespace of pod sandbox ${id}: ${messageOf(err)}`);
    }
    return pinned;
  }
}

/** Runs fn with this thread inside the namespace pinned at nsPath (for sysctls). */
export function withinNamespace<T>(nsPath: string, kind: PinnableKind, fn: () => T): T {
  const own = fs.openSync(`/proc/thread-self/ns/${kind}`, 'r');
  const target = fs.openSync(nsPath, 'r');
  try {
    setns(target, CLONE_FLAG[kind], nsPath);
    try {
      return fn();
    } finally {
      setns(own, CLONE_FLAG[kind], kind);
    }
  } finally {
    fs.closeSync(target);
    fs.closeSync(own);
  }
}
