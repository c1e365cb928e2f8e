// Images of the CRI benchmark, pushed to the fixture registry: busybox, a pause
// image (the fixture /pause script), and ~100 MB of seeded random data
// (incompressible, the same bytes and digests every run) as three layers and as
// twenty.
import { createCipheriv, createHash } from 'node:crypto';
import type { FixtureRegistry } from '../../test/helpers/registry';
import {
  busyboxRootfsEntries, DEFAULT_PATH_ENV, entry, PAUSE_SCRIPT, pushImage, type ImageSpec, type LayerEntry, type PushedImage,
} from '../../test/helpers/image-builder';

/** Deterministic incompressible bytes: AES-256-CTR keystream keyed by the seed. */
function seededBytes(seed: string, length: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

const BIG_IMAGE_FILES = 48;

/** 48 random-but-seeded 2 MiB files (gzip cannot shrink them) dealt over `layers` layers: ~100 MB compressed and uncompressed. */
function bigImageLayers(layers: number, seed: string): { entries: LayerEntry[] }[] {
  return Array.from({ length: layers }, (_, layer) => {
    const entries: LayerEntry[] = [entry.dir(`data${layer}`)];
    for (let i = layer; i < BIG_IMAGE_FILES; i += layers) entries.push(entry.file(`data${layer}/blob${i}`, seededBytes(`${seed}-${i}`, 2 << 20)));
    return { entries };
  });
}

export interface Images {
  pause: PushedImage;
  busybox: PushedImage;
  /** Absent when not asked for. */
  big?: PushedImage;
  /** The same size in 20 layers; absent when not asked for. */
  layered?: PushedImage;
}

/**
 * The fixture busybox, except that the applets' hard-link entries carry mode 0755
 * like those of real image tars: containerd (like Docker) chmods a hard link's
 * inode to the link entry's mode, and the fixture's default 0644 would leave
 * /bin/busybox not executable under containerd.
 */
function busyboxLayer(): LayerEntry[] {
  return busyboxRootfsEntries().map((e) => (e.type === 'hardlink' ? { ...e, mode: 0o755 } : e));
}

function busyboxSpec(): ImageSpec {
  return { layers: [{ entries: busyboxLayer() }], config: { Env: [DEFAULT_PATH_ENV], Cmd: ['sh'] } };
}

/** Busybox plus the fixture /pause script (PID 1 that exits on TERM). */
function pauseSpec(): ImageSpec {
  return {
    layers: [{ entries: busyboxLayer() }, { entries: [entry.file('pause', PAUSE_SCRIPT, { mode: 0o755 })] }],
    config: { Env: [DEFAULT_PATH_ENV], Entrypoint: ['/pause'] },
  };
}

export async function pushImages(registry: FixtureRegistry, opts: { big: boolean } = { big: true }): Promise<Images> {
  const pause = await pushImage(registry, 'bench/pause:3.10', pauseSpec());
  const busybox = await pushImage(registry, 'bench/busybox:1', busyboxSpec());
  if (!opts.big) return { pause, busybox };
  const big = await pushImage(registry, 'bench/big:v1', { layers: bigImageLayers(3, 'cradle-bench') });
  const layered = await pushImage(registry, 'bench/layered:v1', { layers: bigImageLayers(20, 'cradle-bench-20') });
  return { pause, busybox, big, layered };
}
