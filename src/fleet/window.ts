/**
 * Per-agent flow control: at most `size` handler calls in flight; more work waits in a FIFO queue and the
 * owner is told to stop reading (`onFull`) until there is room again (`onRoom`). The queue only holds what
 * was already read off the socket when reading stopped, so it stays small; `maxQueued` is a safety net.
 * `LanedWindow` runs one per lane (control, data) so data never holds up control.
 */
import { LANES, type Lane } from '../protocol/lanes.js';

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
      // run's failures are its own to report; the window only counts the slot back either way.
      const done = (): void => this.done();
      this.run(item).then(done, done);
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

/** Why a laned window refused an item. */
export interface LaneRefusal {
  lane: Lane;
  message: string;
}

export interface LanedWindowOptions {
  /** Control lane in-flight calls (reports, exec results). */
  control: number;
  /** Data lane in-flight calls (data, events). */
  data: number;
  /** Only queue until `open()`. */
  held?: boolean;
  /** Control frames queued beyond the running ones before the owner must give up (default MAX_QUEUED_FRAMES). */
  maxQueuedControl?: number;
  /** Data frames queued beyond the running ones (default `data`: a whole window, read while held). */
  maxQueuedData?: number;
}

/**
 * Two windows, one per lane (`src/protocol/lanes.ts`), so data that waits on a dead target never holds up
 * control. Only a full control lane stops reading the socket: pausing for data would also stop heartbeats,
 * reports and exec results. The data lane relies on the agent honouring its window instead (an honest agent
 * never has more than `data` un-acked data frames, so never more than that running plus queued); one that
 * sends past its queue bound is refused, and the owner closes the connection.
 */
export class LanedWindow<T> {
  private readonly lanes: Record<Lane, InFlightWindow<T>>;

  constructor(
    options: LanedWindowOptions,
    private readonly laneOf: (item: T) => Lane,
    run: (item: T, lane: Lane) => Promise<void>,
    hooks: WindowHooks,
  ) {
    const held = options.held ?? false;
    this.lanes = {
      control: new InFlightWindow(options.control, (item) => run(item, 'control'), hooks, {
        held,
        maxQueued: options.maxQueuedControl ?? MAX_QUEUED_FRAMES,
      }),
      data: new InFlightWindow(
        options.data,
        (item) => run(item, 'data'),
        { onFull: () => {}, onRoom: () => {} },
        { held, maxQueued: options.maxQueuedData ?? options.data },
      ),
    };
  }

  /** Handler calls running, both lanes. */
  get inFlight(): number {
    return this.lanes.control.inFlight + this.lanes.data.inFlight;
  }

  /** Items waiting, both lanes. */
  get queued(): number {
    return this.lanes.control.queued + this.lanes.data.queued;
  }

  /** True while reading is stopped: only the control lane stops it. */
  get isFull(): boolean {
    return this.lanes.control.isFull;
  }

  /** One lane's window, for stats and tests. */
  lane(lane: Lane): InFlightWindow<T> {
    return this.lanes[lane];
  }

  /** Queues or runs `item` in its lane; a refusal says which lane is over its bound. */
  push(item: T): LaneRefusal | undefined {
    const lane = this.laneOf(item);
    if (this.lanes[lane].push(item)) return undefined;
    return lane === 'data'
      ? { lane, message: 'too many data frames in flight; honour the data window' }
      : { lane, message: 'too many frames queued; honour the window' };
  }

  /** Starts both lanes. */
  open(): void {
    for (const l of LANES) this.lanes[l].open();
  }

  /** Drops what both lanes queued. */
  clear(): void {
    for (const l of LANES) this.lanes[l].clear();
  }

  /** Resolves when nothing runs in either lane. */
  async idle(): Promise<void> {
    await Promise.all(LANES.map((l) => this.lanes[l].idle()));
  }
}
