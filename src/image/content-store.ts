// Content-addressed blob store: <root>/blobs/<algorithm>/<hex>. A blob becomes
// visible only after its size and digest were verified: data goes to
// <root>/ingest/<algorithm>-<hex> first and is verified there: hashed by a
// follower as it arrives (a layer unpacked on the way, made durable with the
// layer), or else fsynced and hashed once complete; then it is renamed. (In the
// daemon, blobs are ingested on pull workers: layer-fetch.ts.) A partial ingest left by a
// crash or a dropped connection is resumed with a Range request. Concurrent
// fetches of the same digest share one download.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { errors, errnoOf, isCradleError, messageOf } from '../common/errors';
import type { LogMethods } from '../common/logger';
import { validateDigest } from './reference';
import { SharedOperations } from './shared-operation';
import { hashFile } from './blob-hash';
import { startWriteback } from '../sys/writeback';

/** Blobs discarded but not yet deleted, in the ingest dir. */
const TRASH_SUFFIX = '.trash';

export interface BlobDescriptor {
  digest: string;
  size: number;
  mediaType?: string;
}

/** What a blob source returns: the body, and the offset it actually starts at. */
export interface BlobBody {
  stream: Readable;
  /** 0 when the server ignored the Range request. */
  offset: number;
}

/** Opens the blob from `offset` (a Range request when > 0). */
export type BlobOpener = (offset: number, signal: AbortSignal) => Promise<BlobBody>;

/**
 * Takes the blob's bytes as they are written into the partial file (a layer
 * unpacked as it arrives) and hashes them on the way, so the store need not read
 * the file again to verify it.
 */
export interface IngestFollower {
  /** The download into `partial` begins; its first `offset` bytes are there from an earlier try (the follower reads them from the file). */
  begin(partial: string, desc: BlobDescriptor, offset: number): Promise<void>;
  /** The next bytes of the blob, just written to the partial file; resolves once the follower has taken them. */
  data(chunk: Buffer): Promise<void>;
  /** The partial file is being emptied: what the follower took is void, and it stops following. */
  restarted(): void;
  /** Hex digest of the whole blob as the follower took it; undefined when it stopped (the store hashes the file). */
  digest(): Promise<string | undefined>;
}

export interface IngestOptions {
  /** Names the blob in errors and logs ("layer sha256:… from registry …"). */
  what: string;
  signal?: AbortSignal;
  /** No bytes for this long aborts the fetch; 0 disables. */
  stallTimeoutSec: number;
  /** Called with the bytes received so far. */
  onProgress?: (bytes: number) => void;
  log?: LogMethods;
  /**
   * Follows the download. The blob is then not fsynced: the follower takes its
   * bytes as they are written, and what it makes of them (an unpacked layer) is
   * made durable on its own.
   */
  follower?: IngestFollower;
}

const RETRIES_AFTER_NETWORK_ERROR = 3;
/** Received bytes are written (and handed to the follower) in batches of about this size: fewer writes and wake-ups. */
const WRITE_BATCH_BYTES = 1 << 20;

export class ContentStore {
  readonly blobsDir: string;
  readonly ingestDir: string;
  private readonly ingests = new SharedOperations<string>();

