// ImageService: what the CRI image RPCs call. Pulls (deduplicated, through
// mirrors, with parallel layer downloads and a stall timeout), lookups by ID, tag
// or digest, removal with garbage collection, holds that keep an image's layers
// while containers use them, and image filesystem usage.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { errors, isCradleError, messageOf, withContext } from '../common/errors';
import type { Logger } from '../common/logger';
import { ContentStore, digestOf } from './content-store';
import { AuthFile, credentialsFromAuth, type Credentials, type PullAuth } from './credentials';
import { ImageStore, type StoredImage, type StoredLayer } from './image-store';
import { chainIds, LayerStore, type LayerSource, type OverlayLowers } from './layer-store';
import type { LayerFetchJob } from './layer-fetch';
import {
  hostPlatform, layerMediaType, parseImageConfig, parseManifest, selectPlatform,
  type Descriptor, type ImageConfig, type ImageManifest, type Platform,
} from './manifest';
import { digestName, formatReference, parseReference, tagName, type ImageReference } from './reference';
import {
  DEFAULT_REGISTRIES_OPTIONS, loadRegistriesConf, pullSources, resolveName,
  type PullSource, type RegistriesConfig, type RegistriesOptions, type ShortNameResolution,
} from './registries-conf';
import type { RegistryClient } from './registry-client';
import { ProxyConfig, type ProxyEnv } from './proxy';
import { SharedOperations } from './shared-operation';
import { PullWorkers, pullThreads } from './pull-workers';

export type { PullAuth } from './credentials';
export type { ImageConfig, Platform } from './manifest';
export type { RegistriesOptions } from './registries-conf';
export type { OverlayLowers } from './layer-store';

export interface ImageServiceOptions {
  /** Store root, e.g. /var/lib/cradle/image. */
  root: string;
  /** Where registries.conf, its drop-ins and certs.d are (defaults: /etc/containers/...). */
  registries?: RegistriesOptions;
  /** Docker config.json-format auth file used when a pull brings no AuthConfig. */
  authFile?: string;
  /** Layers downloaded in parallel per pull (default 3). */
  maxConcurrentDownloads?: number;
  /** A blob download with no bytes for this long fails; 0 disables (default 300). */
  pullProgressTimeoutSec?: number;
  /** Image names reported as pinned (exact names, or a prefix ending in "*"). */
  pinned?: string[];
  /** Platform to pick from multi-arch indexes (default: the host, linux/amd64 here). */
  platform?: Platform;
  /** Pull metrics sink; src/metrics' registry has these methods. */
  metrics?: ImagePullMetrics;
  /** Where HTTP(S)_PROXY / NO_PROXY (and lower-case) are read (default: process.env). */
  proxyEnv?: ProxyEnv;
  log: Logger;
}

/** What the image layer reports to Prometheus (cri-o's image_pulls_* family). */
export interface ImagePullMetrics {
  recordPullBytes(mediaType: string, bytes: number): void;
  recordPullSkippedBytes(bytes: number): void;
  /** undefined = success, else the error code (CRADLE_ERR_…). */
  recordPullResult(errorCode?: string): void;
  recordLayerSize(bytes: number): void;
  recordLayerReuse(layerDigest: string): void;
}

/** An image as CRI sees it, in cradle's own types. */
export interface ImageRecord {
  /** Config digest ("sha256:…"). */
  id: string;
  repoTags: string[];
  repoDigests: string[];
  /** Sum of the compressed layer sizes, in bytes. */
  size: number;
  /** From the config's User when it starts with a number. */
  uid?: number;
  /** From the config's User when it is a name. */
  username?: string;
  pinned: boolean;
  /** The OCI image config (verbose ImageStatus info). */
  config: ImageConfig;
  manifestDigest: string;
  /** Chain IDs, bottom layer first. */
  chainIds: string[];
}

