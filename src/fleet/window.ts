/**
 * Per-agent flow control: at most `size` handler calls in flight; more work waits in a FIFO queue and the
 * owner is told to stop reading (`onFull`) until there is room again (`onRoom`). The queue only holds what
 * was already read off the socket when reading stopped, so it stays small; `maxQueued` is a safety net.
 */

export interface WindowHooks {
  /** The window is full: stop reading the source. */
  onFull(): void;
  /** The window has room and nothing waits: read again. */
  onRoom(): void;
}

/** Frames a window may hold queued beyond its in-flight calls before the owner must give up. */
export const MAX_QUEUED_FRAMES = 10_000;

export class InFlightWindow<T> {
  private running = 0;
  private readonly waiting: T[] = [];
  private full = false;
  private held: boolean;
  private idleWaiters: (() => void)[] = [];
  private readonly maxQueued: number;

  constructor(
    private readonly size: number,
    private readonly run: (item: T) => Promise<void>,
    private readonly hooks: WindowHooks,
    options: { held?: boolean; maxQueued?: number } = {},
  ) {
    this.held = options.held ?? false;
    this.maxQueued = options.maxQueued ?? MAX_QUEUED_FRAMES;
  }

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  get isFull(): boolean {
    return this.full;
  }

  /** Runs `item` now if there is room, else queues it; false when the queue is over its bound. */
  push(item: T): boolean {
    if (this.waiting.length >= this.maxQueued) return false;
    this.waiting.push(item);
    this.pump();
    return true;
  }

  /** Starts running queued items (a window created `held` only queues until then). */
  open(): void {
    this.held = false;
    this.pump();
  }

  /** Drops queued items (running ones finish); used when the connection is gone. */
  clear(): void {
    this.waiting.length = 0;
    this.held = true;
    this.settleIdle();
  }

  /** Resolves when nothing is running (queued items of a held or cleared window do not count). */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (!this.held && this.running < this.size && this.waiting.length > 0) {
      const item = this.waiting.shift() as T;
      this.running++;
      void this.run(item)
        .catch(() => {})
        .finally(() => this.done());
    }
    this.updateFull();
  }

  private done(): void {
    this.running--;
    this.pump();
    this.settleIdle();
  }

  /** Reading stops while every slot is taken or anything waits, and resumes when neither holds. */
  private updateFull(): void {
    const full = this.running >= this.size || this.waiting.length > 0;
    if (full === this.full) return;
    this.full = full;
    if (full) this.hooks.onFull();
    else this.hooks.onRoom();
  }

  private settleIdle(): void {
    if (this.running !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
