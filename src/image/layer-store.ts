// Unpacked layers, one directory per chain ID, shared by every image that
// contains that chain: <root>/layers/<chain hex>/{diff/, layer.json}. A layer is
// unpacked into <root>/layers/.tmp-*/ and renamed into place only once the diff ID
// matched, so a crash never leaves a half-unpacked layer visible. Each diff/ holds
// only that layer's changes (overlayfs form), so an image's lower dirs are the
// diff/ dirs of its chain, top-most first.
//
// Each layer also has a short name, <root>/layers/l/<26 chars> → ../<chain hex>/diff
// (recorded in the layer's `link` file), as Docker's overlay2 and
// containers/storage have: overlay mounts name lowers by these links relative to
// <root>/layers, so 127 layers fit in the one page mount(2) takes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { errors, errnoOf, messageOf } from '../common/errors';
import type { Logger } from '../common/logger';
import { SharedOperations } from './shared-operation';
import type { UnpackResult } from './unpack';
import { syncfsPath } from '../sys/syncfs';
import type { OverlayLowers } from '../sys/overlay-mount';

export interface LayerRecord {
  chainId: string;
  diffId: string;
  /** Chain ID of the layer below, if any. */
  parent?: string;
  /** Digest of the blob it was unpacked from. */
  blobDigest: string;
  /** Bytes of regular-file content. */
  contentBytes: number;
  unpackedAt: string;
}

/** Chain IDs per the OCI image spec: chain[0] = diff[0], chain[n] = sha256(chain[n-1] + " " + diff[n]). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const previous = out[out.length - 1];
    out.push(previous === undefined ? diffId : `sha256:${createHash('sha256').update(`${previous} ${diffId}`).digest('hex')}`);
  }
  return out;
}

/** Unpacks a layer blob into dest (see unpack.ts); the daemon runs it on a worker thread. */
export type LayerUnpacker = (blobPath: string, dest: string, layer: string, expectedDiffId: string, signal: AbortSignal) => Promise<UnpackResult>;

/** A layer's blob that was fetched but not unpacked: unpack it from blobPath. */
export interface FetchedBlob {
  blobPath: string;
}

/**
 * Brings a missing layer: downloads it and unpacks it into dest (an existing empty
 * directory) as it arrives, or only fetches its blob (already stored, or its
 * download started over) and leaves the unpack to the store.
 */
export type LayerSource = (dest: string, signal: AbortSignal) => Promise<UnpackResult | FetchedBlob>;

/** Links dir under layers/ (never a chain hex, never hidden). */
export const LINKS_DIR = 'l';
const LINK_FILE = 'link';
const LINK_ID = /^[A-Z2-7]{26}$/;

export type { OverlayLowers };

/** The unpacker of this thread; tar and the decompressors load with its first layer. */
function unpackOnThisThread(log: Logger): LayerUnpacker {
  return (blobPath, dest, layer, expectedDiffId, signal) =>
    (require('./unpack') as typeof import('./unpack')).unpackLayerFile(blobPath, dest, { layer, expectedDiffId, signal, log });
}

export class LayerStore {
  readonly dir: string;
  private readonly linksDir: string;
  private readonly layers = new Map<string, LayerRecord>();
  /** chain ID → short link name. */
  private readonly links = new Map<string, string>();
  private readonly unpacks = new SharedOperations<LayerRecord>();

  /** `unpacker` (of stored blobs) defaults to unpacking on this thread. */
  constructor(root: string, private readonly log: Logger,
    private readonly unpacker: LayerUnpacker = unpackOnThisThread(log)) {
    this.dir = path.join(root, 'layers');
    this.linksDir = path.join(this.dir, LINKS_DIR);
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(this.linksDir, { recursive: true, mode: 0o700 });
    this.load();
    this.repairLinks();
  }

  /** Reads committed layers; leftovers of interrupted unpacks and removals are deleted. */
  private load(): void {
    for (const name of fs.readdirSync(this.dir)) {
      if (name === LINKS_DIR) continue;
      const full = path.join(this.dir, name);
      if (name.startsWith('.')) {
        this.removeInBackground(full);
        continue;
      }
      try {
        const record = JSON.parse(fs.readFileSync(path.join(full, 'layer.json'), 'utf8')) as LayerRecord;
        if (record.chainId !== `sha256:${name}`) throw new Error(`layer.json names ${record.chainId}`);
        this.layers.set(record.chainId, record);
      } catch (err) {
        this.log.warn({ layer: name, err: messageOf(err) }, 'removing unreadable layer directory');
        this.removeInBackground(full);
      }
    }
  }

