// sync_file_range(2) with SYNC_FILE_RANGE_WRITE: starts writing a file's dirty
// pages back without waiting for them. A pull's files become durable through one
// syncfs when their layer commits (layer-store.ts); with the writeback started as
// each file is written, most of it is done by then, beside the pull's own work,
// instead of all of it being waited for at the commit. Called on pull workers only:
// the call may block while the disk's queue is full.
import { koffi, loadLibc } from './libc-handle';

const SYNC_FILE_RANGE_WRITE = 2;

type SyncFileRange = (fd: number, offset: number, nbytes: number, flags: number) => number;

let syncFileRange: SyncFileRange | undefined;

/**
 * Starts the writeback of `length` bytes of `fd` from `offset` (0: to the end).
 * Advisory: where it fails (a pipe, a filesystem without it) the later syncfs
 * flushes everything as before, so the result is only returned, for tests.
 */
export function startWriteback(fd: number, offset: number, length: number): { started: boolean; errno?: number } {
  syncFileRange ??= loadLibc().func('int sync_file_range(int fd, int64_t offset, int64_t nbytes, unsigned int flags)') as SyncFileRange;
  if (syncFileRange(fd, offset, length, SYNC_FILE_RANGE_WRITE) === 0) return { started: true };
  return { started: false, errno: koffi().errno() };
}