export interface ImageFsUsage {
  /** Where the store lives (CRI FilesystemIdentifier.mountpoint). */
  mountpoint: string;
  usedBytes: number;
  inodesUsed: number;
  timestamp: number;
}

/** A hold on an image's layers: they survive RemoveImage and GC until released. */
export interface ImageHold {
  image: ImageRecord;
  /** overlayfs lower dirs, top-most layer first (absolute paths). */
  lowerDirs: string[];
  /** The same lowers as short links relative to the layer root: what mounts use (any layer count). */
  overlay: OverlayLowers;
  release(): void;
}

export const IMAGE_SERVICE_DEFAULTS = {
  maxConcurrentDownloads: 3,
  pullProgressTimeoutSec: 300,
} as const;

/** Partial ingests older than this are dropped by GC. */
const STALE_INGEST_MS = 24 * 3600 * 1000;
const PROGRESS_LOG_INTERVAL_MS = 10_000;
const MAX_CONFIG_BYTES = 16 << 20;

export class ImageService {
  private readonly root: string;
  private readonly log: Logger;
  private readonly content: ContentStore;
  private readonly layers: LayerStore;
  private readonly images: ImageStore;
  /** Made at the first pull (the HTTP client stack is not loaded at start). */
  private registryClient: RegistryClient | undefined;
  private readonly proxy: ProxyConfig;
  private readonly workers: PullWorkers;
  private readonly pulls = new SharedOperations<ImageRecord>();
  private readonly platform: Platform;
  private readonly maxConcurrentDownloads: number;
  private readonly stallTimeoutSec: number;
  private registriesOptions: RegistriesOptions;
  private registries: RegistriesConfig;
  private authFile: AuthFile;
  private pinned: string[];
  /** Digests and chain IDs in use by pulls in progress, refcounted. */
  private readonly leases = new Map<string, number>();
  /** Holds by container users: hold id → chain IDs. */
  private readonly holds = new Map<number, string[]>();
  private nextHoldId = 1;
  private readonly configs = new Map<string, ImageConfig>();
  private fsUsage: Promise<ImageFsUsage> | undefined;
  private readonly metrics: ImagePullMetrics | undefined;

  constructor(options: ImageServiceOptions) {
    this.root = path.resolve(options.root);
    this.log = options.log;
    fs.mkdirSync(this.root, { recursive: true, mode: 0o700 });
    this.maxConcurrentDownloads = Math.max(1, options.maxConcurrentDownloads ?? IMAGE_SERVICE_DEFAULTS.maxConcurrentDownloads);
    // Digests and unpacking run on worker threads: the event loop keeps answering RPCs during pulls.
    const workers = new PullWorkers({ threads: pullThreads(this.maxConcurrentDownloads, os.availableParallelism()), log: this.log });
    this.workers = workers;
    this.content = new ContentStore(this.root);
    this.layers = new LayerStore(this.root, this.log, (blobPath, dest, layer, diffId, signal) => workers.unpack(blobPath, dest, layer, diffId, signal));
    this.images = new ImageStore(this.root);
    this.platform = options.platform ?? hostPlatform();
    this.stallTimeoutSec = options.pullProgressTimeoutSec ?? IMAGE_SERVICE_DEFAULTS.pullProgressTimeoutSec;
    this.pinned = options.pinned ?? [];
    this.metrics = options.metrics;
    this.registriesOptions = options.registries ?? {};
    this.registries = this.loadRegistries();
    this.authFile = new AuthFile(options.authFile);
    this.proxy = new ProxyConfig(options.proxyEnv ?? process.env);
    if (this.proxy.configured) this.log.info(this.proxy.describe(), 'registry traffic uses proxies from the environment');
    this.loadConfigs();
  }

  private get client(): RegistryClient {
    if (!this.registryClient) {
      const { RegistryClient } = require('./registry-client') as typeof import('./registry-client');
      this.registryClient = new RegistryClient({ certsDir: this.certsDir, log: this.log, proxy: this.proxy });
    }
    return this.registryClient;
  }

