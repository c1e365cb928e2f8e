// A layer downloaded and unpacked in one pass on a pull worker: the worker's own
// registry client fetches the blob into the content store's partial file (with the
// store's resumes, retries and stall timeout) and every batch written also goes,
// in memory, to the unpacker. So a layer's bytes never cross the daemon's main
// thread, which only schedules the job and commits its result, and are not read
// back from the partial file (but after a resume, for the bytes of the earlier try).
//
// The layer counts only if the download's digest check passed (the unpacker's hash
// of what it read) and the unpacker's diff ID matched; if the unpacker failed, the
// store verifies the blob itself, so a corrupt download reports its digest mismatch
// rather than the decompressor's complaint about it.
import * as fs from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { LogMethods } from '../common/logger';
import { ContentStore, type BlobDescriptor, type BlobOpener, type IngestFollower } from './content-store';
import type { Credentials } from './credentials';
import { ProxyConfig, type ProxyEnv } from './proxy';
import type { PullSource } from './registries-conf';
import { RegistryClient, type RegistryAuthState } from './registry-client';
import { sniffCompression, unpackLayerStream, type UnpackResult } from './unpack';

export interface LayerFetchJob {
  /** The image store's root: the content store the blob goes to is in it. */
  storeRoot: string;
  blob: BlobDescriptor & { urls?: string[] };
  source: PullSource;
  credentials?: Credentials;
  /** What the daemon's client learnt of the registry's auth (its token, plain HTTP). */
  auth: RegistryAuthState;
  certsDir: string;
  proxyEnv: ProxyEnv;
  stallTimeoutSec: number;
  /** Names the blob in errors and logs ("layer sha256:… of image from registry"). */
  what: string;
  /** An existing empty directory the layer is unpacked into. */
  dest: string;
  expectedDiffId: string;
}

export interface LayerFetchResult {
  /** The verified blob, committed to the content store. */
  blobPath: string;
  /** Absent when the blob was already stored or its download started over: unpack it from blobPath. */
  unpacked?: UnpackResult;
}

/** One client per configuration, kept while the worker lives: its connections serve the worker's next layer. */
const clients = new Map<string, RegistryClient>();

function clientFor(job: LayerFetchJob, log: LogMethods): RegistryClient {
  const key = JSON.stringify([job.certsDir, job.proxyEnv]);
  let client = clients.get(key);
  if (!client) {
    client = new RegistryClient({ certsDir: job.certsDir, log, proxy: new ProxyConfig(job.proxyEnv) });
    clients.set(key, client);
  }
  return client;
}

/** Bytes the feed holds for the unpacker before the download waits for it. */
const FEED_HIGH_WATER_BYTES = 4 << 20;
const PREFIX_READ_BYTES = 1 << 20;

/**
 * The blob's bytes as the ingest writes them: hashed, and streamed to the
 * unpacker with backpressure. Once the unpacker is done with the stream (the tar
 * ended before the blob's padding, or it failed), later bytes are only hashed.
 */
class BlobFeed {
  readonly stream: Readable;
  private readonly hash: Hash;
  private wake: (() => void) | undefined;
  private detached = false;

  constructor(algorithm: string) {
    this.hash = createHash(algorithm);
    this.stream = new Readable({ highWaterMark: FEED_HIGH_WATER_BYTES, read: () => this.wakeWriter() });
    this.stream.on('close', () => this.detach());
    // Its only error is cancel()'s, which the unpacker (if it started) reports.
    this.stream.on('error', () => undefined);
  }

  async push(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
    if (this.detached) return;
    if (!this.stream.push(chunk)) await new Promise<void>((resolve) => (this.wake = resolve));
  }

  end(): void {
    if (!this.detached) this.stream.push(null);
  }

  detach(): void {
    this.detached = true;
    this.wakeWriter();
  }

  /** The download started over: the unpacker fails at its next read. */
  cancel(): void {
    this.stream.destroy(new Error('the download started over'));
    this.detach();
  }

  digestHex(): string {
    return this.hash.digest('hex');
  }

  private wakeWriter(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** Cancelling `signal` stops the download and the unpack; the promise settles once neither runs any more. */
export async function fetchAndUnpackLayer(job: LayerFetchJob, log: LogMethods, onProgress: (bytes: number) => void, signal: AbortSignal): Promise<LayerFetchResult> {
  const { blob, source, credentials } = job;
  const client = clientFor(job, log);
  client.importAuth(job.auth);
  const open: BlobOpener = (offset, signal) => client.openBlob(source, blob.digest, offset, credentials, signal, blob.urls ?? []);
  const algorithm = blob.digest.split(':', 1)[0]!;

  let feed: BlobFeed | undefined;
  let unpack: Promise<UnpackResult> | undefined;
  let stopped = false;
  let failure: { err: unknown } | undefined;
  const take = async (chunk: Buffer): Promise<void> => {
    if (stopped || !feed) return;
    if (!unpack) {
      // The first bytes say the compression (media types are sometimes wrong).
      unpack = unpackLayerStream(feed.stream, sniffCompression(chunk.subarray(0, 4)), job.dest, { layer: blob.digest, expectedDiffId: job.expectedDiffId, log, signal });
      const unpacking = feed;
      unpack.catch((err: unknown) => (failure = { err })).finally(() => unpacking.detach());
    }
    await feed.push(chunk);
  };
  const follower: IngestFollower = {
    async begin(partial, _desc, offset) {
      if (stopped || feed) return;
      feed = new BlobFeed(algorithm);
      if (offset === 0) return;
      // Resumed: the bytes of the earlier try come from the file.
      for await (const chunk of fs.createReadStream(partial, { start: 0, end: offset - 1, highWaterMark: PREFIX_READ_BYTES })) await take(chunk as Buffer);
    },
    data: take,
    restarted() {
      stopped = true;
      feed?.cancel();
    },
    async digest() {
      if (stopped || !feed) return undefined;
      feed.end();
      try {
        await unpack;
      } catch {
        return undefined;
      }
      return feed.digestHex();
    },
  };
  /** Stops the unpacker and waits until it has: nothing writes into dest once the job has answered. */
  const stopUnpacking = async () => {
    stopped = true;
    feed?.cancel();
    await unpack?.catch(() => undefined);
  };

  let blobPath: string;
  try {
    blobPath = await new ContentStore(job.storeRoot).ingest(blob, open, { what: job.what, signal, stallTimeoutSec: job.stallTimeoutSec, onProgress, log, follower });
  } catch (err) {
    await stopUnpacking();
    throw err;
  }
  if (stopped || !unpack) {
    await stopUnpacking();
    return { blobPath };
  }
  if (failure) throw failure.err;
  return { blobPath, unpacked: await unpack };
}
