// Builds OCI / Docker schema2 images from a declarative ImageSpec and pushes
// them (or multi-arch indexes of them) to a registry. Layers come from
// layer-builder.ts; ready-made images (busybox, pause, users) from
// fixture-images.ts, re-exported here so tests import one module.
//
// Everything is deterministic: fixed mtimes and `created`, gzip without a
// timestamp, JSON with a fixed key order. The same spec gives the same digests.

import { buildLayer, type Compression, type LayerEntry } from './layer-builder';
import type { RegistryTarget } from './registry';
import { parseRepoRef, putManifest, sha256Digest, uploadBlob } from './registry-client';

export * from './layer-builder';
export * from './fixture-images';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** `oci` (default) or Docker image manifest v2 schema 2. */
export type ManifestFormat = 'oci' | 'docker';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** The host's platform in OCI terms (amd64, arm64/v8, …). */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  const architecture = arch[process.arch] ?? process.arch;
  return architecture === 'arm64' ? { os: 'linux', architecture, variant: 'v8' } : { os: 'linux', architecture };
}

/** The image config's `config` section; names as in the OCI/Docker JSON. */
export interface ImageRuntimeConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  StopSignal?: string;
  /** Paths; written as `{ "/path": {} }`. */
  Volumes?: string[];
  /** `"80/tcp"` etc.; written as `{ "80/tcp": {} }`. */
  ExposedPorts?: string[];
  Labels?: Record<string, string>;
}

export interface LayerSpec {
  entries: readonly LayerEntry[];
  /** Default: the image's `compression`, else gzip. */
  compression?: Compression;
  /** Overrides the media type written in the manifest (e.g. a deliberately wrong one). */
  mediaType?: string;
}

export interface ImageSpec {
  format?: ManifestFormat;
  /** Default hostPlatform(). */
  platform?: Platform;
  layers: readonly LayerSpec[];
  /** Default compression of layers that do not say. */
  compression?: Compression;
  config?: ImageRuntimeConfig;
  /** Image `created` timestamp (default fixed 2024-01-01T00:00:00Z). */
  created?: string;
  /** Manifest annotations (OCI only). */
  annotations?: Record<string, string>;
  /** Last-chance edit of the config JSON object before it is serialised (hostile configs). */
  mutateConfig?: (config: Record<string, unknown>) => void;
  /** Last-chance edit of the manifest JSON object before it is serialised (hostile manifests). */
  mutateManifest?: (manifest: Record<string, unknown>) => void;
}

export interface BuiltImageLayer {
  mediaType: string;
  compression: Compression;
  digest: string;
  diffId: string;
  size: number;
  blob: Buffer;
}

export interface BuiltImage {
  format: ManifestFormat;
  platform: Platform;
  manifestMediaType: string;
  /** The exact manifest bytes pushed; manifestDigest is their sha256. */
  manifest: Buffer;
  manifestDigest: string;
  config: Buffer;
  /** sha256 of the config: the image ID CRI reports. */
  configDigest: string;
  layers: BuiltImageLayer[];
}

const DEFAULT_CREATED = '2024-01-01T00:00:00Z';

function layerMediaType(format: ManifestFormat, compression: Compression): string {
  if (format === 'oci') {
    return compression === 'gzip' ? MEDIA_TYPES.ociLayerGzip : compression === 'zstd' ? MEDIA_TYPES.ociLayerZstd : MEDIA_TYPES.ociLayer;
  }
  if (compression === 'zstd') throw new Error('Docker schema2 has no zstd layer media type: use format oci or set LayerSpec.mediaType');
  return compression === 'gzip' ? MEDIA_TYPES.dockerLayerGzip : MEDIA_TYPES.dockerLayer;
}

function asSet(list: readonly string[] | undefined): Record<string, Record<string, never>> | undefined {
  if (!list) return undefined;
  return Object.fromEntries(list.map((key) => [key, {}]));
}

function runtimeConfigJson(cfg: ImageRuntimeConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // Fixed key order for deterministic bytes.
  if (cfg.User !== undefined) out.User = cfg.User;
  if (cfg.ExposedPorts !== undefined) out.ExposedPorts = asSet(cfg.ExposedPorts);
  if (cfg.Env !== undefined) out.Env = cfg.Env;
  if (cfg.Entrypoint !== undefined) out.Entrypoint = cfg.Entrypoint;
  if (cfg.Cmd !== undefined) out.Cmd = cfg.Cmd;
  if (cfg.Volumes !== undefined) out.Volumes = asSet(cfg.Volumes);
  if (cfg.WorkingDir !== undefined) out.WorkingDir = cfg.WorkingDir;
  if (cfg.Labels !== undefined) out.Labels = cfg.Labels;
  if (cfg.StopSignal !== undefined) out.StopSignal = cfg.StopSignal;
  return out;
}

function platformJson(p: Platform): Record<string, string> {
  return p.variant ? { architecture: p.architecture, os: p.os, variant: p.variant } : { architecture: p.architecture, os: p.os };
}

