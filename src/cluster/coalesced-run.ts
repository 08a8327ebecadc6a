/**
 * Runs an async job once for a burst of triggers: the first trigger starts a delay, triggers during the
 * delay join that run, and a trigger during a run asks for one more run after it. Used for hints between
 * replicas and the leader's remote refresh + rollout step, which many host events may ask for at once.
 */
export class CoalescedRun {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly job: () => Promise<void>,
    /** How long the first trigger of a burst waits for the others. */
    private readonly delayMs: number,
    /** Told a failed run; must not throw. */
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Asks for a run. */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.run();
    }, this.delayMs);
    this.timer.unref();
  }

  /** Resolves when no run is waiting or running. */
  async idle(): Promise<void> {
    while (this.timer || this.running) {
      if (this.running) await this.running;
      else await new Promise((r) => setTimeout(r, this.delayMs));
    }
  }

  /** No more runs; waits for the one in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private run(): void {
    this.running = this.job()
      .catch((err: unknown) => this.onError(err))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.trigger();
        }
      });
  }
}
