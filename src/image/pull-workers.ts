// A small pool of worker threads for the work of pulls (pull-worker.ts): layer
// downloads with their digests, and layer unpacking run there, never on the event
// loop that answers RPCs. A worker runs several jobs at once (a job mostly waits for
// the network, the disk or zlib on libuv's pool), so a pull's layers share one
// worker's start-up and heap; workers are added up to `threads` when every one is
// busy.
//
// Workers start on demand and live in two idle stages. Pulls come in runs (the
// kubelet pulls one image after another, a pod's images in a row), and a new
// thread pays again for compiling the pull's code and for faulting in the memory
// its buffers take, which makes a pull take about twice as long. So for a while
// after its last job a worker keeps everything; then it collects its garbage (the
// pull's buffers) and the freed malloc memory goes back to the kernel, which leaves
// a thread with compiled code and a small heap; after a long idle it exits, with its
// connections, and once the last one has, the memory its arenas freed goes back too.
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
  /** An idle worker collects its garbage, and the freed memory is handed back, after this long (default 10 s). */
  releaseMs?: number;
  /** An idle worker exits after this long (default 60 s). */
  idleMs?: number;
  /** A cancelled job's worker is terminated if the job has not ended after this long (default 10 s). */
  cancelGraceMs?: number;
  log: Logger;
  /** Called once the last worker has exited (default: malloc_trim). */
  onAllExited?: () => Promise<unknown>;
  /** Called when an idle worker has collected its garbage (default: malloc_trim). */
  onReleased?: () => Promise<unknown>;
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
  releaseTimer?: NodeJS.Timeout;
}

const WORKER_FILE = path.join(__dirname, 'pull-worker.js');
const DEFAULT_RELEASE_MS = 10_000;
const DEFAULT_IDLE_MS = 60_000;
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
      this.clearIdleTimers(slot);
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
    if ('released' in reply) {
      this.trim(this.options.onReleased, 'handing back an idle pull worker\'s memory failed');
      return;
    }
    if ('log' in reply) {
      this.options.log[reply.log.level](reply.log.fields, reply.log.msg);
      return;
    }
    const job = slot.jobs.get(reply.id);
    if (!job) return;
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
    slot.releaseTimer = setTimeout(() => slot.worker.postMessage({ kind: 'release' } satisfies WorkerMessage), this.options.releaseMs ?? DEFAULT_RELEASE_MS);
    slot.releaseTimer.unref();
    slot.idleTimer = setTimeout(() => this.stop(slot), this.options.idleMs ?? DEFAULT_IDLE_MS);
    slot.idleTimer.unref();
  }

  private clearIdleTimers(slot: Slot): void {
    if (slot.releaseTimer) clearTimeout(slot.releaseTimer);
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.releaseTimer = undefined;
    slot.idleTimer = undefined;
  }

  /** Terminates a worker; its jobs (if any) fail with `reason`. */
  private stop(slot: Slot, reason?: unknown): void {
    if (!this.slots.delete(slot)) return;
    this.clearIdleTimers(slot);
    const jobs = [...slot.jobs.values()];
    slot.jobs.clear();
    const exited = slot.worker.terminate();
    for (const job of jobs) job.reject(reason ?? errors.internal(`${job.what}: pull worker stopped`));
    if (this.slots.size === 0) void exited.then(() => this.allExited());
  }

  private allExited(): Promise<unknown> | undefined {
    if (this.slots.size > 0) return undefined;
    return this.trim(this.options.onAllExited, 'releasing the pull workers\' memory failed');
  }

  /** Hands the malloc arenas' free memory back to the kernel (or runs the test's hook instead). */
  private trim(hook: (() => Promise<unknown>) | undefined, failure: string): Promise<unknown> {
    const release = hook ?? (() => (require('../sys/malloc-trim') as typeof import('../sys/malloc-trim')).mallocTrim());
    return release().catch((err: unknown) => this.options.log.debug({ err }, failure));
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
