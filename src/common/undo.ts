// An undo stack in the manner of cri-o's ResourceCleaner: every step that creates a
// resource registers how to remove it, so a failure at any later step unwinds
// everything in reverse order and leaves nothing behind.
import type { Logger } from './logger';
import { messageOf } from './errors';

/** Takes an undo step that failed, to try it again in the background (the daemon's CleanupRetrier). */
export interface RetryLater {
  retryLater(kind: string, id: string, release: () => unknown, error: unknown, what?: string): void;
}

/** Where a failed step of `unwind` goes: retried for `owner` (the pod or container being made). */
export interface UnwindRetry {
  owner: string;
  to: RetryLater;
}

/** The metric label of undo steps retried after a failed create. */
export const CREATE_UNDO_KIND = 'create undo';

interface UndoStep {
  description: string;
  undo: () => unknown;
}

export class UndoStack {
  private steps: UndoStep[] = [];

  /** Registers the undo for a resource that was just created. */
  push(description: string, undo: () => unknown): void {
    this.steps.push({ description, undo });
  }

  /** The operation succeeded: its resources are kept. */
  release(): void {
    this.steps = [];
  }

  get size(): number {
    return this.steps.length;
  }

  /**
   * Runs every undo in reverse order. Each is attempted even if an earlier one
   * fails; failures are logged and returned, never thrown, so the original error
   * stays the one reported. With `retry`, a failed step is handed on to be tried
   * again in the background (every undo of a create is an idempotent release).
   */
  async unwind(log?: Logger, retry?: UnwindRetry): Promise<string[]> {
    const failures: string[] = [];
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step.undo();
        log?.debug({ step: step.description }, 'undone');
      } catch (err) {
        const message = `${step.description}: ${messageOf(err)}`;
        failures.push(message);
        log?.error({ step: step.description, err: messageOf(err) }, retry ? 'undo failed; retrying in the background' : 'undo failed');
        retry?.to.retryLater(CREATE_UNDO_KIND, retry.owner, step.undo, err, step.description);
      }
    }
    return failures;
  }
}
