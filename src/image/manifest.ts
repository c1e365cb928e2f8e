// Manifest formats cradle pulls (OCI image manifest and index, Docker schema2
// manifest and manifest list), layer media types, and platform selection from
// indexes. Docker schema1 is rejected: it carries no config digest and its
// signatures cannot be verified the way cradle verifies content.
import { errors } from '../common/errors';
import { validateDigest } from './reference';
import type { BlobDescriptor } from './content-store';

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

/** Accept header for manifest requests, most preferred first. */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest,
].join(', ');

export type LayerCompression = 'gzip' | 'zstd' | 'none';

const LAYER_MEDIA_TYPES: Record<string, { compression: LayerCompression; foreign: boolean }> = {
  'application/vnd.oci.image.layer.v1.tar': { compression: 'none', foreign: false },
  'application/vnd.oci.image.layer.v1.tar+gzip': { compression: 'gzip', foreign: false },
  'application/vnd.oci.image.layer.v1.tar+zstd': { compression: 'zstd', foreign: false },
  'application/vnd.oci.image.layer.nondistributable.v1.tar': { compression: 'none', foreign: true },
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': { compression: 'gzip', foreign: true },
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd': { compression: 'zstd', foreign: true },
  'application/vnd.docker.image.rootfs.diff.tar': { compression: 'none', foreign: false },
  'application/vnd.docker.image.rootfs.diff.tar.gzip': { compression: 'gzip', foreign: false },
  'application/vnd.docker.image.rootfs.diff.tar.zstd': { compression: 'zstd', foreign: false },
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': { compression: 'gzip', foreign: true },
};

export function layerMediaType(mediaType: string, what: string): { compression: LayerCompression; foreign: boolean } {
  const known = LAYER_MEDIA_TYPES[mediaType];
  if (!known) throw errors.unsupportedMediaType(what, mediaType);
  return known;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor extends BlobDescriptor {
  mediaType: string;
  urls?: string[];
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ManifestIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
}

/** Parses manifest bytes; contentType is the HTTP Content-Type (the body's mediaType wins). */
export function parseManifest(bytes: Buffer, contentType: string | undefined, what: string): ImageManifest | ManifestIndex {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw errors.invalidArgument(`${what}: manifest is not valid JSON`);
  }
  if (typeof doc !== 'object' || doc === null) throw errors.invalidArgument(`${what}: manifest is not a JSON object`);
  const header = contentType?.split(';', 1)[0]?.trim();
  const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : header;
  if (doc.schemaVersion === 1 || mediaType === MediaType.dockerSchema1 || mediaType === MediaType.dockerSchema1Signed) {
    throw errors.unsupportedMediaType(`${what}: Docker schema 1 manifests are not supported (rebuild or re-push the image with a current tool)`,
      mediaType ?? MediaType.dockerSchema1);
  }
  if (doc.schemaVersion !== 2) throw errors.invalidArgument(`${what}: unsupported manifest schemaVersion ${JSON.stringify(doc.schemaVersion)}`);
  const isIndex = mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList ||
    (mediaType === undefined && Array.isArray(doc.manifests));
  if (isIndex) {
    if (!Array.isArray(doc.manifests)) throw errors.invalidArgument(`${what}: index has no manifests`);
    return { kind: 'index', mediaType: mediaType ?? MediaType.ociIndex, manifests: doc.manifests.map((d, i) => descriptor(d, `${what}: manifests[${i}]`)) };
  }
  const isManifest = mediaType === MediaType.ociManifest || mediaType === MediaType.dockerManifest ||
    (mediaType === undefined && typeof doc.config === 'object');
  if (!isManifest) throw errors.unsupportedMediaType(`${what}: manifest`, mediaType ?? '(none)');
  if (!Array.isArray(doc.layers)) throw errors.invalidArgument(`${what}: manifest has no layers array`);
  const config = descriptor(doc.config, `${what}: config`);
  if (config.mediaType !== MediaType.ociConfig && config.mediaType !== MediaType.dockerConfig) {
    throw errors.unsupportedMediaType(`${what}: config (not a container image; an artifact?)`, config.mediaType);
  }
  return {
    kind: 'manifest',
    mediaType: mediaType ?? MediaType.ociManifest,
    config,
    layers: doc.layers.map((d, i) => descriptor(d, `${what}: layers[${i}]`)),
  };
}

