// A small pool of worker threads for the CPU work of pulls (pull-worker.ts):
// blob digests and layer unpacking run there, never on the event loop that answers
// RPCs. Workers start on demand, at most `size` at a time, and exit once idle, so a
// finished pull's buffers and zlib state go with them. A cancelled job terminates
// its worker: nothing of it keeps running. When the last worker has exited, the
// freed memory of the malloc arenas it used goes back to the kernel too.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { errors, isCradleError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { UnpackResult } from './unpack';
import type { GrowingUnpackResult } from './growing-file';
import { deserializeError, type BlobWritten, type JobRequest, type WorkerReply } from './pull-worker-protocol';

export interface PullWorkersOptions {
  /** Worker threads at most (jobs beyond wait). */
  size: number;
  /** An idle worker exits after this long (default 1 s). */
  idleMs?: number;
  log: Logger;
  /** Called once the last worker has exited (default: malloc_trim). */
  onAllExited?: () => Promise<unknown>;
}

/** An unpack of a blob still downloading (see growing-file.ts). */
export interface GrowingUnpack {
  /** The partial file now holds `bytes` from its start. */
  written(bytes: number): void;
  result: Promise<GrowingUnpackResult>;
}

interface Job {
  id: number;
  request: JobRequest;
  /** Names the job in errors ("unpacking layer sha256:…"). */
  what: string;
  signal: AbortSignal | undefined;
  resolve(result: unknown): void;
  reject(err: unknown): void;
  onLog?: (fields: object, msg: string) => void;
}

interface Slot {
  worker: Worker;
  job?: Job;
  idleTimer?: NodeJS.Timeout;
}

const WORKER_FILE = path.join(__dirname, 'pull-worker.js');
const DEFAULT_IDLE_MS = 1000;