  /**
   * Gives every layer its link (stores from before links get them here; a crash
   * between commit and link creation is repaired) and drops links to nothing.
   */
  private repairLinks(): void {
    const wanted = new Map<string, string>();
    for (const chainId of this.layers.keys()) {
      const hex = hexOf(chainId);
      let id: string | undefined;
      try {
        id = fs.readFileSync(path.join(this.dir, hex, LINK_FILE), 'utf8').trim();
      } catch (err) {
        if (errnoOf(err) !== 'ENOENT') throw err;
      }
      if (id === undefined || !LINK_ID.test(id) || wanted.has(id)) {
        id = newLinkId();
        const file = path.join(this.dir, hex, LINK_FILE);
        fs.writeFileSync(`${file}.tmp`, id);
        fs.renameSync(`${file}.tmp`, file);
      }
      wanted.set(id, hex);
      this.links.set(chainId, id);
    }
    for (const name of fs.readdirSync(this.linksDir)) {
      const hex = wanted.get(name);
      let target: string | undefined;
      try {
        target = fs.readlinkSync(path.join(this.linksDir, name));
      } catch {
        // not a symlink
      }
      if (hex !== undefined && target === linkTarget(hex)) {
        wanted.delete(name);
        continue;
      }
      fs.rmSync(path.join(this.linksDir, name), { recursive: true, force: true });
    }
    for (const [id, hex] of wanted) fs.symlinkSync(linkTarget(hex), path.join(this.linksDir, id));
  }

  /**
   * Overlay lowers for chain IDs given top-most first, as links relative to the
   * layers dir; a link that went missing is made again.
   */
  overlayLowers(chainIdsTopFirst: readonly string[]): OverlayLowers {
    const lowers = chainIdsTopFirst.map((chainId) => {
      const id = this.links.get(chainId);
      if (id === undefined) throw errors.notFound('image layer', chainId);
      const link = path.join(this.linksDir, id);
      try {
        fs.lstatSync(link);
      } catch {
        fs.symlinkSync(linkTarget(hexOf(chainId)), link);
      }
      return `${LINKS_DIR}/${id}`;
    });
    return { root: this.dir, lowers };
  }

  has(chainId: string): boolean {
    return this.layers.has(chainId);
  }

  get(chainId: string): LayerRecord | undefined {
    return this.layers.get(chainId);
  }

  list(): LayerRecord[] {
    return [...this.layers.values()];
  }

  /** In-progress unpacks (GC keeps them). */
  inProgress(): string[] {
    return this.unpacks.keys();
  }

  layerDir(chainId: string): string {
    return path.join(this.dir, hexOf(chainId));
  }

  /** The directory an overlay mount uses as a lower dir. */
  diffDir(chainId: string): string {
    return path.join(this.layerDir(chainId), 'diff');
  }

  /**
   * Makes sure the layer exists: concurrent callers for one chain ID share a
   * single fetch and unpack. `source` is only called when the layer is missing.
   */
  ensure(chainId: string, diffId: string, parent: string | undefined, blobDigest: string, source: LayerSource, signal?: AbortSignal): Promise<LayerRecord> {
    const existing = this.layers.get(chainId);
    if (existing) return Promise.resolve(existing);
    return this.unpacks.run(chainId, async (opSignal) => {
      const again = this.layers.get(chainId);
      if (again) return again;
      const layer = { chainId, diffId, parent, blobDigest };
      const brought = await this.unpack(layer, opSignal, (dest) => source(dest, opSignal));
      if (!('blobPath' in brought)) return brought;
      return this.unpackFile(layer, brought.blobPath, opSignal);
    }, signal);
  }

  private async unpackFile(layer: LayerIdentity, blobPath: string, signal: AbortSignal): Promise<LayerRecord> {
    const unpacked = await this.unpack(layer, signal, (dest) => this.unpacker(blobPath, dest, layer.blobDigest, layer.diffId, signal));
    if ('blobPath' in unpacked) throw new Error('unreachable: a file unpacker always unpacks');
    return unpacked;
  }

