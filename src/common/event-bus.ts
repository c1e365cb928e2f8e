// Fan-out of events to streaming subscribers (GetContainerEvents). Each subscriber
// has a bounded queue: a client too slow to keep up loses events (counted, as
// cri-o's containers_events_dropped_total) instead of growing cradled's memory.
export interface Subscription<T> extends AsyncIterable<T> {
  close(): void;
}

export class EventBus<T> {
  private readonly subscribers = new Set<Subscriber<T>>();

  constructor(private readonly queueLimit = 1000, private readonly onDrop: () => void = () => {}) {}

  publish(event: T): void {
    for (const s of this.subscribers) {
      if (!s.push(event)) this.onDrop();
    }
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Events published from now on, until close() or the signal aborts. */
  subscribe(signal?: AbortSignal): Subscription<T> {
    const subscriber = new Subscriber<T>(this.queueLimit, () => this.subscribers.delete(subscriber));
    this.subscribers.add(subscriber);
    signal?.addEventListener('abort', () => subscriber.close(), { once: true });
    if (signal?.aborted) subscriber.close();
    return subscriber;
  }
}

class Subscriber<T> implements Subscription<T> {
  private readonly queue: T[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(private readonly limit: number, private readonly onClose: () => void) {}

  push(event: T): boolean {
    if (this.closed) return true;
    if (this.queue.length >= this.limit) return false;
    this.queue.push(event);
    this.wake?.();
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    try {
      for (;;) {
        while (this.queue.length > 0) yield this.queue.shift()!;
        if (this.closed) return;
        await new Promise<void>((resolve) => { this.wake = resolve; });
        this.wake = undefined;
      }
    } finally {
      this.close();
    }
  }
}
