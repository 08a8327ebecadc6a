/**
 * Runs async work one at a time per key. The Redis store queues read-modify-writes of one record in this
 * process, so its own concurrent calls do not keep voiding each other's optimistic versions.
 */
export class KeyQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `work` after every earlier `run` of the same key has settled; resolves or rejects as it does. */
  run<R>(key: string, work: () => Promise<R>): Promise<R> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    // The tail never rejects: both outcomes only drop it once it is the last under its key.
    const forget = (): void => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
    tail.then(forget, forget);
    return result;
  }
}
