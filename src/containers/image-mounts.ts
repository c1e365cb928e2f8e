// Image mounts (KEP-4639): a CRI mount that names an image instead of a host path.
// Each is an overlay of the image's layers under the container's directory, held
// like the container's own image (RemoveImage and GC leave its layers until the
// container is removed) and made read-only; the container gets a read-only,
// noexec bind of it, or of its image_sub_path.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errors, messageOf } from '../common/errors';
import type { UndoStack } from '../common/undo';
import type { ContainerConfig__Output } from '../generated/runtime/v1/ContainerConfig';
import type { ImageService } from '../image';
import { makeMountReadOnly, mountOverlay, unmountOverlay, type RootfsIdmap } from '../runtime/rootfs/overlay';

/** What the container record keeps of each image mount (to re-hold layers after a restart and to unmount). */
export interface ImageMountRecord {
  containerPath: string;
  imageId: string;
  /** The image's layers, bottom first (as ContainerRecord.imageChainIds). */
  chainIds: string[];
  /** The overlay's mount point on the host. */
  mountPoint: string;
}

export interface MountedImages {
  records: ImageMountRecord[];
  /** Host path each image mount binds, by index in config.mounts. */
  sources: Map<number, string>;
  release(): void;
}

/**
 * Mounts every image the config's mounts name, pushing an undo for each hold and
 * mount. Bad sub-paths and host paths next to an image are INVALID_ARGUMENT, an
 * image that is not pulled NOT_FOUND, all before the container exists. In a pod with its
 * own user namespace the layers are idmapped as the root filesystem's (`idmap`).
 */
export function mountImages(config: ContainerConfig__Output, mountDirOf: (index: number) => string, images: ImageService, undo: UndoStack, idmap?: RootfsIdmap): MountedImages {
  const records: ImageMountRecord[] = [];
  const sources = new Map<number, string>();
  const releases: Array<() => void> = [];
  config.mounts.forEach((m, i) => {
    const ref = m.image?.image ?? '';
    if (ref === '') return;
    const f = `config.mounts[${i}]`;
    if (m.hostPath !== '') throw errors.invalidField(`${f}.hostPath`, 'must be empty for an image mount');
    const subPath = checkSubPath(m.imageSubPath, `${f}.imageSubPath`);
    if (!images.status(ref)) throw errors.imageNotFound(ref);
    const hold = images.hold(ref);
    undo.push(`releasing image ${ref} of ${f}`, () => hold.release());
    releases.push(() => hold.release());
    const overlay = mountOverlay(mountDirOf(i), hold.overlay, idmap);
    undo.push(`unmounting ${overlay.rootfs}`, () => unmountOverlay(overlay.rootfs));
    makeMountReadOnly(overlay.rootfs);
    sources.set(i, subPath ? resolveSubPath(overlay.rootfs, subPath, ref, `${f}.imageSubPath`) : overlay.rootfs);
    records.push({ containerPath: m.containerPath, imageId: hold.image.id, chainIds: hold.image.chainIds, mountPoint: overlay.rootfs });
  });
  return { records, sources, release: () => { for (const r of releases) r(); } };
}

/** A relative path that stays inside the image: no absolute path, no "..". */
function checkSubPath(subPath: string, field: string): string {
  if (subPath === '') return '';
  if (subPath.includes('\0')) throw errors.invalidField(field, 'contains a NUL byte');
  if (path.posix.isAbsolute(subPath)) throw errors.invalidField(field, `${JSON.stringify(subPath)} must be relative to the image root`);
  if (subPath.split('/').includes('..')) throw errors.invalidField(field, `${JSON.stringify(subPath)} must not contain ".."`);
  return path.posix.normalize(subPath);
}

/** The sub-path in the mounted image; symlinks in the image may not lead out of it. */
function resolveSubPath(root: string, subPath: string, ref: string, field: string): string {
  const realRoot = fs.realpathSync(root);
  let real: string;
  try {
    real = fs.realpathSync(path.join(root, subPath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw errors.invalidField(field, `${JSON.stringify(subPath)} does not exist in image ${ref}`);
    throw errors.invalidField(field, `${JSON.stringify(subPath)} in image ${ref}: ${messageOf(err)}`);
  }
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
    throw errors.invalidField(field, `${JSON.stringify(subPath)} leads out of image ${ref} (through a symbolic link)`);
  }
  return real;
}
