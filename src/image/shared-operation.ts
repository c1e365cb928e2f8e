// Deduplicates concurrent work by key (a pull by reference, a blob by digest, a
// layer by chain ID): the first caller starts it, later callers join it. The work
// has its own AbortSignal, aborted only when every caller that joined has given up,
// so one cancelled CRI call never breaks another caller's pull.
import { errors } from '../common/errors';

interface Operation<T> {
  promise: Promise<T>;
  controller: AbortController;
  waiters: number;
}

export class SharedOperations<T> {
  private readonly running = new Map<string, Operation<T>>();

  /** Keys of operations in progress. */
  keys(): string[] {
    return [...this.running.keys()];
  }

  has(key: string): boolean {
    return this.running.has(key);
  }

  run(key: string, work: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(errors.cancelled(`${key}: cancelled`));
    let op = this.running.get(key);
    if (!op) {
      const controller = new AbortController();
      const created: Operation<T> = {
        controller,
        waiters: 0,
        promise: Promise.resolve().then(() => {
          // Every caller may have left before the work even started.
          if (controller.signal.aborted) throw errors.cancelled(`${key}: cancelled`);
          return work(controller.signal);
        }).finally(() => {
          if (this.running.get(key) === created) this.running.delete(key);
        }),
      };
      // Callers that all left must not produce an unhandled rejection.
      created.promise.catch(() => undefined);
      this.running.set(key, created);
      op = created;
    }
    return this.join(key, op, signal);
  }

  private join(key: string, op: Operation<T>, signal?: AbortSignal): Promise<T> {
    op.waiters++;
    if (!signal) return op.promise.finally(() => { op.waiters--; });
    return new Promise<T>((resolve, reject) => {
      let left = false;
      const onAbort = () => {
        left = true;
        op.waiters--;
        if (op.waiters === 0) op.controller.abort(signal.reason);
        reject(errors.cancelled(`${key}: cancelled`));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      op.promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          if (!left) { op.waiters--; resolve(value); }
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          if (!left) { op.waiters--; reject(err); }
        },
      );
    });
  }
}
