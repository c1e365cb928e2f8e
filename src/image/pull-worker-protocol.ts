// Messages between the daemon and its pull worker threads, and how errors cross:
// a catalogue error keeps its code and kind, a system error its errno code.
import { CradleError, isCradleError, messageOf, type ErrorKind } from '../common/errors';
import type { LayerFetchJob } from './layer-fetch';

export type WorkerJob =
  | { id: number; kind: 'unpack'; blobPath: string; dest: string; layer: string; expectedDiffId?: string }
  /** Downloads a layer blob and unpacks it as it arrives (layer-fetch.ts). */
  | { id: number; kind: 'fetch-unpack'; job: LayerFetchJob };

/** Daemon → worker: a job, the cancellation of a running one, or (when idle) the call to collect its garbage. */
export type WorkerMessage = WorkerJob | { kind: 'cancel'; id: number } | { kind: 'release' };

/** Distributes Omit over the job union (a job as the caller hands it over, before it has an id). */
export type JobRequest = WorkerJob extends infer J ? J extends WorkerJob ? Omit<J, 'id'> : never : never;

export interface SerializedError {
  message: string;
  /** Catalogue code (CRADLE_ERR_…) with its kind, or a system errno code ("ENOSPC"). */
  code?: string;
  kind?: ErrorKind;
}

export type WorkerReply =
  | { id: number; result: unknown }
  | { id: number; error: SerializedError }
  /** A log line, of a job or (no id) of the worker itself. */
  | { id?: number; log: { level: WorkerLogLevel; fields: object; msg: string } }
  /** Bytes of the job's blob received so far. */
  | { id: number; progress: number }
  /** The idle worker has collected its garbage: the freed memory can go back to the kernel. */
  | { released: true };

export type WorkerLogLevel = 'debug' | 'info' | 'warn';

export function serializeError(err: unknown): SerializedError {
  if (isCradleError(err)) return { message: err.message, code: err.code, kind: err.kind };
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? { message: messageOf(err), code } : { message: messageOf(err) };
}

export function deserializeError(serialized: SerializedError): Error {
  if (serialized.kind !== undefined && serialized.code !== undefined) return new CradleError(serialized.code, serialized.kind, serialized.message);
  const err = new Error(serialized.message);
  if (serialized.code !== undefined) Object.assign(err, { code: serialized.code });
  return err;
}