  private get certsDir(): string {
    return this.registriesOptions.certsDir ?? DEFAULT_REGISTRIES_OPTIONS.certsDir;
  }

  /** Re-reads registries.conf (+ drop-ins), certificates and the auth file (SIGHUP). */
  reloadRegistries(): string[] {
    const loaded = loadRegistriesConf(this.registriesOptions);
    this.registries = loaded.config;
    this.authFile.reload();
    this.registryClient?.reset();
    for (const warning of loaded.warnings) this.log.warn({ warning }, 'registries configuration');
    this.log.info({ files: loaded.files }, 'registries configuration reloaded');
    return loaded.warnings;
  }

  setPinned(pinned: string[]): void {
    this.pinned = pinned;
  }

  private loadRegistries(): RegistriesConfig {
    const loaded = loadRegistriesConf(this.registriesOptions);
    for (const warning of loaded.warnings) this.log.warn({ warning }, 'registries configuration');
    return loaded.config;
  }

  /** Loads configs of stored images; images whose metadata is damaged are dropped. */
  private loadConfigs(): void {
    let dropped = false;
    for (const image of this.images.all()) {
      try {
        const bytes = fs.readFileSync(this.content.blobPath(image.configDigest));
        this.configs.set(image.id, parseImageConfig(bytes, image.id));
        const missing = image.layers.find((layer) => !this.layers.has(layer.chainId));
        if (missing) throw new Error(`layer ${missing.chainId} is missing`);
      } catch (err) {
        this.log.warn({ image: image.id, names: image.repoTags, err: messageOf(err) }, 'dropping damaged image; pull it again');
        this.images.delete(image.id);
        dropped = true;
      }
    }
    if (dropped) void this.images.save().catch((err: unknown) => this.log.error({ err: messageOf(err) }, 'saving image metadata failed'));
  }

  // ---- Pull ----

  /** Pulls an image (or joins the same pull already running). Resolves to the stored image. */
  pull(ref: string, auth?: PullAuth, signal?: AbortSignal): Promise<ImageRecord> {
    let resolution: ShortNameResolution;
    try {
      resolution = resolveName(this.registries, ref, this.registriesOptions.defaultShortNameRegistry);
    } catch (err) {
      return Promise.reject(err);
    }
    const credentials = credentialsFromAuth(auth);
    const key = `${resolution.candidates.map(formatReference).join('|')}#${fingerprint(credentials)}`;
    return this.pulls.run(key, (opSignal) => (async () => {
      const failures: unknown[] = [];
      for (const candidate of resolution.candidates) {
        try {
          return await this.pullReference(candidate, credentials, opSignal);
        } catch (err) {
          if (opSignal.aborted || resolution.candidates.length === 1) throw err;
          failures.push(err);
          this.log.info({ ref, candidate: formatReference(candidate), err: messageOf(err) }, 'short name candidate failed, trying the next');
        }
      }
      const notFound = failures.every((err) => errors.imageNotFound.is(err));
      if (notFound) throw errors.imageNotFound(`${ref} (tried ${resolution.candidates.map(formatReference).join(', ')})`);
      throw withContext(failures.find((err) => !errors.imageNotFound.is(err)), `pulling ${ref}`);
    })().then((image) => {
      this.metrics?.recordPullResult();
      return image;
    }, (err: unknown) => {
      this.metrics?.recordPullResult(isCradleError(err) ? err.code : errors.internal.code);
      throw err;
    }), signal);
  }

  private async pullReference(ref: ImageReference, explicit: Credentials | undefined, signal: AbortSignal): Promise<ImageRecord> {
    const sources = pullSources(this.registries, ref);
    let lastError: unknown;
    for (const source of sources) {
      try {
        return await this.pullFrom(ref, source, explicit ?? this.authFile.lookup(source.registry, source.repository), signal);
      } catch (err) {
        lastError = err;
        if (!source.mirror || signal.aborted) throw err;
        this.log.warn({ image: formatReference(ref), mirror: `${source.registry}/${source.repository}`, err: messageOf(err) }, 'mirror failed, trying the next source');
      }
    }
    throw lastError;
  }

