// A small pool of worker threads for the work of pulls (pull-worker.ts): layer
// downloads with their digests, and layer unpacking run there, never on the event
// loop that answers RPCs. A worker runs several jobs at once (a job mostly waits for
// the network, the disk or zlib on libuv's pool), so a pull's layers share one
// worker's start-up and heap; workers are added up to `threads` when every one is
// busy. Workers start on demand and exit after a while idle, so a finished pull's
// buffers, connections and zlib state go with them; when the last one has exited,
// the freed memory of the malloc arenas it used goes back to the kernel too. The
// while is there because pulls come in runs (the kubelet pulls one image after
// another, a pod's images in a row): a pull that follows finds the worker's code
// compiled and its memory mapped, where a new thread pays for both again and a
// pull takes about twice as long.
//
// A cancelled job is cancelled in its worker, which answers once nothing of it
// runs any more (so a caller that cleans up after it never races it); a worker
// that does not answer in time is terminated.
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { errors, isCradleError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { UnpackResult } from './unpack';
import type { LayerFetchJob, LayerFetchResult } from './layer-fetch';
import { deserializeError, type JobRequest, type WorkerMessage, type WorkerReply } from './pull-worker-protocol';

export interface PullWorkersOptions {
  /** Worker threads at most. */
  threads: number;
  /** An idle worker exits after this long (default 10 s). */
  idleMs?: number;
  /** A cancelled job's worker is terminated if the job has not ended after this long (default 10 s). */
  cancelGraceMs?: number;
  log: Logger;
  /** Called once the last worker has exited (default: malloc_trim). */
  onAllExited?: () => Promise<unknown>;
}

interface Job {
  id: number;
  /** Names the job in errors ("unpacking layer sha256:…"). */
  what: string;
  signal: AbortSignal | undefined;
  resolve(result: unknown): void;
  reject(err: unknown): void;
  onProgress?: (bytes: number) => void;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
  idleTimer?: NodeJS.Timeout;
}

const WORKER_FILE = path.join(__dirname, 'pull-worker.js');
const DEFAULT_IDLE_MS = 10_000;
const DEFAULT_CANCEL_GRACE_MS = 10_000;

export class PullWorkers {
  private readonly slots = new Set<Slot>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: PullWorkersOptions) {}

  /** Unpacks a layer blob into dest (an existing empty directory); see unpack.ts. */
  unpack(blobPath: string, dest: string, layer: string, expectedDiffId: string | undefined, signal?: AbortSignal): Promise<UnpackResult> {
    const request: JobRequest = { kind: 'unpack', blobPath, dest, layer, ...(expectedDiffId !== undefined ? { expectedDiffId } : {}) };
    return this.submit(request, `unpacking layer ${layer}`, signal) as Promise<UnpackResult>;
  }

  /** Downloads a layer blob into the content store and unpacks it as it arrives; see layer-fetch.ts. */
  fetchAndUnpack(job: LayerFetchJob, signal?: AbortSignal, onProgress?: (bytes: number) => void): Promise<LayerFetchResult> {
    return this.submit({ kind: 'fetch-unpack', job }, `fetching and unpacking layer ${job.blob.digest}`, signal, onProgress) as Promise<LayerFetchResult>;
  }

  /** Starts a worker unless one runs, so the jobs that follow find it started. */
  prewarm(): void {
    if (this.closed || this.slots.size > 0) return;
    this.idle(this.spawn());
  }

  /** Workers alive now (idle or busy). */
  get threads(): number {
    return this.slots.size;
  }

  close(): void {
    this.closed = true;
    for (const slot of [...this.slots]) this.stop(slot, errors.cancelled('the daemon is shutting down'));
  }

  private submit(request: JobRequest, what: string, signal: AbortSignal | undefined, onProgress?: Job['onProgress']): Promise<unknown> {
    if (this.closed) return Promise.reject(errors.cancelled(`${what}: the daemon is shutting down`));
    if (signal?.aborted) return Promise.reject(cancellation(signal, what));
    return new Promise((resolve, reject) => {
      const job: Job = { id: this.nextId++, what, signal, resolve, reject, ...(onProgress ? { onProgress } : {}) };
      const slot = this.slotForNextJob();
      let cancelTimer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        slot.worker.postMessage({ kind: 'cancel', id: job.id } satisfies WorkerMessage);
        cancelTimer = setTimeout(() => this.stop(slot, cancellation(signal, what)), this.options.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A) => {
        signal?.removeEventListener('abort', onAbort);
        if (cancelTimer) clearTimeout(cancelTimer);
        fn(...args);
      };
      job.resolve = settle(resolve);
      // The caller gave up: whatever the job ended with, the caller hears its cancellation.
      job.reject = settle((err: unknown) => reject(signal?.aborted ? cancellation(signal, what) : err));
      if (slot.idleTimer) clearTimeout(slot.idleTimer);
      slot.idleTimer = undefined;
      slot.jobs.set(job.id, job);
      slot.worker.ref();
      slot.worker.postMessage({ id: job.id, ...request } satisfies WorkerMessage);
    });
  }

  /** An idle worker, else a new one while under the limit, else the least busy. */
  private slotForNextJob(): Slot {
    let least: Slot | undefined;
    for (const slot of this.slots) if (!least || slot.jobs.size < least.jobs.size) least = slot;
    if (least && (least.jobs.size === 0 || this.slots.size >= Math.max(1, this.options.threads))) return least;
    return this.spawn();
  }

  private spawn(): Slot {
    // worker_threads loads with the first pull, not at the daemon's start.
    const { Worker } = require('node:worker_threads') as typeof import('node:worker_threads');
    const slot: Slot = { worker: new Worker(WORKER_FILE), jobs: new Map() };
    this.slots.add(slot);
    slot.worker.on('message', (reply: WorkerReply) => this.onReply(slot, reply));
    slot.worker.on('error', (err) => this.stop(slot, errors.internal(`pull worker failed: ${err.message}`)));
    slot.worker.on('exit', (code) => this.stop(slot, errors.internal(`pull worker exited with code ${code}`)));
    return slot;
  }

  private onReply(slot: Slot, reply: WorkerReply): void {
    const job = slot.jobs.get(reply.id);
    if (!job) return;
    if ('log' in reply) {
      this.options.log[reply.log.level](reply.log.fields, reply.log.msg);
      return;
    }
    if ('progress' in reply) {
      job.onProgress?.(reply.progress);
      return;
    }
    slot.jobs.delete(reply.id);
    if ('error' in reply) job.reject(deserializeError(reply.error));
    else job.resolve(reply.result);
    this.idle(slot);
  }

  private idle(slot: Slot): void {
    if (slot.jobs.size > 0 || !this.slots.has(slot)) return;
    slot.worker.unref();
    slot.idleTimer = setTimeout(() => this.stop(slot), this.options.idleMs ?? DEFAULT_IDLE_MS);
    slot.idleTimer.unref();
  }

  /** Terminates a worker; its jobs (if any) fail with `reason`. */
  private stop(slot: Slot, reason?: unknown): void {
    if (!this.slots.delete(slot)) return;
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    const jobs = [...slot.jobs.values()];
    slot.jobs.clear();
    const exited = slot.worker.terminate();
    for (const job of jobs) job.reject(reason ?? errors.internal(`${job.what}: pull worker stopped`));
    if (this.slots.size === 0) void exited.then(() => this.allExited());
  }

  private allExited(): Promise<unknown> | undefined {
    if (this.slots.size > 0) return undefined;
    const release = this.options.onAllExited ?? (() => (require('../sys/malloc-trim') as typeof import('../sys/malloc-trim')).mallocTrim());
    return release().catch((err: unknown) => this.options.log.debug({ err }, 'releasing the pull workers\' memory failed'));
  }
}

/**
 * Worker threads for pulls: one per core at most (a worker runs many layers, and
 * more threads than cores only take turns); they run at a lower priority than the
 * thread that answers RPCs.
 */
export function pullThreads(maxConcurrentDownloads: number, cores: number): number {
  return Math.max(1, Math.min(maxConcurrentDownloads, cores));
}

function cancellation(signal: AbortSignal | undefined, what: string): unknown {
  return isCradleError(signal?.reason) ? signal.reason : errors.cancelled(`${what}: cancelled`);
}
