/**
 * Single-flight with one follow-up: at most one run at a time, and every call made while a run is in flight
 * shares ONE queued run that starts after it. Joining the in-flight run instead would be wrong for webhooks:
 * a fetch that started before the push landed would be reported as having seen it. A caller that knows
 * when its news arrived (a ref watch: the moment it heard the ref move) joins an in-flight run that started
 * after that moment, which has seen it, instead of queueing a second one.
 */
export class Coalescer<T> {
  private running: Promise<T> | undefined;
  /** When the running run started (`now()`). */
  private runningSince = 0;
  private queued: Promise<T> | undefined;

  /** `now`: a clock in ms (default Date.now). */
  constructor(
    private readonly task: () => Promise<T>,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The result of a run that started after `since` (default: this call). A run started in the same clock
   * tick as `since` does not count: it may have started before the news.
   */
  run(since?: number): Promise<T> {
    if (this.running === undefined) return this.start();
    if (since !== undefined && this.runningSince > since) return this.running;
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
    this.runningSince = this.now();
    const run: Promise<T> = this.task().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}

function settled(): void {}
