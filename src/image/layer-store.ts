// Unpacked layers, one directory per chain ID, shared by every image that
// contains that chain: <root>/layers/<chain hex>/{diff/, layer.json}. A layer is
// unpacked into <root>/layers/.tmp-*/ and renamed into place only once the diff ID
// matched, so a crash never leaves a half-unpacked layer visible. Each diff/ holds
// only that layer's changes (overlayfs form), so an image's lower dirs are the
// diff/ dirs of its chain, top-most first.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { errors, errnoOf, messageOf } from '../common/errors';
import type { Logger } from '../common/logger';
import { SharedOperations } from './shared-operation';
import { unpackLayerFile } from './unpack';
import { syncfsPath } from '../sys/syncfs';

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

export class LayerStore {
  readonly dir: string;
  private readonly layers = new Map<string, LayerRecord>();
  private readonly unpacks = new SharedOperations<LayerRecord>();

  constructor(root: string, private readonly log: Logger) {
    this.dir = path.join(root, 'layers');
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.load();
  }

  /** Reads committed layers; leftovers of interrupted unpacks and removals are deleted. */
  private load(): void {
    for (const name of fs.readdirSync(this.dir)) {
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
    return path.join(this.dir, chainId.slice(chainId.indexOf(':') + 1));
  }

  /** The directory an overlay mount uses as a lower dir. */
  diffDir(chainId: string): string {
    return path.join(this.layerDir(chainId), 'diff');
  }

  /**
   * Makes sure the layer exists: concurrent callers for one chain ID share a
   * single fetch and unpack. `fetchBlob` is only called when the layer is missing.
   */
  ensure(chainId: string, diffId: string, parent: string | undefined, blobDigest: string,
    fetchBlob: (signal: AbortSignal) => Promise<string>, signal?: AbortSignal): Promise<LayerRecord> {
    const existing = this.layers.get(chainId);
    if (existing) return Promise.resolve(existing);
    return this.unpacks.run(chainId, async (opSignal) => {
      const again = this.layers.get(chainId);
      if (again) return again;
      const blobPath = await fetchBlob(opSignal);
      return this.unpack(chainId, diffId, parent, blobDigest, blobPath, opSignal);
    }, signal);
  }

  private async unpack(chainId: string, diffId: string, parent: string | undefined, blobDigest: string, blobPath: string, signal: AbortSignal): Promise<LayerRecord> {
    const tmp = path.join(this.dir, `.tmp-${randomBytes(8).toString('hex')}`);
    await fs.promises.mkdir(path.join(tmp, 'diff'), { recursive: true, mode: 0o700 });
    await fs.promises.chmod(path.join(tmp, 'diff'), 0o755);
    try {
      const started = Date.now();
      const result = await unpackLayerFile(blobPath, path.join(tmp, 'diff'), { layer: blobDigest, expectedDiffId: diffId, signal, log: this.log });
      const record: LayerRecord = { chainId, diffId, blobDigest, contentBytes: result.contentBytes, unpackedAt: new Date().toISOString() };
      if (parent !== undefined) record.parent = parent;
      await fs.promises.writeFile(path.join(tmp, 'layer.json'), JSON.stringify(record));
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
      this.layers.set(chainId, record);
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

/** Makes the unpacked files and layer.json durable before the rename commits them. */
async function syncTree(dir: string): Promise<void> {
  await syncfsPath(dir);
}
