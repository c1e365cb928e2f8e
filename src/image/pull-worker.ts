// Entry point of a pull worker thread (see pull-workers.ts): runs the work of a
// pull that would otherwise hold the daemon's main thread: downloading layer blobs
// (HTTP, file writes) and hashing them, unpacking layers (decompression, diff ID hash,
// tar parsing, file writes). Jobs run side by side; results, progress and log lines
// go back as messages.
import * as os from 'node:os';
import * as vm from 'node:vm';
import { parentPort } from 'node:worker_threads';
import type { LogMethods } from '../common/logger';
import { unpackLayerFile } from './unpack';
import { fetchAndUnpackLayer } from './layer-fetch';
import { errors } from '../common/errors';
import { serializeError, type WorkerJob, type WorkerLogLevel, type WorkerMessage, type WorkerReply } from './pull-worker-protocol';

if (!parentPort) throw new Error('pull-worker.js runs only as a worker thread');
const port = parentPort;

// On Linux setpriority(2) with pid 0 applies to the calling thread only: the
// pull yields the CPU to the main thread when both want it, so RPCs are answered
// promptly on a busy host while the pull still takes every idle cycle.
const WORKER_NICE = 5;
try {
  os.setPriority(WORKER_NICE);
} catch {
  // not permitted (lowering priority always is; a seccomp profile might refuse it): run at the daemon's priority
}

/** Progress goes to the daemon at most this often (it only feeds the periodic pull log). */
const PROGRESS_INTERVAL_MS = 500;

function reply(message: WorkerReply): void {
  port.postMessage(message);
}

/** Log calls of the job's code, sent to the daemon's logger (pino-style: fields first, or a message alone). */
function jobLog(id: number): LogMethods {
  const at = (level: WorkerLogLevel) => (first: unknown, second?: unknown): void => {
    const fields = typeof first === 'object' && first !== null ? first : {};
    const msg = typeof first === 'string' ? first : typeof second === 'string' ? second : '';
    try {
      reply({ id, log: { level, fields, msg } });
    } catch {
      // fields that cannot be cloned (a live handle): the line without them
      reply({ id, log: { level, fields: {}, msg } });
    }
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn') };
}

function progressReporter(id: number): (bytes: number) => void {
  let last = 0;
  return (bytes) => {
    const now = Date.now();
    if (now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    reply({ id, progress: bytes });
  };
}

async function run(job: WorkerJob, signal: AbortSignal): Promise<unknown> {
  switch (job.kind) {
    case 'unpack':
      return unpackLayerFile(job.blobPath, job.dest, {
        layer: job.layer, log: jobLog(job.id), signal, ...(job.expectedDiffId !== undefined ? { expectedDiffId: job.expectedDiffId } : {}),
      });
    case 'fetch-unpack':
      return fetchAndUnpackLayer(job.job, jobLog(job.id), progressReporter(job.id), signal);
  }
}

/** Running jobs by id: a cancellation aborts the job's signal, and the job answers once it has stopped. */
const running = new Map<number, AbortController>();

// Node's warnings go to the daemon's log instead of raw lines beside it on stderr.
// The release below uses vm.measureMemory, which is experimental: its one warning
// per worker says nothing an operator can act on.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name === 'ExperimentalWarning') return;
  reply({ log: { level: 'warn', fields: { warning: warning.name }, msg: warning.message } });
});

/**
 * Collects the worker's garbage now: an eager memory measurement starts a full GC
 * (documented for vm.measureMemory), without --expose-gc, a V8 flag that would
 * make Node reject the code cache of its own modules and slow the daemon's start.
 */
async function collectGarbage(): Promise<void> {
  await vm.measureMemory({ mode: 'summary', execution: 'eager' });
}

port.on('message', (message: WorkerMessage) => {
  if (message.kind === 'cancel') {
    running.get(message.id)?.abort(errors.cancelled('cancelled'));
    return;
  }
  if (message.kind === 'release') {
    // Sent only while the worker is idle: a job submitted later is queued behind it.
    collectGarbage().catch(() => undefined).finally(() => reply({ released: true }));
    return;
  }
  const controller = new AbortController();
  running.set(message.id, controller);
  run(message, controller.signal).then(
    (result) => reply({ id: message.id, result }),
    (err: unknown) => reply({ id: message.id, error: serializeError(err) }),
  ).finally(() => running.delete(message.id));
});
