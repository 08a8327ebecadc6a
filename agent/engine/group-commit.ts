/**
 * Group commit: callers submit items one by one; items submitted while a flush is in progress wait and are
 * flushed together by the next one, so N concurrent durable writes cost a handful of fsyncs, not N.
 */

interface Waiter<T, R> {
  item: T;
  resolve(result: R): void;
  reject(err: unknown): void;
}

/** Flushes one batch; returns one result per item, in order. */
export type FlushBatch<T, R> = (items: T[]) => Promise<R[]>;

export class GroupCommitter<T, R> {
  private queue: Waiter<T, R>[] = [];
  private draining: Promise<void> | undefined;
  private flushCount = 0;

  constructor(private readonly flush: FlushBatch<T, R>) {}

  /** Queues `item`; resolves with its result once the batch holding it is flushed. */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      // Start on a microtask so a synchronous burst of submits lands in the first batch.
      this.draining ??= Promise.resolve().then(() => this.drain());
    });
  }

  /** Resolves when every submitted item has been flushed (or failed). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** How many batches have been flushed so far (each is one fsync for a log). */
  get flushes(): number {
    return this.flushCount;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      this.flushCount += 1;
      try {
        const results = await this.flush(batch.map((w) => w.item));
        batch.forEach((w, i) => {
          w.resolve(results[i] as R);
        });
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.draining = undefined;
  }
}