function descriptor(value: unknown, what: string): Descriptor {
  if (typeof value !== 'object' || value === null) throw errors.invalidArgument(`${what}: not a descriptor`);
  const d = value as Record<string, unknown>;
  if (typeof d.digest !== 'string') throw errors.invalidArgument(`${what}: digest missing`);
  validateDigest(d.digest, `${what}: digest`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw errors.invalidArgument(`${what}: size missing or invalid`);
  const out: Descriptor = { digest: d.digest, size: d.size, mediaType: typeof d.mediaType === 'string' ? d.mediaType : '' };
  if (Array.isArray(d.urls)) out.urls = d.urls.filter((u): u is string => typeof u === 'string');
  if (typeof d.platform === 'object' && d.platform !== null) {
    const p = d.platform as Record<string, unknown>;
    out.platform = { os: String(p.os ?? ''), architecture: String(p.architecture ?? '') };
    if (typeof p.variant === 'string' && p.variant !== '') out.platform.variant = p.variant;
  }
  if (typeof d.annotations === 'object' && d.annotations !== null) out.annotations = d.annotations as Record<string, string>;
  return out;
}

const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** The platform cradle runs containers for. */
export function hostPlatform(): Platform {
  const architecture = GO_ARCH[process.arch] ?? process.arch;
  const platform: Platform = { os: 'linux', architecture };
  if (architecture === 'arm64') platform.variant = 'v8';
  if (architecture === 'arm') platform.variant = `v${(process.config.variables as { arm_version?: string }).arm_version ?? '7'}`;
  return platform;
}

/** Variants a host variant can run, best first (containerd's platform matcher rules). */
function compatibleVariants(want: Platform): string[] {
  const variant = normalizeVariant(want.architecture, want.variant);
  if (want.architecture === 'arm') {
    const level = Number(variant.slice(1)) || 7;
    const out: string[] = [];
    for (let v = level; v >= 5; v--) out.push(`v${v}`);
    return out;
  }
  if (want.architecture === 'amd64') {
    const level = Number(variant.slice(1)) || 1;
    const out: string[] = [];
    for (let v = level; v >= 1; v--) out.push(`v${v}`);
    return out;
  }
  return [variant];
}

function normalizeVariant(architecture: string, variant: string | undefined): string {
  if (architecture === 'arm64') return variant === undefined || variant === '' ? 'v8' : variant;
  if (architecture === 'amd64') return variant === undefined || variant === '' ? 'v1' : variant;
  return variant ?? '';
}

/** Picks the manifest for `want` from an index, or throws naming what the index offers. */
export function selectPlatform(index: ManifestIndex, want: Platform, what: string): Descriptor {
  const variants = compatibleVariants(want);
  let best: Descriptor | undefined;
  let bestRank = Infinity;
  for (const entry of index.manifests) {
    const p = entry.platform;
    if (!p || p.os !== want.os || p.architecture !== want.architecture) continue;
    if (entry.mediaType !== '' && entry.mediaType !== MediaType.ociManifest && entry.mediaType !== MediaType.dockerManifest) continue;
    const rank = variants.indexOf(normalizeVariant(p.architecture, p.variant));
    if (rank >= 0 && rank < bestRank) {
      best = entry;
      bestRank = rank;
    }
  }
  if (!best) {
    const offered = index.manifests.map((m) => m.platform ? formatPlatform(m.platform) : '(no platform)').join(', ');
    throw errors.notFound(`${what}: manifest for platform`, `${formatPlatform(want)} (index offers: ${offered || 'nothing'})`);
  }
  return best;
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** The parts of the OCI image config cradle and CRI use; the rest is kept verbatim. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  author?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    ExposedPorts?: Record<string, object>;
    Volumes?: Record<string, object>;
    Labels?: Record<string, string>;
    StopSignal?: string;
    ArgsEscaped?: boolean;
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: unknown[];
  [key: string]: unknown;
}

export function parseImageConfig(bytes: Buffer, what: string): ImageConfig {
  let doc: ImageConfig;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch {
    throw errors.invalidArgument(`${what}: image config is not valid JSON`);
  }
  if (typeof doc !== 'object' || doc === null || typeof doc.rootfs !== 'object' || doc.rootfs === null || !Array.isArray(doc.rootfs.diff_ids)) {
    throw errors.invalidArgument(`${what}: image config has no rootfs.diff_ids`);
  }
  doc.rootfs.diff_ids.forEach((d, i) => validateDigest(String(d), `${what}: rootfs.diff_ids[${i}]`));
  return doc;
}
