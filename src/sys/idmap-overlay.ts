// An overlay whose image layers are idmapped through a pod's user namespace
// (hostUsers: false). Node cannot unshare a mount namespace of its own, so the native
// launcher's `__idmap-overlay` makes it: in a private mount namespace it attaches an
// idmapped clone of each layer on a scratch tmpfs, mounts overlayfs with lowerdir= those
// (what overlayfs takes since Linux 5.19) and moves a clone of the overlay onto the
// target in the host's namespace. No layer clone is ever attached where the host sees it.
import { spawnSync } from 'node:child_process';

export interface IdmapOverlaySpec {
  /** cradle-runtime (the native launcher). */
  helper: string;
  /** The pinned user namespace whose maps idmap every lower. */
  usernsPath: string;
  /** An empty directory, where the overlay is mounted. */
  target: string;
  /** Directory the lower paths are relative to. */
  lowerRoot: string;
  /** Lower dirs relative to lowerRoot, top-most first. */
  lowers: readonly string[];
  upper: string;
  work: string;
}

export const IDMAP_OVERLAY_ARG = '__idmap-overlay';

/** Mounts the overlay at spec.target; throws with the launcher's failed step (then nothing is mounted). */
export function mountIdmapOverlay(spec: IdmapOverlaySpec): void {
  const run = spawnSync(spec.helper, [IDMAP_OVERLAY_ARG, spec.usernsPath, spec.target, spec.lowerRoot, spec.upper, spec.work, ...spec.lowers], {
    env: {}, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error((run.stderr ?? '').trim() || `${spec.helper} ${IDMAP_OVERLAY_ARG} exited with ${String(run.status ?? run.signal)}`);
}
