// Entry point of a pull worker thread (see pull-workers.ts): runs the CPU work of a
// pull, hashing blob files and unpacking layers (decompression, diff ID hash, tar
// parsing, file writes), so the daemon's main thread only schedules and answers RPCs.
// One job at a time; results and log lines go back as messages.
import * as os from 'node:os';
import { parentPort } from 'node:worker_threads';
import { hashFile } from './blob-hash';
import { unpackLayerFile, type UnpackLog, type UnpackOptions } from './unpack';
import { GrowingFile, unpackGrowingFile } from './growing-file';
import { serializeError, type BlobWritten, type WorkerJob, type WorkerReply } from './pull-worker-protocol';

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

function reply(message: WorkerReply): void {
  port.postMessage(message);
}

/** Blobs of the running unpack-growing job, by job id. */
const growing = new Map<number, GrowingFile>();

function unpackOptions(job: WorkerJob & { layer: string; expectedDiffId?: string }): UnpackOptions {
  const log: UnpackLog = { warn: (fields, msg) => reply({ id: job.id, log: { fields, msg } }) };
  return { layer: job.layer, log, ...(job.expectedDiffId !== undefined ? { expectedDiffId: job.expectedDiffId } : {}) };
}

async function run(job: WorkerJob): Promise<unknown> {
  switch (job.kind) {
    case 'hash':
      return hashFile(job.file, job.algorithm);
    case 'unpack':
      return unpackLayerFile(job.blobPath, job.dest, unpackOptions(job));
    case 'unpack-growing': {
      const file = new GrowingFile(job.partial, job.size);
      file.advance(job.written);
      growing.set(job.id, file);
      try {
        return await unpackGrowingFile(file, job.algorithm, job.dest, unpackOptions(job));
      } finally {
        growing.delete(job.id);
      }
    }
  }
}

port.on('message', (job: WorkerJob | BlobWritten) => {
  if (job.kind === 'written') {
    growing.get(job.id)?.advance(job.bytes);
    return;
  }
  run(job).then(
    (result) => reply({ id: job.id, result }),
    (err: unknown) => reply({ id: job.id, error: serializeError(err) }),
  );
});
