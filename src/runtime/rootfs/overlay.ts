// Container root filesystems: an overlay of an image's unpacked layers (read-only
// lower dirs, shared by every container of the image) and a writable upper dir of
// the container's own.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MNT_DETACH } from '../../sys/constants';
import { umount2 } from '../../sys/libc';
import { mountOverlayFs, type OverlayLowers } from '../../sys/overlay-mount';
import { mountIdmapOverlay } from '../../sys/idmap-overlay';
import { MOUNT_ATTR_RDONLY, mountSetattrFd, mountSetattrSupported } from '../../sys/mount-setattr';
import { errors, messageOf } from '../../common/errors';
import { bundleParts } from '../../common/state-layout';
import { shippedBinary } from '../../common/package-info';
import { hostIdOf } from '../oci-config/userns';
import type { SandboxUserns } from '../oci-config/inputs';

export interface OverlayRootfs {
  /** The mounted root filesystem. */
  rootfs: string;
  upper: string;
  work: string;
}

/**
 * Mounts an image's lowers (top-most first, relative to their root: the image
 * layer's short links, so any layer count fits) with a fresh upper under dir.
 */
/** A pod's user namespace, for a root filesystem its root owns (hostUsers: false). */
export interface RootfsIdmap {
  /** The pinned user namespace whose maps idmap the image's layers. */
  usernsPath: string;
  /** Host ids of the pod's root: owner of the (empty) upper dir, where its writes land. */
  rootUid: number;
  rootGid: number;
}

/** The idmap of a root filesystem in the pod's user namespace: its layers shown as the pod's ids. */
export function rootfsIdmap(userns: SandboxUserns): RootfsIdmap {
  return { usernsPath: userns.path, rootUid: hostIdOf(userns.uids, 0)!, rootGid: hostIdOf(userns.gids, 0)! };
}

export function mountOverlay(dir: string, lowers: OverlayLowers, idmap?: RootfsIdmap): OverlayRootfs {
  if (lowers.lowers.length === 0) throw errors.runtime(`mounting a root filesystem in ${dir}: the image has no layers`);
  const { rootfs, upper, work } = bundleParts(dir);
  for (const d of [rootfs, upper, work]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  try {
    if (idmap) {
      // The layers are idmapped, the upper is not (overlayfs works in it as the host's
      // root, whom the maps cannot show): files written in the container are stored
      // with the host ids of the pod's, so its root must own the upper's root.
      fs.chownSync(upper, idmap.rootUid, idmap.rootGid);
      mountIdmapOverlay({ helper: shippedBinary('cradle-runtime'), usernsPath: idmap.usernsPath, target: rootfs, lowerRoot: lowers.root, lowers: lowers.lowers, upper, work });
    } else {
      mountOverlayFs({ target: rootfs, lowerRoot: lowers.root, lowers: lowers.lowers, upper, work });
    }
  } catch (err) {
    throw errors.runtime(`mounting the overlay root filesystem at ${rootfs}: ${messageOf(err)}`);
  }
  return { rootfs, upper, work };
}

/**
 * Makes that one mount read-only (mount_setattr, where the kernel has it): overlayfs needs an
 * upper dir unless it has two lowers or more, so a read-only view of an image is an overlay
 * with an unused upper, made read-only here so nothing writes to it by way of the host either.
 */
export function makeMountReadOnly(target: string): void {
  if (!mountSetattrSupported()) return;
  const fd = fs.openSync(target, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    mountSetattrFd(fd, MOUNT_ATTR_RDONLY, false, target);
  } finally {
    fs.closeSync(fd);
  }
}

/** Unmounts a root filesystem if mounted (idempotent). */
export function unmountOverlay(rootfs: string): void {
  try {
    umount2(rootfs, MNT_DETACH);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'EINVAL' && code !== 'ENOENT') throw err;
  }
}

/** Bytes and inodes used by a container's writable layer (for stats). */
export function writableLayerUsage(upper: string): { bytes: number; inodes: number } {
  let bytes = 0;
  let inodes = 0;
  const walk = (dir: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      inodes++;
      try {
        const st = fs.lstatSync(full);
        bytes += st.blocks * 512;
        if (entry.isDirectory()) walk(full);
      } catch { /* raced with removal */ }
    }
  };
  walk(upper);
  return { bytes, inodes };
}
