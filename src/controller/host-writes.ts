/**
 * Store writes of hosts, batched per tick: every host marked in one turn of the event loop (a revision's
 * chunk of hosts, the reports read from many sockets at once) goes to the store in one `putDrifts` and one
 * `putHostStates`, instead of two or three commits per host. A host's record is built when its batch is
 * written, so it carries its latest state; batches are written one after another, in order, and a batch
 * stays open while the one before it is being written (group commit: on a store that answers over the
 * network, hosts gather during the round trip instead of queueing in small batches behind it).
 */
import { performance } from 'node:perf_hooks';
import type { DriftRecord, HostStateWrite } from '../store/types.js';

export interface HostWriterDeps<H> {
  /** The host's write, or undefined when it must not be written (forgotten meanwhile). */
  writeOf(host: H): HostStateWrite | undefined;
  putDrifts(records: DriftRecord[]): Promise<void>;
  putHostStates(writes: HostStateWrite[]): Promise<void>;
  /** Runs `fn` after the current turn's I/O (default setImmediate). */
  defer?: (fn: () => void) => void;
  /**
   * Least time from the start of one batch's write to the next (default HOST_WRITE_MIN_INTERVAL_MS): a
   * write after a quiet spell goes out after this turn, but under a burst (a reconnect storm, a fleet's
   * reports) hosts marked meanwhile join one batch, one commit, instead of a commit per turn.
   */
  minIntervalMs?: number;
  /**
   * The interval is also at least this many times the time the last batch's write held the event loop
   * (default HOST_WRITE_PACE_FACTOR), up to HOST_WRITE_MAX_INTERVAL_MS: when commits grow slow under load,
   * batches grow with them, so the controller spends at most about 1/(factor + 1) of its time in store
   * commits and a commit's fixed cost is shared by more hosts. Only the synchronous part of each store call
   * counts: SQLite's whole commit, but not a Redis round trip, during which the controller goes on serving
   * (and the next batch gathers anyway, since it is not taken before the write ends).
   */
  paceFactor?: number;
  /** A batch is closed to new hosts at this many (default HOST_WRITE_MAX_BATCH_HOSTS); the next opens. */
  maxBatchHosts?: number;
  /** Milliseconds clock (default performance.now). */
  now?: () => number;
  /** Runs `fn` after `ms` (default setTimeout). */
  delay?: (ms: number, fn: () => void) => void;
}

/** One commit per turn costs 70-140 µs of CPU per host in SQLite; ten hosts a commit, 30 µs each. */
export const HOST_WRITE_MIN_INTERVAL_MS = 4;
/** See `HostWriterDeps.paceFactor`. */
export const HOST_WRITE_PACE_FACTOR = 4;
/** The paced interval never exceeds this: a host's state reaches the store (and its report its ack) within it. */
export const HOST_WRITE_MAX_INTERVAL_MS = 250;
/** Hosts per batch at most: one commit holds the event loop for tens of ms at this size, not hundreds. */
export const HOST_WRITE_MAX_BATCH_HOSTS = 500;

interface Batch<H> {
  hosts: Set<H>;
  drift: DriftRecord[];
  done: Promise<void>;
  settle(err?: unknown): void;
}

export class HostWriter<H> {
  private batch: Batch<H> | undefined;
  /** Batches opened and not yet taken for writing (the open one, and full ones waiting for their turn). */
  private readonly untaken = new Set<Batch<H>>();
  private tail: Promise<void> = Promise.resolve();
  private readonly defer: (fn: () => void) => void;
  private readonly delay: (ms: number, fn: () => void) => void;
  private readonly now: () => number;
  private readonly minIntervalMs: number;
  private readonly paceFactor: number;
  private readonly maxBatchHosts: number;
  /** When the last batch was taken for writing (-Infinity: never). */
  private lastStart = Number.NEGATIVE_INFINITY;
  /** How long the last batch's write held the event loop, in ms. */
  private lastHeldMs = 0;

  constructor(private readonly deps: HostWriterDeps<H>) {
    this.defer = deps.defer ?? ((fn) => setImmediate(fn));
    this.delay = deps.delay ?? ((ms, fn) => setTimeout(fn, ms));
    this.now = deps.now ?? (() => performance.now());
    this.minIntervalMs = deps.minIntervalMs ?? HOST_WRITE_MIN_INTERVAL_MS;
    this.paceFactor = deps.paceFactor ?? HOST_WRITE_PACE_FACTOR;
    this.maxBatchHosts = deps.maxBatchHosts ?? HOST_WRITE_MAX_BATCH_HOSTS;
  }

  /** Least time from the start of the last batch's write to the next. */
  private get intervalMs(): number {
    const paced = Math.min(HOST_WRITE_MAX_INTERVAL_MS, this.paceFactor * this.lastHeldMs);
    return Math.max(this.minIntervalMs, paced);
  }

  /**
   * Queues the host (and drift records to store with it) for the next batch; resolves once that batch is
   * stored, rejects when the write failed (the caller's work is then not acknowledged).
   */
  write(host: H, drift: readonly DriftRecord[] = []): Promise<void> {
    const batch = this.open();
    batch.hosts.add(host);
    batch.drift.push(...drift);
    // Full: it keeps its turn to be written; hosts from now on go to the next batch.
    if (batch.hosts.size >= this.maxBatchHosts && this.batch === batch) this.batch = undefined;
    return batch.done;
  }

  /** Resolves once everything queued so far is stored (or failed). */
  idle(): Promise<void> {
    // Batches not yet taken (the open one, and full ones waiting for their turn), then whatever is writing.
    return Promise.allSettled([...[...this.untaken].map((b) => b.done), this.tail]).then(() => undefined);
  }

  private open(): Batch<H> {
    if (this.batch) return this.batch;
    let settle!: (err?: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (err) => (err === undefined ? resolve() : reject(err));
    });
    // Callers that do not await still must not see an unhandled rejection here; theirs is `done`.
    done.catch(() => undefined);
    const batch: Batch<H> = { hosts: new Set(), drift: [], done, settle };
    this.batch = batch;
    this.untaken.add(batch);
    // Its turn: after the interval, and after the write before it ended (it gathers hosts until then).
    const take = () => {
      this.tail = this.tail.then(() => {
        if (this.batch === batch) this.batch = undefined;
        this.untaken.delete(batch);
        this.lastStart = this.now();
        return this.flush(batch);
      });
    };
    const wait = this.lastStart + this.intervalMs - this.now();
    if (wait > 0) this.delay(wait, take);
    else this.defer(take);
    return batch;
  }

  private async flush(batch: Batch<H>): Promise<void> {
    let held = 0;
    // Calls `put`, adding the time it ran before handing back its promise to `held`.
    const timed = (put: () => Promise<void>): Promise<void> => {
      const started = this.now();
      try {
        return put();
      } finally {
        held += this.now() - started;
      }
    };
    try {
      if (batch.drift.length > 0) await timed(() => this.deps.putDrifts(batch.drift));
      const writes: HostStateWrite[] = [];
      for (const host of batch.hosts) {
        const w = this.deps.writeOf(host);
        if (w) writes.push(w);
      }
      if (writes.length > 0) await timed(() => this.deps.putHostStates(writes));
      batch.settle();
    } catch (err) {
      batch.settle(err ?? new Error('host write failed'));
    }
    this.lastHeldMs = held;
  }
}