  constructor(root: string) {
    this.blobsDir = path.join(root, 'blobs');
    this.ingestDir = path.join(root, 'ingest');
    fs.mkdirSync(this.blobsDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(this.ingestDir, { recursive: true, mode: 0o700 });
  }

  blobPath(digest: string): string {
    const [algorithm, hex] = validateDigest(digest).split(':') as [string, string];
    return path.join(this.blobsDir, algorithm, hex);
  }

  private ingestPath(digest: string): string {
    return path.join(this.ingestDir, validateDigest(digest).replace(':', '-'));
  }

  has(digest: string): boolean {
    return fs.existsSync(this.blobPath(digest));
  }

  /** Digests being fetched right now (GC leaves their ingests alone). */
  inProgress(): string[] {
    return this.ingests.keys();
  }

  async readBytes(digest: string): Promise<Buffer> {
    try {
      return await fs.promises.readFile(this.blobPath(digest));
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') throw errors.notFound('blob', digest);
      throw err;
    }
  }

  /** Stores bytes already in memory (manifests, configs) after verifying them. */
  async putBytes(desc: BlobDescriptor, data: Buffer, what: string): Promise<string> {
    verifyBytes(desc, data, what);
    const file = this.blobPath(desc.digest);
    if (fs.existsSync(file)) return file;
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${this.ingestPath(desc.digest)}.${process.pid}.${Date.now()}.bytes`;
    const handle = await fs.promises.open(tmp, 'w', 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(tmp, file);
    await fsyncDir(path.dirname(file));
    return file;
  }

  /** Fetches a blob into the store unless present; resolves to its path. */
  ingest(desc: BlobDescriptor, open: BlobOpener, options: IngestOptions): Promise<string> {
    const file = this.blobPath(desc.digest);
    if (fs.existsSync(file)) return Promise.resolve(file);
    return this.ingests.run(desc.digest, (signal) => this.fetch(desc, open, { ...options, signal }), options.signal);
  }

  /**
   * Runs `fetch`, a download into this store's root made by another ContentStore
   * (a pull worker's), as this digest's ingest: an ingest of the same digest here
   * joins it instead of writing the same partial file, and GC leaves that file
   * alone. `result` is what `fetch` returned to this caller; a caller that joined
   * a running ingest gets only the blob's path.
   */
  async ingestBy<T extends { blobPath: string }>(desc: BlobDescriptor, fetch: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<{ path: string; result?: T }> {
    const file = this.blobPath(desc.digest);
    if (fs.existsSync(file)) return { path: file };
    let result: T | undefined;
    const fetched = await this.ingests.run(desc.digest, async (opSignal) => {
      result = await fetch(opSignal);
      return result.blobPath;
    }, signal);
    return result ? { path: fetched, result } : { path: fetched };
  }

  private async fetch(desc: BlobDescriptor, open: BlobOpener, options: IngestOptions): Promise<string> {
    const file = this.blobPath(desc.digest);
    if (fs.existsSync(file)) return file;
    const partial = this.ingestPath(desc.digest);
    const resumed = fs.existsSync(partial);
    try {
      return await this.fetchOnce(desc, open, options, file, partial);
    } catch (err) {
      // Bad data may have come from the partial file of an earlier run: start clean once.
      if (!resumed || !errors.digestMismatch.is(err) || options.signal?.aborted) throw err;
      options.log?.warn({ digest: desc.digest, err: messageOf(err) }, 'resumed blob failed verification, downloading it again from the start');
      options.follower?.restarted();
      return this.fetchOnce(desc, open, options, file, partial);
    }
  }

  private async fetchOnce(desc: BlobDescriptor, open: BlobOpener, options: IngestOptions, file: string, partial: string): Promise<string> {
    const algorithm = desc.digest.split(':', 1)[0]!;
    let offset = await partialSize(partial, desc.size);
    if (offset > 0) options.log?.info({ digest: desc.digest, offset, size: desc.size }, 'resuming partial blob download');
    await options.follower?.begin(partial, desc, offset);
    /** What the follower has taken: the file must continue exactly there. */
    const followed = { bytes: offset };

    for (let attempt = 0; offset < desc.size; attempt++) {
      try {
        offset = await this.fetchFrom(desc, open, options, partial, offset, followed);
      } catch (err) {
        const retryable = !isCradleError(err) && !options.signal?.aborted && attempt < RETRIES_AFTER_NETWORK_ERROR;
        if (!retryable) {
          if (errors.digestMismatch.is(err)) await fs.promises.rm(partial, { force: true });
          if (options.signal?.aborted && !isCradleError(err)) throw errors.cancelled(`${options.what}: cancelled`);
          throw err;
        }
        options.log?.warn({ digest: desc.digest, offset, err: messageOf(err) }, 'blob download interrupted, resuming');
        offset = await partialSize(partial, desc.size);
        // A write that failed part-way left bytes the follower never took.
        if (offset !== followed.bytes) options.follower?.restarted();
      }
    }

    const hex = (await options.follower?.digest()) ?? await hashFile(partial, algorithm);
    const actual = `${algorithm}:${hex}`;
    if (actual !== desc.digest) {
      await fs.promises.rm(partial, { force: true });
      throw errors.digestMismatch(options.what, desc.digest, actual);
    }
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    await fs.promises.rename(partial, file);
    await fsyncDir(path.dirname(file));
    return file;
  }

  /** One HTTP body into the partial file; returns the new offset. */
  private async fetchFrom(desc: BlobDescriptor, open: BlobOpener, options: IngestOptions, partial: string, offset: number, followed: { bytes: number }): Promise<number> {
    const stall = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stall.signal]) : stall.signal;
    let timer: NodeJS.Timeout | undefined;
    if (options.stallTimeoutSec > 0) {
      timer = setTimeout(() => stall.abort(errors.pullStalled(options.what, options.stallTimeoutSec)), options.stallTimeoutSec * 1000);
    }
    const stalled = () => stall.signal.aborted ? errors.pullStalled(options.what, options.stallTimeoutSec) : undefined;
    const handle = await fs.promises.open(partial, offset > 0 ? 'r+' : 'w', 0o600);
    const batch: Buffer[] = [];
    let batched = 0;
    /**
     * Writes the received bytes at the offset, starts their writeback (the layer's
     * syncfs then finds little left to flush; ingests run on pull workers, where
     * that call may wait) and hands them to the follower.
     */
    const flush = async () => {
      if (batched === 0) return;
      const buffers = batch.splice(0);
      const length = batched;
      batched = 0;
      await writeAllAt(handle, buffers, offset);
      startWriteback(handle.fd, offset, length);
      offset += length;
      if (options.follower && followed.bytes === offset - length) {
        for (const buffer of buffers) await options.follower.data(buffer);
        followed.bytes = offset;
      }
      options.onProgress?.(offset);
    };
    try {
      let body: BlobBody;
      try {
        body = await open(offset, signal);
      } catch (err) {
        throw stalled() ?? err;
      }
      if (body.offset !== offset) {
        // The server sent the whole blob: start over.
        if (offset > 0) options.follower?.restarted();
        offset = 0;
        followed.bytes = 0;
        await handle.truncate(0);
      }
      const onStall = () => body.stream.destroy(stalled());
      stall.signal.addEventListener('abort', onStall, { once: true });
      try {
        for await (const chunk of body.stream) {
          timer?.refresh();
          const buffer = chunk as Buffer;
          if (offset + batched + buffer.length > desc.size) {
            body.stream.destroy();
            throw errors.digestMismatch(`${options.what} (size)`, `${desc.size} bytes`, `more than ${desc.size} bytes`);
          }
          batch.push(buffer);
          batched += buffer.length;
          if (batched >= WRITE_BATCH_BYTES) await flush();
        }
        await flush();
      } catch (err) {
        // What arrived before the failure is kept: a resume continues after it.
        if (!errors.digestMismatch.is(err)) await flush();
        throw stalled() ?? err;
      } finally {
        stall.signal.removeEventListener('abort', onStall);
      }
      if (offset < desc.size) {
        // The body ended early: keep what we have and let the caller resume.
        throw Object.assign(new Error(`${options.what}: connection closed after ${offset} of ${desc.size} bytes`), { code: 'ECONNRESET' });
      }
      if (!options.follower) await handle.sync();
      return offset;
    } finally {
      if (timer) clearTimeout(timer);
      await handle.close();
    }
  }

  async remove(digest: string): Promise<void> {
    await fs.promises.rm(this.blobPath(digest), { force: true });
  }

  /** Every stored digest. */
  async list(): Promise<string[]> {
    const out: string[] = [];
    for (const algorithm of await readdirOrEmpty(this.blobsDir)) {
      for (const hex of await readdirOrEmpty(path.join(this.blobsDir, algorithm))) out.push(`${algorithm}:${hex}`);
    }
    return out;
  }

  /** Drops partial ingests not being fetched and older than maxAgeMs. */
  /**
   * Removes a blob from sight at once (a rename into the ingest dir) and deletes
   * it off the event loop: unlinking a large file frees its extents, which takes
   * the calling thread milliseconds. A crash in between leaves a `.trash` file
   * that pruneIngests removes.
   */
  discard(digest: string): void {
    const trash = path.join(this.ingestDir, `${randomBytes(8).toString('hex')}${TRASH_SUFFIX}`);
    fs.renameSync(this.blobPath(digest), trash);
    // A failed delete is retried by the next pruneIngests (every garbage collection).
    fs.promises.unlink(trash).catch(() => undefined);
  }

  async pruneIngests(maxAgeMs: number): Promise<void> {
    const active = new Set(this.inProgress().map((digest) => digest.replace(':', '-')));
    const now = Date.now();
    for (const name of await readdirOrEmpty(this.ingestDir)) {
      if (active.has(name)) continue;
      const file = path.join(this.ingestDir, name);
      try {
        const stat = await fs.promises.lstat(file);
        // .bytes files are putBytes() temp files: never in use for long.
        const limit = name.endsWith(TRASH_SUFFIX) ? 0 : name.endsWith('.bytes') ? Math.min(maxAgeMs, 3600_000) : maxAgeMs;
        if (now - stat.mtimeMs >= limit) await fs.promises.rm(file, { force: true });
      } catch {
        // raced with another removal
      }
    }
  }
}

function verifyBytes(desc: BlobDescriptor, data: Buffer, what: string): void {
  if (data.length !== desc.size) throw errors.digestMismatch(`${what} (size)`, `${desc.size} bytes`, `${data.length} bytes`);
  const algorithm = desc.digest.split(':', 1)[0]!;
  const actual = `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
  if (actual !== desc.digest) throw errors.digestMismatch(what, desc.digest, actual);
}

export function digestOf(data: Uint8Array, algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** pwritev until every byte is written: the batch's chunks go to the file without being joined first. */
async function writeAllAt(handle: fs.promises.FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let pending = buffers;
  while (pending.length > 0) {
    const { bytesWritten } = await handle.writev(pending, position);
    if (bytesWritten === 0) throw Object.assign(new Error('pwritev wrote nothing'), { code: 'EIO' });
    position += bytesWritten;
    let skipped = bytesWritten;
    let i = 0;
    while (i < pending.length && skipped >= pending[i]!.length) skipped -= pending[i++]!.length;
    pending = pending.slice(i);
    if (skipped > 0) pending[0] = pending[0]!.subarray(skipped);
  }
}

/** Bytes a partial file already holds (the download continues after them); a file longer than the blob is emptied. */
async function partialSize(partial: string, size: number): Promise<number> {
  let existing = 0;
  try {
    existing = (await fs.promises.stat(partial)).size;
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
  if (existing > size) {
    await fs.promises.truncate(partial, 0);
    return 0;
  }
  return existing;
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.promises.readdir(dir);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return [];
    throw err;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