  private async pullFrom(ref: ImageReference, source: PullSource, credentials: Credentials | undefined, signal: AbortSignal): Promise<ImageRecord> {
    const name = formatReference(ref);
    const started = Date.now();
    const leased: string[] = [];
    let progressTimer: NodeJS.Timeout | undefined;
    const lease = (key: string) => {
      leased.push(key);
      this.leases.set(key, (this.leases.get(key) ?? 0) + 1);
    };
    /**
     * The manifest and config are verified in memory and written while the layers
     * download (each write waits for its fsync); the image is recorded once all are stored.
     */
    const storing: Promise<string>[] = [];
    const store = (write: Promise<string>) => {
      write.catch(() => undefined); // handled where `storing` is awaited; never an unhandled rejection meanwhile
      storing.push(write);
    };
    try {
      this.log.info({ image: name, registry: source.registry, repository: source.repository }, 'pulling image');
      const top = await this.client.getManifest(source, ref.digest ?? ref.tag!, credentials, signal);
      const topDigest = digestOf(top.bytes);
      if (ref.digest !== undefined && topDigest !== ref.digest) {
        throw errors.digestMismatch(`manifest ${name} from ${source.registry}`, ref.digest, topDigest);
      }
      lease(topDigest);
      let parsed = parseManifest(top.bytes, top.contentType, name);
      let manifestBytes = top.bytes;
      let manifestDigest = topDigest;
      if (parsed.kind === 'index') {
        const picked = selectPlatform(parsed, this.platform, name);
        const fetched = await this.client.getManifest(source, picked.digest, credentials, signal);
        const digest = digestOf(fetched.bytes);
        if (digest !== picked.digest) throw errors.digestMismatch(`manifest ${name} for ${picked.digest} from ${source.registry}`, picked.digest, digest);
        lease(digest);
        store(this.content.putBytes({ digest: topDigest, size: top.bytes.length }, top.bytes, `index ${name}`));
        parsed = parseManifest(fetched.bytes, fetched.contentType, `${name} (${picked.digest})`);
        if (parsed.kind !== 'manifest') throw errors.invalidArgument(`${name}: index entry ${picked.digest} is itself an index`);
        manifestBytes = fetched.bytes;
        manifestDigest = digest;
      }
      const manifest: ImageManifest = parsed;
      // A worker takes a while to start; it starts now, while the config is fetched.
      this.workers.prewarm();
      store(this.content.putBytes({ digest: manifestDigest, size: manifestBytes.length }, manifestBytes, `manifest ${name}`));

      // Config
      if (manifest.config.size > MAX_CONFIG_BYTES) {
        throw errors.invalidArgument(`${name}: image config ${manifest.config.digest} is ${manifest.config.size} bytes, more than the ${MAX_CONFIG_BYTES} allowed`);
      }
      lease(manifest.config.digest);
      let configBytes: Buffer;
      if (this.content.has(manifest.config.digest)) {
        configBytes = await this.content.readBytes(manifest.config.digest);
      } else {
        configBytes = await this.client.getBlobBytes(source, manifest.config.digest, credentials, signal, MAX_CONFIG_BYTES);
        store(this.content.putBytes(manifest.config, configBytes, `config ${manifest.config.digest} of ${name} from ${source.registry}`));
      }
      const config = parseImageConfig(configBytes, `${name} config ${manifest.config.digest}`);
      const diffIds = config.rootfs.diff_ids;
      if (diffIds.length !== manifest.layers.length) {
        throw errors.invalidArgument(`${name}: manifest lists ${manifest.layers.length} layers but the config has ${diffIds.length} diff_ids`);
      }
      manifest.layers.forEach((layer, i) => layerMediaType(layer.mediaType, `${name} layer ${i} (${layer.digest})`));
      const chains = chainIds(diffIds);
      for (const chain of chains) lease(chain);
      for (const layer of manifest.layers) lease(layer.digest);

      // Layers: missing ones are downloaded (at most N at a time) and unpacked.
      const limit = new Semaphore(this.maxConcurrentDownloads);
      const failed = new AbortController();
      const layerSignal = AbortSignal.any([signal, failed.signal]);
      let downloaded = 0;
      let firstFailure: unknown;
      const received = new Map<string, number>();
      const totalBytes = manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
      progressTimer = setInterval(() => {
        const bytes = [...received.values()].reduce((sum, n) => sum + n, 0);
        this.log.info({ image: name, receivedBytes: bytes, layerBytes: totalBytes, layersInFlight: received.size }, 'pull progress');
      }, PROGRESS_LOG_INTERVAL_MS);
      progressTimer.unref();
      manifest.layers.forEach((layer, i) => {
        if (!this.layers.has(chains[i]!)) return;
        this.metrics?.recordPullSkippedBytes(layer.size);
        this.metrics?.recordLayerReuse(layer.digest);
      });
      // A pull worker downloads each missing layer and unpacks it as it arrives: its bytes never pass this thread.
      const fetchLayer = (layer: Descriptor, diffId: string): LayerSource => async (dest, opSignal) => {
        const release = await limit.acquire(opSignal);
        try {
          const job: LayerFetchJob = {
            storeRoot: this.root,
            blob: { digest: layer.digest, size: layer.size, mediaType: layer.mediaType, ...(layer.urls ? { urls: layer.urls } : {}) },
            source,
            ...(credentials ? { credentials } : {}),
            auth: this.client.exportAuth([source.registry]),
            certsDir: this.certsDir,
            proxyEnv: this.proxy.env,
            stallTimeoutSec: this.stallTimeoutSec,
            what: `layer ${layer.digest} of ${name} from ${source.registry}`,
            dest,
            expectedDiffId: diffId,
          };
          const fetched = await this.content.ingestBy(layer, (signal) => this.workers.fetchAndUnpack(job, signal, (bytes) => received.set(layer.digest, bytes)), opSignal);
          if (fetched.result) {
            downloaded += layer.size;
            this.metrics?.recordPullBytes(layer.mediaType, layer.size);
            this.metrics?.recordLayerSize(layer.size);
            this.log.debug({ image: name, layer: layer.digest, size: layer.size }, 'layer downloaded');
          }
          return fetched.result?.unpacked ?? { blobPath: fetched.path };
        } finally {
          release();
        }
      };
      const tasks = manifest.layers.map((layer, i) => this.layers.ensure(chains[i]!, diffIds[i]!, chains[i - 1], layer.digest, fetchLayer(layer, diffIds[i]!), layerSignal)
        .catch((err: unknown) => {
          // The first failure is the cause; the others are the cancellations it triggers.
          if (!failed.signal.aborted) {
            firstFailure = err;
            failed.abort(err);
          }
          throw err;
        }));
      const results = await Promise.allSettled(tasks);
      await Promise.all(storing);
      if (results.some((r) => r.status === 'rejected')) throw firstFailure ?? (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;

      const layers: StoredLayer[] = manifest.layers.map((layer, i) => ({
        digest: layer.digest, size: layer.size, mediaType: layer.mediaType, diffId: diffIds[i]!, chainId: chains[i]!,
      }));
      const stored: StoredImage = {
        id: manifest.config.digest,
        manifestDigest,
        manifestMediaType: manifest.mediaType,
        configDigest: manifest.config.digest,
        layers,
        repoTags: [],
        repoDigests: [digestName(ref, topDigest)],
        size: layers.reduce((sum, layer) => sum + layer.size, 0),
        pulledAt: new Date().toISOString(),
      };
      // name:tag@digest pulls by digest; the tag was not checked, so it is not recorded (as containerd).
      const tag = ref.digest === undefined ? tagName(ref) : undefined;
      if (tag !== undefined) stored.repoTags.push(tag);
      this.configs.set(stored.id, config);
      const image = this.images.put(stored);
      await this.saveImages();
      this.log.info({ image: name, id: image.id, size: image.size, downloadedBytes: downloaded, ms: Date.now() - started }, 'image pulled');
      return this.record(image);
    } finally {
      // A write still running when the pull failed must end before GC looks at the store.
      await Promise.allSettled(storing);
      if (progressTimer) clearInterval(progressTimer);
      for (const key of leased) {
        const count = (this.leases.get(key) ?? 1) - 1;
        if (count <= 0) this.leases.delete(key);
        else this.leases.set(key, count);
      }
      // Layer blobs are not kept once unpacked (cri-o keeps none; this keeps disk use to one copy).
      this.collectGarbage();
    }
  }

  /** Persists image metadata; on failure memory goes back to what the disk holds, so nothing unsaved is listed. */
  private async saveImages(): Promise<void> {
    try {
      await this.images.save();
    } catch (err) {
      this.images.reload();
      throw withContext(err, 'saving image metadata');
    }
  }

  // ---- Lookups ----

  list(filterRef?: string): ImageRecord[] {
    if (filterRef !== undefined && filterRef !== '') {
      const image = this.status(filterRef);
      return image ? [image] : [];
    }
    return this.images.all().map((image) => this.record(image));
  }

  /** An image by ID (full or unique prefix), tag or digest reference; undefined if unknown. */
  status(refOrId: string): ImageRecord | undefined {
    const found = this.lookup(refOrId);
    return found ? this.record(found.image) : undefined;
  }

  private lookup(refOrId: string): { image: StoredImage; via: 'id' | 'tag' | 'digest'; name?: string } | undefined {
    const asId = /^(sha256:)?[a-f0-9]{64}$/.test(refOrId) ? (refOrId.startsWith('sha256:') ? refOrId : `sha256:${refOrId}`) : undefined;
    if (asId) {
      const image = this.images.get(asId);
      if (image) return { image, via: 'id' };
    }
    let candidates: ImageReference[] = [];
    try {
      candidates = resolveName(this.registries, refOrId, this.registriesOptions.defaultShortNameRegistry).candidates;
    } catch {
      // not a valid name (or an ambiguous short name): maybe an ID prefix
    }
    for (const candidate of candidates) {
      if (candidate.digest !== undefined) {
        const name = digestName(candidate, candidate.digest);
        const image = this.images.byName(name);
        if (image) return { image, via: 'digest', name };
      } else {
        const name = tagName(candidate)!;
        const image = this.images.byName(name);
        if (image) return { image, via: 'tag', name };
      }
    }
    const hex = refOrId.startsWith('sha256:') ? refOrId.slice(7) : refOrId;
    if (/^[a-f0-9]{3,64}$/.test(hex)) {
      const matches = this.images.byIdPrefix(hex);
      if (matches.length === 1) return { image: matches[0]!, via: 'id' };
    }
    return undefined;
  }

  private record(image: StoredImage): ImageRecord {
    let config = this.configs.get(image.id);
    if (!config) {
      config = parseImageConfig(fs.readFileSync(this.content.blobPath(image.configDigest)), image.id);
      this.configs.set(image.id, config);
    }
    const record: ImageRecord = {
      id: image.id,
      repoTags: [...image.repoTags],
      repoDigests: [...image.repoDigests],
      size: image.size,
      pinned: this.isPinned(image),
      config,
      manifestDigest: image.manifestDigest,
      chainIds: image.layers.map((layer) => layer.chainId),
    };
    const user = config.config?.User ?? '';
    const first = user.split(':', 1)[0] ?? '';
    if (/^\d+$/.test(first)) record.uid = Number(first);
    else if (first !== '') record.username = first;
    return record;
  }

  private isPinned(image: StoredImage): boolean {
    const names = [...image.repoTags, ...image.repoDigests, image.id];
    return this.pinned.some((pattern) => {
      if (pattern.endsWith('*')) return names.some((name) => name.startsWith(pattern.slice(0, -1)));
      let normalized = pattern;
      try {
        const parsed = parseReference(pattern);
        if (parsed.domain !== undefined) normalized = formatReference(resolveName(this.registries, pattern).candidates[0]!);
        else normalized = formatReference(resolveName(this.registries, pattern, this.registriesOptions.defaultShortNameRegistry).candidates[0]!);
      } catch {
        // not a reference: compare verbatim
      }
      return names.includes(normalized) || names.includes(pattern);
    });
  }

  // ---- Removal, holds, GC ----

  /**
   * RemoveImage: by ID removes the image; by tag removes that tag (the image goes
   * when no tag is left); by digest removes that repo digest (the image goes when
   * no name is left). Unknown images are not an error (CRI: idempotent).
   */
  async remove(refOrId: string): Promise<void> {
    const found = this.lookup(refOrId);
    if (!found) return;
    const { image, via, name } = found;
    if (via === 'tag') image.repoTags = image.repoTags.filter((tag) => tag !== name);
    if (via === 'digest') image.repoDigests = image.repoDigests.filter((digest) => digest !== name);
    const gone = via === 'id' || image.repoTags.length === 0 && (via === 'tag' || image.repoDigests.length === 0);
    if (gone) {
      this.images.delete(image.id);
      this.configs.delete(image.id);
    }
    await this.saveImages();
    this.log.info({ image: image.id, ref: refOrId, removed: gone ? 'image' : name }, 'image removed');
    if (gone) this.collectGarbage();
  }

  /** Keeps an image's layers (even through RemoveImage) until release(); for containers using it. */
  hold(refOrId: string): ImageHold {
    const found = this.lookup(refOrId);
    if (!found) throw errors.imageNotFound(refOrId);
    const image = this.record(found.image);
    const overlay = this.layers.overlayLowers([...image.chainIds].reverse());
    const id = this.nextHoldId++;
    this.holds.set(id, image.chainIds);
    let released = false;
    return {
      image,
      lowerDirs: this.lowerDirs(image),
      overlay,
      release: () => {
        if (released) return;
        released = true;
        this.holds.delete(id);
        this.collectGarbage();
      },
    };
  }

  /**
   * Holds layers by chain ID (bottom first), for containers recovered after a
   * restart whose image may have been removed meanwhile. Throws when a layer is gone.
   */
  holdLayers(chainIds: string[]): { lowerDirs: string[]; overlay: OverlayLowers; release(): void } {
    const missing = chainIds.find((chain) => !this.layers.has(chain));
    if (missing) throw errors.notFound('image layer', missing);
    const overlay = this.layers.overlayLowers([...chainIds].reverse());
    const id = this.nextHoldId++;
    this.holds.set(id, [...chainIds]);
    let released = false;
    return {
      lowerDirs: [...chainIds].reverse().map((chain) => this.layers.diffDir(chain)),
      overlay,
      release: () => {
        if (released) return;
        released = true;
        this.holds.delete(id);
        this.collectGarbage();
      },
    };
  }

  /** overlayfs lower dirs of an image, top-most layer first. */
  lowerDirs(image: ImageRecord): string[] {
    return [...image.chainIds].reverse().map((chain) => this.layers.diffDir(chain));
  }

  /**
   * Deletes layers and blobs nothing references: not a stored image, not a hold,
   * not a pull in progress. The decision and the removal from sight happen in one
   * synchronous step, so no pull can start using something being deleted.
   * Returns what was removed.
   */
  collectGarbage(): { layers: string[]; blobs: string[] } {
    const keep = new Set<string>(this.leases.keys());
    for (const chains of this.holds.values()) for (const chain of chains) keep.add(chain);
    for (const image of this.images.all()) {
      keep.add(image.manifestDigest);
      keep.add(image.configDigest);
      for (const digest of image.repoDigests) keep.add(digest.slice(digest.lastIndexOf('@') + 1));
      for (const layer of image.layers) keep.add(layer.chainId);
    }
    for (const chain of this.layers.inProgress()) keep.add(chain);
    for (const digest of this.content.inProgress()) keep.add(digest);
    const removed = { layers: [] as string[], blobs: [] as string[] };
    for (const layer of this.layers.list()) {
      if (keep.has(layer.chainId)) continue;
      try {
        this.layers.removeNow(layer.chainId);
        removed.layers.push(layer.chainId);
      } catch (err) {
        this.log.warn({ layer: layer.chainId, err: messageOf(err) }, 'could not remove layer');
      }
    }
    for (const digest of this.listBlobsSync()) {
      if (keep.has(digest)) continue;
      try {
        this.content.discard(digest);
        removed.blobs.push(digest);
      } catch (err) {
        this.log.warn({ blob: digest, err: messageOf(err) }, 'could not remove blob');
      }
    }
    void this.content.pruneIngests(STALE_INGEST_MS).catch(() => undefined);
    if (removed.layers.length + removed.blobs.length > 0) this.log.info({ layers: removed.layers.length, blobs: removed.blobs.length }, 'garbage collected');
    return removed;
  }

  private listBlobsSync(): string[] {
    const out: string[] = [];
    for (const algorithm of safeReaddir(this.content.blobsDir)) {
      for (const hex of safeReaddir(path.join(this.content.blobsDir, algorithm))) out.push(`${algorithm}:${hex}`);
    }
    return out;
  }

  // ---- Filesystem usage ----

  /** Bytes (allocated blocks) and inodes used by the store; concurrent callers share one walk. */
  fsInfo(): Promise<ImageFsUsage> {
    if (!this.fsUsage) {
      this.fsUsage = walkUsage(this.root).then((usage) => ({ mountpoint: this.root, ...usage, timestamp: Date.now() }))
        .finally(() => { this.fsUsage = undefined; });
    }
    return this.fsUsage;
  }

  close(): void {
    this.registryClient?.close();
    this.workers.close();
  }
}

function fingerprint(credentials: Credentials | undefined): string {
  if (!credentials) return 'anonymous';
  return createHash('sha256').update(JSON.stringify(credentials)).digest('hex').slice(0, 16);
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

async function walkUsage(root: string): Promise<{ usedBytes: number; inodesUsed: number }> {
  const seen = new Set<string>();
  let usedBytes = 0;
  const stack = [root];
  while (stack.length > 0) {
    const current = stack.pop()!;
    let stat: fs.BigIntStats;
    try {
      stat = await fs.promises.lstat(current, { bigint: true });
    } catch {
      continue;
    }
    const key = `${stat.dev}:${stat.ino}`;
    if (seen.has(key)) continue;
    seen.add(key);
    usedBytes += Number(stat.blocks) * 512;
    if (stat.isDirectory()) {
      let names: string[] = [];
      try {
        names = await fs.promises.readdir(current);
      } catch {
        // raced with a removal
      }
      for (const name of names) stack.push(path.join(current, name));
    }
  }
  return { usedBytes, inodesUsed: seen.size };
}

/** Limits concurrent downloads; waiting is abortable. */
class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  acquire(signal?: AbortSignal): Promise<() => void> {
    const release = () => {
      this.active--;
      this.waiting.shift()?.();
    };
    if (this.active < this.size) {
      this.active++;
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        this.active++;
        resolve(release);
      };
      const onAbort = () => {
        const index = this.waiting.indexOf(grant);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(isCradleError(signal?.reason) ? signal!.reason : errors.cancelled('download cancelled'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }
}
