/**
 * Execution results handed in during one turn of the event loop, stored in one store write: a fan-out's
 * results arrive together (1,000 hosts answer within a few turns), and one transaction per turn costs a
 * fraction of one per result. Each caller's promise settles once its own record is durable (or failed), so
 * the agent is still acked only after the write. When the batched write fails, the records are written one
 * at a time, so a record the store refuses fails alone and the others are stored.
 */
import type { ExecutionRecord, Store } from '../store/types.js';

interface Queued {
  record: ExecutionRecord;
  resolve(): void;
  reject(err: unknown): void;
}

/** Runs the flush once the records of this turn are queued. */
export type FlushScheduler = (flush: () => void) => void;

/** setImmediate: after every frame read in this poll phase was handled, before the next read. */
const afterThisTurn: FlushScheduler = (flush) => {
  setImmediate(flush);
};

/** Stores the execution records put in one turn in one `putExecutions`. */
export class ExecutionBatch {
  private queued: Queued[] = [];

  constructor(
    private readonly store: Pick<Store, 'putExecution' | 'putExecutions'>,
    private readonly schedule: FlushScheduler = afterThisTurn,
  ) {}

  /** Stores `record` with the others of this turn; resolves once it is durable, rejects if it is not. */
  put(record: ExecutionRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // flush settles every caller's promise itself and never rejects.
      if (this.queued.length === 0) this.schedule(() => this.flush().catch(() => undefined));
      this.queued.push({ record, resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queued;
    this.queued = [];
    try {
      await this.store.putExecutions(batch.map((q) => q.record));
    } catch {
      // One bad record must not fail the others: write them one by one, each failing on its own.
      for (const q of batch) await this.store.putExecution(q.record).then(q.resolve, q.reject);
      return;
    }
    for (const q of batch) q.resolve();
  }
}
