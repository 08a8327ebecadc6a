/**
 * One runner per StreamTarget. `accept(batch)` resolves once every record is written to the target or
 * durably appended to its spool: the moment the controller may ack the agent. Order is kept: while the
 * spool holds anything, new batches are appended behind it, and a drain loop writes the spool to the target
 * in order, retrying with capped exponential backoff. A full spool makes `accept` wait (back-pressure,
 * visible through `pressure()`); nothing is dropped.
 */
import { join } from 'node:path';
import { retryDelayMs } from './backoff.js';
import { RunnerClosedError, TargetWriteError } from './errors.js';
import { Spool } from './spool.js';
import { Mutex, Signal, withTimeout } from './sync.js';
import {
  type Clock,
  errorMessage,
  type Logger,
  type OutRecord,
  type RunnerState,
  realSleep,
  type Sleep,
  silentLogger,
  systemClock,
  type TargetHealth,
  type TargetType,
  type TargetWriter,
} from './types.js';

/** Records per write when draining the spool. */
export const DEFAULT_DRAIN_BATCH_RECORDS = 1_000;
/** A write that has not settled after this long counts as failed (it may still land: at-least-once). */
export const DEFAULT_WRITE_TIMEOUT_MS = 30_000;
/** How long `drainAndClose` tries to empty the spool by default. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
/** Spool limit when the StreamTarget declares none. */
export const DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024;
/**
 * Batches that queued up while a write was in flight go out as one write of up to this many bytes of
 * record data (one batch at least): one round trip to the target instead of several, in the same order.
 */
export const MERGED_WRITE_MAX_BYTES = 1024 * 1024;

/** A batch handed to `accept` and the settling of its promise. */
interface QueuedBatch {
  batch: readonly OutRecord[];
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface TargetRunnerOptions {
  name: string;
  type: TargetType;
  /** Opens the writer; a failure is retried with backoff while records go to the spool. */
  openWriter: () => Promise<TargetWriter>;
  /** The spool's directory (one per target). */
  spoolDir: string;
  /** Default DEFAULT_SPOOL_MAX_BYTES. */
  spoolMaxBytes?: number;
  /** Spool segment size; default the spool's. */
  spoolSegmentBytes?: number;
  /** Default DEFAULT_DRAIN_BATCH_RECORDS. */
  drainBatchRecords?: number;
  /** Default DEFAULT_WRITE_TIMEOUT_MS. */
  writeTimeoutMs?: number;
}

export interface TargetRunnerDeps {
  clock?: Clock;
  /** Used for retry backoff only; the drain and write timeouts use real timers. */
  sleep?: Sleep;
  logger?: Logger;
}

/** What `drainAndClose` leaves behind. */
export interface DrainReport {
  name: string;
  drained: boolean;
  remainingRecords: number;
  remainingBytes: number;
  spoolDir: string;
}

export class TargetRunner {
  private state: RunnerState = 'running';
  private writer: TargetWriter | undefined;
  private failing = false;
  private lastError: string | undefined;
  private lastErrorAt: number | undefined;
  private counters = { written: 0, spooled: 0, retried: 0, failed: 0 };
  private waitingForRoom = 0;
  private readonly acceptLock = new Mutex();
  /** Accepted batches no lock turn has taken yet, in accept order. */
  private readonly queued: QueuedBatch[] = [];
  /** Notified when records reach the spool (the drain loop waits on it). */
  private readonly wake = new Signal();
  /** Notified when the spool shrinks or the runner stops (full-spool waiters wait on it). */
  private readonly room = new Signal();
  private readonly abort = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  private closing: Promise<DrainReport> | undefined;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private readonly logger: Logger;

  private constructor(
    private readonly opts: TargetRunnerOptions,
    private readonly spool: Spool,
    deps: TargetRunnerDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.sleep = deps.sleep ?? realSleep;
    this.logger = deps.logger ?? silentLogger;
  }