  /**
   * Fills a temp dir through `fill` and commits it as the layer; `fill` may
   * decline (returning the blob's path), and then nothing is committed.
   */
  private async unpack(layer: LayerIdentity, signal: AbortSignal, fill: (dest: string) => Promise<UnpackResult | FetchedBlob>): Promise<LayerRecord | FetchedBlob> {
    const { chainId, diffId, parent, blobDigest } = layer;
    const tmp = path.join(this.dir, `.tmp-${randomBytes(8).toString('hex')}`);
    await fs.promises.mkdir(path.join(tmp, 'diff'), { recursive: true, mode: 0o700 });
    await fs.promises.chmod(path.join(tmp, 'diff'), 0o755);
    try {
      const started = Date.now();
      const result = await fill(path.join(tmp, 'diff'));
      if ('blobPath' in result) {
        this.removeInBackground(tmp);
        return result;
      }
      const record: LayerRecord = { chainId, diffId, blobDigest, contentBytes: result.contentBytes, unpackedAt: new Date().toISOString() };
      if (parent !== undefined) record.parent = parent;
      await fs.promises.writeFile(path.join(tmp, 'layer.json'), JSON.stringify(record));
      const linkId = newLinkId();
      await fs.promises.writeFile(path.join(tmp, LINK_FILE), linkId);
      await syncTree(tmp);
      const final = this.layerDir(chainId);
      try {
        await fs.promises.rename(tmp, final);
      } catch (err) {
        // A leftover of an earlier crash with the same name: it was never committed (not loaded).
        if (errnoOf(err) !== 'ENOTEMPTY' && errnoOf(err) !== 'EEXIST') throw err;
        fs.renameSync(final, path.join(this.dir, `.trash-${randomBytes(8).toString('hex')}`));
        await fs.promises.rename(tmp, final);
      }
      // A crash before this symlink exists is repaired at the next start.
      await fs.promises.symlink(linkTarget(hexOf(chainId)), path.join(this.linksDir, linkId));
      this.layers.set(chainId, record);
      this.links.set(chainId, linkId);
      this.log.debug({ chainId, blob: blobDigest, entries: result.entries, ms: Date.now() - started }, 'layer unpacked');
      return record;
    } catch (err) {
      this.removeInBackground(tmp);
      if (signal.aborted && !errors.pullStalled.is(err) && !errors.digestMismatch.is(err) && !errors.hostileLayer.is(err)) {
        throw errors.cancelled(`unpacking layer ${blobDigest}: cancelled`);
      }
      throw err;
    }
  }

  /**
   * Removes a layer from the store at once (renamed out of sight synchronously, so
   * no later lookup can see it) and deletes its files in the background.
   */
  removeNow(chainId: string): void {
    if (!this.layers.delete(chainId)) return;
    const linkId = this.links.get(chainId);
    this.links.delete(chainId);
    if (linkId !== undefined) fs.rmSync(path.join(this.linksDir, linkId), { force: true });
    const trash = path.join(this.dir, `.trash-${randomBytes(8).toString('hex')}`);
    try {
      fs.renameSync(this.layerDir(chainId), trash);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return;
      throw err;
    }
    this.removeInBackground(trash);
  }

  private removeInBackground(dir: string): void {
    fs.promises.rm(dir, { recursive: true, force: true }).catch((err: unknown) => {
      this.log.warn({ dir, err: messageOf(err) }, 'could not remove layer directory');
    });
  }
}

function hexOf(chainId: string): string {
  return chainId.slice(chainId.indexOf(':') + 1);
}

function linkTarget(hex: string): string {
  return `../${hex}/diff`;
}

/** 26 base32 characters from 128 random bits, as Docker's overlay2 link names. */
function newLinkId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = randomBytes(17);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 26) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

interface LayerIdentity {
  chainId: string;
  diffId: string;
  parent: string | undefined;
  blobDigest: string;
}

/** Makes the unpacked files and layer.json durable before the rename commits them. */
async function syncTree(dir: string): Promise<void> {
  await syncfsPath(dir);
}
