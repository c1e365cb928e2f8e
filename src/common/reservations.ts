// Name reservations with the kubelet's retries in mind (as cri-o's resourcestore):
// a RunPodSandbox or CreateContainer whose caller timed out keeps running; the
// kubelet's retry with the same name and the same request gets the same result
// instead of "name is reserved". A different request for a taken name is
// ALREADY_EXISTS naming the holder.
import { errors } from './errors';

interface Holder<T> {
  id: string;
  /** Identifies the request that took the name (a digest of its config). */
  fingerprint: string;
  /** Settles when the operation that holds the name finishes. */
  done: Promise<T> | undefined;
}

export class NameReservations<T> {
  private readonly holders = new Map<string, Holder<T>>();

  constructor(private readonly what: string) {}

  /**
   * Reserves `name` for a new object `id`, running `create` once. A concurrent or
   * later call with the same name and fingerprint waits for and returns the same
   * result; with another fingerprint it fails with ALREADY_EXISTS.
   */
  async run(name: string, id: string, fingerprint: string, create: () => Promise<T>): Promise<T> {
    const holder = this.holders.get(name);
    if (holder) {
      if (holder.fingerprint === fingerprint && holder.done) return holder.done;
      throw errors.alreadyExists(`${this.what} name ${JSON.stringify(name)} is reserved by ${holder.id}`);
    }
    const entry: Holder<T> = { id, fingerprint, done: undefined };
    this.holders.set(name, entry);
    entry.done = create().catch((err: unknown) => {
      // A failed operation frees the name for the next attempt.
      if (this.holders.get(name) === entry) this.holders.delete(name);
      throw err;
    });
    return entry.done;
  }

  /** Records a name held by an existing object (on recovery). */
  hold(name: string, id: string, fingerprint: string, value: T): void {
    this.holders.set(name, { id, fingerprint, done: Promise.resolve(value) });
  }

  /** The id holding a name, if any. */
  holderOf(name: string): string | undefined {
    return this.holders.get(name)?.id;
  }

  /** Frees the name when its object is removed. */
  release(name: string, id: string): void {
    if (this.holders.get(name)?.id === id) this.holders.delete(name);
  }
}