/** Builds layers, config and manifest without touching a registry. */
export async function buildImage(spec: ImageSpec): Promise<BuiltImage> {
  const format = spec.format ?? 'oci';
  const platform = spec.platform ?? hostPlatform();
  const layers: BuiltImageLayer[] = [];
  for (const layer of spec.layers) {
    const compression = layer.compression ?? spec.compression ?? 'gzip';
    const built = await buildLayer(layer.entries, compression);
    layers.push({ ...built, mediaType: layer.mediaType ?? layerMediaType(format, compression) });
  }
  const created = spec.created ?? DEFAULT_CREATED;
  const configObj: Record<string, unknown> = {
    created,
    ...platformJson(platform),
    config: runtimeConfigJson(spec.config ?? {}),
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created, created_by: `cradle fixture layer ${i}` })),
  };
  spec.mutateConfig?.(configObj);
  const config = Buffer.from(JSON.stringify(configObj));
  const configDigest = sha256Digest(config);

  const manifestMediaType = format === 'oci' ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest;
  const manifestObj: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: manifestMediaType,
    config: { mediaType: format === 'oci' ? MEDIA_TYPES.ociConfig : MEDIA_TYPES.dockerConfig, digest: configDigest, size: config.byteLength },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  if (spec.annotations && format === 'oci') manifestObj.annotations = spec.annotations;
  spec.mutateManifest?.(manifestObj);
  const manifest = Buffer.from(JSON.stringify(manifestObj, null, 2));
  return { format, platform, manifestMediaType, manifest, manifestDigest: sha256Digest(manifest), config, configDigest, layers };
}

export interface PushedImage extends BuiltImage {
  repository: string;
  /** Tag pushed, if the ref had one (else pushed by digest only). */
  tag?: string;
  /** `127.0.0.1:PORT/repo:tag` (or `…@digest` without a tag): what to give to cradle. */
  reference: string;
  /** `127.0.0.1:PORT/repo@sha256:…`. */
  digestReference: string;
  /** = configDigest. */
  imageId: string;
  layerDigests: string[];
  diffIds: string[];
}

/** Uploads blobs, then the manifest. `ref` is `repo:tag` or `repo` (push by digest). */
export async function pushImage(registry: RegistryTarget, ref: string, spec: ImageSpec | BuiltImage): Promise<PushedImage> {
  const built = 'manifestDigest' in spec ? spec : await buildImage(spec);
  const { repository, tag, digest } = parseRepoRef(ref);
  if (digest) throw new Error(`pushImage: give repo:tag or repo, not a digest (${ref})`);
  for (const layer of built.layers) await uploadBlob(registry, repository, layer.blob, layer.digest);
  await uploadBlob(registry, repository, built.config, built.configDigest);
  await putManifest(registry, repository, tag ?? built.manifestDigest, built.manifestMediaType, built.manifest);
  const digestReference = `${registry.host}/${repository}@${built.manifestDigest}`;
  const pushed: PushedImage = {
    ...built,
    repository,
    reference: tag ? `${registry.host}/${repository}:${tag}` : digestReference,
    digestReference,
    imageId: built.configDigest,
    layerDigests: built.layers.map((l) => l.digest),
    diffIds: built.layers.map((l) => l.diffId),
  };
  if (tag) pushed.tag = tag;
  return pushed;
}

export interface IndexEntrySpec {
  /** Overrides spec.platform; written in the index and in the image config. */
  platform?: Platform;
  spec: ImageSpec;
}

export interface PushIndexOptions {
  /** `oci` → OCI image index; `docker` → Docker manifest list. Default oci. */
  format?: ManifestFormat;
  /** Index annotations (OCI only). */
  annotations?: Record<string, string>;
}

export interface PushedIndex {
  repository: string;
  tag?: string;
  reference: string;
  digestReference: string;
  mediaType: string;
  index: Buffer;
  digest: string;
  size: number;
  /** The per-platform images, in index order (pushed by digest). */
  images: PushedImage[];
}

/**
 * Pushes one image per platform (by digest), then an index/manifest list under
 * the tag. Child images take the index's format unless their spec says otherwise.
 */
export async function pushIndex(registry: RegistryTarget, ref: string, entries: readonly IndexEntrySpec[], opts: PushIndexOptions = {}): Promise<PushedIndex> {
  const format = opts.format ?? 'oci';
  const { repository, tag, digest } = parseRepoRef(ref);
  if (digest) throw new Error(`pushIndex: give repo:tag or repo, not a digest (${ref})`);
  const images: PushedImage[] = [];
  for (const e of entries) {
    const spec: ImageSpec = { format, ...e.spec };
    if (e.platform) spec.platform = e.platform;
    images.push(await pushImage(registry, repository, spec));
  }
  const mediaType = format === 'oci' ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.dockerManifestList;
  const indexObj: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    manifests: images.map((img) => ({
      mediaType: img.manifestMediaType,
      digest: img.manifestDigest,
      size: img.manifest.byteLength,
      platform: platformJson(img.platform),
    })),
  };
  if (opts.annotations && format === 'oci') indexObj.annotations = opts.annotations;
  const index = Buffer.from(JSON.stringify(indexObj, null, 2));
  const indexDigest = await putManifest(registry, repository, tag ?? sha256Digest(index), mediaType, index);
  const digestReference = `${registry.host}/${repository}@${indexDigest}`;
  const pushed: PushedIndex = {
    repository,
    reference: tag ? `${registry.host}/${repository}:${tag}` : digestReference,
    digestReference,
    mediaType,
    index,
    digest: indexDigest,
    size: index.byteLength,
    images,
  };
  if (tag) pushed.tag = tag;
  return pushed;
}
