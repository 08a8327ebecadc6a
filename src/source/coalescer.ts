/**
 * Single-flight with one follow-up: at most one run at a time, and every call made while a run is in flight
 * shares ONE queued run that starts after it. Joining the in-flight run instead would be wrong for webhooks:
 * a fetch that started before the push landed would be reported as having seen it.
 */
export class Coalescer<T> {
  private running: Promise<T> | undefined;
  private queued: Promise<T> | undefined;

  constructor(private readonly task: () => Promise<T>) {}

  /** The result of a run that started no earlier than this call. */
  run(): Promise<T> {
    if (this.running === undefined) return this.start();
    if (this.queued === undefined) {
      const after = this.running.then(settled, settled);
      this.queued = after.then(() => {
        this.queued = undefined;
        return this.start();
      });
    }
    return this.queued;
  }

  /** Resolves once nothing is running or queued. */
  async idle(): Promise<void> {
    while (this.running !== undefined || this.queued !== undefined) {
      await (this.queued ?? this.running)?.then(settled, settled);
    }
  }

  private start(): Promise<T> {
    const run: Promise<T> = this.task().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}

function settled(): void {}