export class PullWorkers {
  private readonly slots = new Set<Slot>();
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: PullWorkersOptions) {}

  /** Hex digest of a file. */
  hashFile(file: string, algorithm: string, what: string, signal?: AbortSignal): Promise<string> {
    return this.submit({ kind: 'hash', file, algorithm }, `verifying ${what}`, signal) as Promise<string>;
  }

  /** Unpacks a layer blob into dest (an existing empty directory); see unpack.ts. */
  unpack(blobPath: string, dest: string, layer: string, expectedDiffId: string | undefined, signal?: AbortSignal): Promise<UnpackResult> {
    const request: JobRequest = { kind: 'unpack', blobPath, dest, layer, ...(expectedDiffId !== undefined ? { expectedDiffId } : {}) };
    const onLog = (fields: object, msg: string) => this.options.log.warn(fields, msg);
    return this.submit(request, `unpacking layer ${layer}`, signal, onLog) as Promise<UnpackResult>;
  }

  /**
   * Unpacks the blob being downloaded into `partial` (`size` bytes when complete)
   * into dest while it downloads, hashing it with `algorithm`; the caller reports
   * the bytes written through the returned handle.
   */
  unpackGrowing(partial: string, size: number, algorithm: string, dest: string, layer: string, expectedDiffId: string | undefined, signal?: AbortSignal): GrowingUnpack {
    const request = { kind: 'unpack-growing' as const, partial, size, algorithm, written: 0, dest, layer, ...(expectedDiffId !== undefined ? { expectedDiffId } : {}) };
    const onLog = (fields: object, msg: string) => this.options.log.warn(fields, msg);
    let job: Job | undefined;
    const result = this.submit(request, `unpacking layer ${layer}`, signal, onLog, (queued) => (job = queued)) as Promise<GrowingUnpackResult>;
    const written = (bytes: number): void => {
      // Still queued: the job message carries the latest count when it is sent.
      request.written = bytes;
      const slot = [...this.slots].find((candidate) => candidate.job !== undefined && candidate.job === job);
      if (slot && job) slot.worker.postMessage({ id: job.id, kind: 'written', bytes } satisfies BlobWritten);
    };
    return { written, result };
  }

  /** Starts idle workers up to `jobs` (at most the pool's size), so the jobs that follow find them running. */
  prewarm(jobs: number): void {
    if (this.closed) return;
    while (this.slots.size < Math.min(jobs, this.options.size)) {
      const slot = this.spawn();
      if (!slot) return;
      this.idle(slot);
    }
  }

  /** Workers alive now (idle or busy). */
  get threads(): number {
    return this.slots.size;
  }

  close(): void {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(errors.cancelled(`${job.what}: the daemon is shutting down`));
    for (const slot of [...this.slots]) this.stop(slot, errors.cancelled('the daemon is shutting down'));
  }

  /** `queued` sees the job once it is queued (to post it updates while it runs). */
  private submit(request: JobRequest, what: string, signal: AbortSignal | undefined, onLog?: Job['onLog'], queued?: (job: Job) => void): Promise<unknown> {
    if (this.closed) return Promise.reject(errors.cancelled(`${what}: the daemon is shutting down`));
    if (signal?.aborted) return Promise.reject(cancellation(signal, what));
    return new Promise((resolve, reject) => {
      const job: Job = { id: this.nextId++, request, what, signal, resolve, reject, ...(onLog ? { onLog } : {}) };
      const onAbort = () => this.abort(job);
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A) => {
        signal?.removeEventListener('abort', onAbort);
        fn(...args);
      };
      job.resolve = settle(resolve);
      job.reject = settle(reject);
      this.queue.push(job);
      queued?.(job);
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const slot = [...this.slots].find((candidate) => candidate.job === undefined) ?? this.spawn();
      if (!slot) return;
      const job = this.queue.shift()!;
      if (slot.idleTimer) clearTimeout(slot.idleTimer);
      slot.idleTimer = undefined;
      slot.job = job;
      slot.worker.ref();
      slot.worker.postMessage({ id: job.id, ...job.request });
    }
  }

  private spawn(): Slot | undefined {
    if (this.slots.size >= Math.max(1, this.options.size)) return undefined;
    const slot: Slot = { worker: new Worker(WORKER_FILE) };
    this.slots.add(slot);
    slot.worker.on('message', (reply: WorkerReply) => this.onReply(slot, reply));
    slot.worker.on('error', (err) => this.stop(slot, errors.internal(`pull worker failed: ${err.message}`)));
    slot.worker.on('exit', (code) => this.stop(slot, errors.internal(`pull worker exited with code ${code}`)));
    return slot;
  }

  private onReply(slot: Slot, reply: WorkerReply): void {
    const job = slot.job;
    if (!job || job.id !== reply.id) return;
    if ('log' in reply) {
      job.onLog?.(reply.log.fields, reply.log.msg);
      return;
    }
    slot.job = undefined;
    if ('error' in reply) job.reject(deserializeError(reply.error));
    else job.resolve(reply.result);
    this.idle(slot);
    this.dispatch();
  }

  private idle(slot: Slot): void {
    if (slot.job !== undefined || !this.slots.has(slot)) return;
    slot.worker.unref();
    slot.idleTimer = setTimeout(() => this.stop(slot), this.options.idleMs ?? DEFAULT_IDLE_MS);
    slot.idleTimer.unref();
  }

  private abort(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      job.reject(cancellation(job.signal, job.what));
      return;
    }
    const slot = [...this.slots].find((candidate) => candidate.job === job);
    if (slot) this.stop(slot, cancellation(job.signal, job.what));
  }

  /** Terminates a worker; its job (if any) fails with `reason`. */
  private stop(slot: Slot, reason?: unknown): void {
    if (!this.slots.delete(slot)) return;
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    const job = slot.job;
    slot.job = undefined;
    const exited = slot.worker.terminate();
    if (job) job.reject(reason ?? errors.internal(`${job.what}: pull worker stopped`));
    this.dispatch();
    if (this.slots.size === 0) void exited.then(() => this.allExited());
  }

  private allExited(): Promise<unknown> | undefined {
    if (this.slots.size > 0) return undefined;
    const release = this.options.onAllExited ?? (() => (require('../sys/malloc-trim') as typeof import('../sys/malloc-trim')).mallocTrim());
    return release().catch((err: unknown) => this.options.log.debug({ err }, 'releasing the pull workers\' memory failed'));
  }
}

function cancellation(signal: AbortSignal | undefined, what: string): unknown {
  return isCradleError(signal?.reason) ? signal.reason : errors.cancelled(`${what}: cancelled`);
}
