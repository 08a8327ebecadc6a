/** Collects out-records into batches that flush when full (`maxRecords`) or when `maxDelayMs` has passed. */
import type { OutRecord } from './types.js';

interface OpenBatch {
  records: OutRecord[];
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout | undefined;
}

export class BatchLane {
  private open: OpenBatch | undefined;

  constructor(
    private readonly maxRecords: number,
    private readonly maxDelayMs: number,
    /** Takes a full or timed-out batch; its settling settles every `add` of that batch. */
    private readonly sink: (batch: OutRecord[]) => Promise<void>,
  ) {}

  /** Adds a record; the promise settles when its batch has been taken by the sink. */
  add(rec: OutRecord): Promise<void> {
    const batch = this.open ?? this.start();
    batch.records.push(rec);
    if (batch.records.length >= this.maxRecords) this.flushOpen();
    return batch.done;
  }

  /** Flushes the open batch now (used before a reconfigure retires the lane). */
  flush(): Promise<void> {
    const b = this.open;
    if (!b) return Promise.resolve();
    this.flushOpen();
    return b.done;
  }

  private start(): OpenBatch {
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Callers always await `done`; this guard only keeps an unobserved failure from crashing the process.
    done.catch(() => {});
    const batch: OpenBatch = { records: [], done, resolve, reject, timer: undefined };
    if (this.maxRecords > 1) batch.timer = setTimeout(() => this.flushOpen(), this.maxDelayMs);
    this.open = batch;
    return batch;
  }

  private flushOpen(): void {
    const b = this.open;
    if (!b) return;
    this.open = undefined;
    if (b.timer) clearTimeout(b.timer);
    this.sink(b.records).then(b.resolve, b.reject);
  }
}

/** The key of the lane that carries a route's records to one target. Names cannot hold NUL. */
export function laneKey(route: string, target: string): string {
  return `${route}\u0000${target}`;
}

/** Flushes every lane; returns, per target name, a promise that settles once its lanes' batches have. */
export function flushLanesByTarget(lanes: ReadonlyMap<string, BatchLane>): Map<string, Promise<unknown>> {
  const byTarget = new Map<string, Promise<unknown>[]>();
  for (const [key, lane] of lanes) {
    const target = key.slice(key.indexOf('\u0000') + 1);
    const list = byTarget.get(target) ?? [];
    list.push(lane.flush());
    byTarget.set(target, list);
  }
  return new Map([...byTarget].map(([t, ps]) => [t, Promise.allSettled(ps)]));
}