  /** Opens the spool, tries the writer once and starts the drain loop (which drains what a restart left). */
  static async create(opts: TargetRunnerOptions, deps: TargetRunnerDeps = {}): Promise<TargetRunner> {
    const spool = await Spool.create(opts.spoolDir, {
      maxBytes: opts.spoolMaxBytes ?? DEFAULT_SPOOL_MAX_BYTES,
      ...(opts.spoolSegmentBytes !== undefined ? { segmentBytes: opts.spoolSegmentBytes } : {}),
      ...(deps.clock ? { clock: deps.clock } : {}),
      ...(deps.logger ? { logger: deps.logger } : {}),
    });
    const runner = new TargetRunner(opts, spool, deps);
    await runner.ensureWriter();
    runner.loop = runner.drainLoop();
    return runner;
  }

  get name(): string {
    return this.opts.name;
  }

  /**
   * Resolves once every record is written or spooled; waits while the spool is full. Batches accepted while
   * an earlier one is being written are written (or spooled) together, in order, up to MERGED_WRITE_MAX_BYTES.
   */
  accept(batch: readonly OutRecord[]): Promise<void> {
    if (this.state !== 'running') return Promise.reject(new RunnerClosedError(this.name, this.state));
    if (batch.length === 0) return Promise.resolve();
    let bytes = 0;
    for (const r of batch) bytes += r.data.length;
    const done = new Promise<void>((resolve, reject) => {
      this.queued.push({ batch, bytes, resolve, reject });
    });
    // Every accept takes a lock turn (so `acceptLock.idle()` covers it); a turn that finds its batch taken
    // by an earlier turn's merged write has nothing left to do.
    this.acceptLock
      .run(async () => {
        const taken = this.takeQueued();
        if (taken.length === 0) return;
        const merged = taken.length === 1 ? (taken[0] as QueuedBatch).batch : taken.flatMap((q) => q.batch);
        try {
          await this.acceptNow(merged);
        } catch (err) {
          for (const q of taken) q.reject(err);
          return;
        }
        for (const q of taken) q.resolve();
      })
      .catch(() => {});
    return done;
  }

  /** The queued batches one write takes: the first, and those after it while they fit the merge limit. */
  private takeQueued(): QueuedBatch[] {
    let n = 0;
    let bytes = 0;
    for (const q of this.queued) {
      if (n > 0 && bytes + q.bytes > MERGED_WRITE_MAX_BYTES) break;
      bytes += q.bytes;
      n++;
    }
    return this.queued.splice(0, n);
  }

  /** Writes the batch, or spools it behind what the spool holds (waiting while the spool is full). */
  private async acceptNow(batch: readonly OutRecord[]): Promise<void> {
    if (this.spool.depth() === 0 && this.state !== 'stopped' && (await this.tryWrite(batch, false))) return;
    while (this.spool.isFull()) {
      if (this.state === 'stopped') throw new RunnerClosedError(this.name, this.state);
      this.waitingForRoom++;
      try {
        await this.room.wait();
      } finally {
        this.waitingForRoom--;
      }
    }
    if (this.state === 'stopped') throw new RunnerClosedError(this.name, this.state);
    await this.spool.append(batch);
    this.counters.spooled += batch.length;
    this.wake.notify();
  }

  /** True while the spool is full or a caller waits for room: the hub should stop reading from agents. */
  pressure(): boolean {
    return this.spool.isFull() || this.waitingForRoom > 0;
  }

  /** A plain object for the API and `gsectl get targets`. */
  health(): TargetHealth {
    const writerHealth = this.writer?.health();
    const oldest = this.spool.oldestAt();
    const h: TargetHealth = {
      name: this.name,
      type: this.opts.type,
      state: this.state,
      connected: !this.failing && (writerHealth?.connected ?? false),
      spoolDepth: this.spool.depth(),
      spoolBytes: this.spool.bytes(),
      lagMs: oldest === undefined ? 0 : Math.max(0, this.clock() - oldest),
      pressure: this.pressure(),
      ...this.counters,
    };
    if (this.lastError !== undefined && this.lastErrorAt !== undefined) {
      h.lastError = this.lastError;
      h.lastErrorAt = new Date(this.lastErrorAt).toISOString();
    }
    return h;
  }

