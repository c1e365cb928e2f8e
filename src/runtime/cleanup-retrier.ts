// Cleanup that does not give up, in the manner of cri-o's ResourceCleaner: a
// release that fails (a busy mount, a CNI DEL error, a cgroup still populated) is
// tried again in the background with a doubling delay until it succeeds. Every
// release in the catalogue is idempotent, so trying again is always safe. What is
// still pending is listed (for `cradled status` and for keeping a pod listed
// NOTREADY until it is gone). Nothing here needs persisting: a pod or container
// with a pending release keeps its record (which says what is left to release, and
// the kubelet's next Stop/Remove releases it again after a restart), and what a
// failed create left has no record, so the startup reclaim of `cradled check
// --repair` and the CNI GC find it.
import type { Logger } from '../common/logger';
import type { RetryLater } from '../common/undo';
import { messageOf } from '../common/errors';

export interface PendingCleanup {
  /** What is released (a catalogue kind's name, "CNI DEL", ...). */
  kind: string;
  /** The pod or container it belongs to. */
  id: string;
  /** Which step, when one kind has several (the undo steps of a failed create). */
  what?: string;
  /** Failed tries so far. */
  attempts: number;
  lastError: string;
  /** When the next try runs (ms since the epoch). */
  nextAttemptAt: number;
}

export interface CleanupRetrierOptions {
  /** Delay before the first retry; doubled after each failure up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  log?: Logger;
  /** Called after every retry, with its outcome (for cradle_cleanup_retries_total{kind}). */
  onRetry?: (kind: string, succeeded: boolean) => void;
  /** The clock and timers; tests replace them. */
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (timer: unknown) => void;
}

export const DEFAULT_FIRST_RETRY_MS = 500;
export const DEFAULT_MAX_RETRY_DELAY_MS = 60_000;

interface Entry extends PendingCleanup {
  release: () => unknown;
  delayMs: number;
  timer: unknown;
}

export class CleanupRetrier implements RetryLater {
  private readonly entries = new Map<string, Entry>();
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (timer: unknown) => void;
  private stopped = false;

  constructor(private readonly options: CleanupRetrierOptions = {}) {
    this.initialDelayMs = options.initialDelayMs ?? DEFAULT_FIRST_RETRY_MS;
    this.maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS;
    this.now = options.now ?? Date.now;
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms).unref());
    this.clearTimer = options.clearTimer ?? ((timer) => clearTimeout(timer as NodeJS.Timeout));
  }

  /**
   * Runs release once now; when it fails, keeps it for background retries and
   * returns false (the caller reports the resource as still being cleaned up).
   */
  async release(kind: string, id: string, release: () => unknown): Promise<boolean> {
    if (this.entries.has(keyOf(kind, id))) return false; // already being retried
    try {
      await release();
      return true;
    } catch (err) {
      this.retryLater(kind, id, release, err);
      return false;
    }
  }

  /** Keeps a release whose first try already failed (elsewhere) for background retries. */
  retryLater(kind: string, id: string, release: () => unknown, error: unknown, what?: string): void {
    const key = keyOf(kind, id, what);
    if (this.entries.has(key) || this.stopped) return;
    const entry: Entry = {
      kind, id, ...(what === undefined ? {} : { what }), attempts: 1, lastError: messageOf(error), nextAttemptAt: 0,
      release, delayMs: this.initialDelayMs, timer: undefined,
    };
    this.entries.set(key, entry);
    this.options.log?.warn({ kind, id, what, error: entry.lastError }, 'cleanup failed; retrying in the background');
    this.schedule(key, entry);
  }

  /** Cleanups still pending, of one pod or container or of all. */
  pending(id?: string): PendingCleanup[] {
    return [...this.entries.values()]
      .filter((e) => id === undefined || e.id === id)
      .map(({ kind, id: owner, what, attempts, lastError, nextAttemptAt }) => ({ kind, id: owner, ...(what === undefined ? {} : { what }), attempts, lastError, nextAttemptAt }));
  }

  /** For an error message: what of `id` is pending, with its tries and last error. */
  describePending(id: string): string {
    const pending = this.pending(id).map((p) => `${p.what ?? p.kind} (${p.attempts} tries: ${p.lastError})`).join('; ');
    return `releasing its resources failed and is retried in the background: ${pending}`;
  }

  /** Stops retrying (daemon shutdown); what is pending is left to the next start's reclaim. */
  stop(): void {
    this.stopped = true;
    for (const entry of this.entries.values()) this.clearTimer(entry.timer);
  }

  private schedule(key: string, entry: Entry): void {
    if (this.stopped) return;
    entry.nextAttemptAt = this.now() + entry.delayMs;
    entry.timer = this.setTimer(() => { void this.retry(key, entry); }, entry.delayMs);
  }

  private async retry(key: string, entry: Entry): Promise<void> {
    if (this.stopped || this.entries.get(key) !== entry) return;
    try {
      await entry.release();
      this.entries.delete(key);
      this.options.onRetry?.(entry.kind, true);
      this.options.log?.info({ kind: entry.kind, id: entry.id, attempts: entry.attempts + 1 }, 'cleanup succeeded on retry');
    } catch (err) {
      entry.attempts++;
      entry.lastError = messageOf(err);
      entry.delayMs = Math.min(entry.delayMs * 2, this.maxDelayMs);
      this.options.onRetry?.(entry.kind, false);
      this.options.log?.warn({ kind: entry.kind, id: entry.id, attempts: entry.attempts, error: entry.lastError }, 'cleanup retry failed');
      this.schedule(key, entry);
    }
  }
}

function keyOf(kind: string, id: string, what?: string): string {
  return what === undefined ? `${kind}\0${id}` : `${kind}\0${id}\0${what}`;
}
