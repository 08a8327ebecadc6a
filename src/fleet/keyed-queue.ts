/** Runs async tasks one at a time per key (FIFO), and in parallel across keys. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` after every task queued before it under `key`; a failing task does not block the next. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(fn);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.tails.set(key, tail);
    // The tail never rejects: both outcomes only drop it once it is the last under its key.
    const forget = (): void => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
    tail.then(forget, forget);
    return result;
  }

  /** Resolves once every task queued so far has settled. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values());
  }
}