  /**
   * Stops accepting, waits for accepted batches, then drains the spool to the target for up to `timeoutMs`
   * (default DEFAULT_DRAIN_TIMEOUT_MS) and closes. What cannot be drained stays on disk and is reported.
   */
  drainAndClose(timeoutMs = DEFAULT_DRAIN_TIMEOUT_MS): Promise<DrainReport> {
    this.closing ??= this.doDrainAndClose(timeoutMs);
    return this.closing;
  }

  /** Closes at once, leaving the spool on disk for the next start. */
  close(): Promise<DrainReport> {
    return this.drainAndClose(0);
  }

  private async doDrainAndClose(timeoutMs: number): Promise<DrainReport> {
    this.state = 'draining';
    const drained = async () => {
      await this.acceptLock.idle();
      while (this.spool.depth() > 0 && this.state === 'draining') await this.room.wait();
    };
    if (timeoutMs > 0) {
      await withTimeout(drained(), timeoutMs, () => new Error('drain timeout')).catch(() => {});
    }
    await this.stop();
    const report: DrainReport = {
      name: this.name,
      drained: this.spool.depth() === 0,
      remainingRecords: this.spool.depth(),
      remainingBytes: this.spool.bytes(),
      spoolDir: this.opts.spoolDir,
    };
    if (!report.drained) {
      this.logger.warn('target closed with records left in its spool', { ...report });
    }
    return report;
  }

  private async stop(): Promise<void> {
    this.state = 'stopped';
    this.abort.abort();
    this.wake.notify();
    this.room.notify();
    await this.loop;
    await this.acceptLock.idle();
    await this.writer?.close().catch((err: unknown) => this.noteError(err));
    await this.spool.close();
  }

  private async drainLoop(): Promise<void> {
    let attempt = 0;
    const backoff = async () => {
      attempt++;
      await this.sleep(retryDelayMs(attempt), this.abort.signal);
    };
    while (this.state !== 'stopped') {
      if (this.spool.depth() === 0) {
        await this.wake.wait();
        continue;
      }
      try {
        const entries = await this.spool.peek(this.opts.drainBatchRecords ?? DEFAULT_DRAIN_BATCH_RECORDS);
        if (
          entries.length === 0 ||
          !(await this.tryWrite(
            entries.map((e) => e.rec),
            true,
          ))
        ) {
          await backoff();
          continue;
        }
        await this.spool.commit(entries.length);
        attempt = 0;
        this.room.notify();
      } catch (err) {
        // A spool read or commit failed: the batch stays pending and is re-sent (a duplicate, never a loss).
        this.noteError(err);
        await backoff();
      }
    }
  }

  private async ensureWriter(): Promise<TargetWriter | undefined> {
    if (this.writer) return this.writer;
    try {
      this.writer = await this.opts.openWriter();
      return this.writer;
    } catch (err) {
      this.noteError(err);
      return undefined;
    }
  }

  /** One write attempt; false (and the error noted) on any failure. */
  private async tryWrite(batch: readonly OutRecord[], fromSpool: boolean): Promise<boolean> {
    if (fromSpool) this.counters.retried += batch.length;
    const writer = await this.ensureWriter();
    if (writer) {
      const ms = this.opts.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS;
      try {
        await withTimeout(
          writer.write(batch),
          ms,
          () => new TargetWriteError(this.name, `write timed out after ${ms} ms`),
        );
        this.counters.written += batch.length;
        if (this.failing)
          this.logger.info('target writable again', { target: this.name, after: this.lastError });
        this.failing = false;
        // Health shows the error while it lasts; a recovered target has none.
        this.lastError = undefined;
        this.lastErrorAt = undefined;
        return true;
      } catch (err) {
        this.noteError(err);
      }
    }
    this.counters.failed += batch.length;
    this.failing = true;
    return false;
  }

  private noteError(err: unknown): void {
    const msg = errorMessage(err);
    if (msg !== this.lastError || !this.failing)
      this.logger.warn('target write failed', { target: this.name, error: msg });
    this.lastError = msg;
    this.lastErrorAt = this.clock();
  }
}

/** The spool directory of a target under the router's state dir. */
export function spoolDirFor(stateDir: string, target: string): string {
  return join(stateDir, 'spool', encodeURIComponent(target));
}
