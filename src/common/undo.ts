// An undo stack in the manner of cri-o's ResourceCleaner: every step that creates a
// resource registers how to remove it, so a failure at any later step unwinds
// everything in reverse order and leaves nothing behind.
import type { Logger } from './logger';
import { messageOf } from './errors';

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
   * stays the one reported.
   */
  async unwind(log?: Logger): Promise<string[]> {
    const failures: string[] = [];
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step.undo();
        log?.debug({ step: step.description }, 'undone');
      } catch (err) {
        const message = `${step.description}: ${messageOf(err)}`;
        failures.push(message);
        log?.error({ step: step.description, err: messageOf(err) }, 'undo failed');
      }
    }
    return failures;
  }
}
