/**
 * Collects stamped records into `data` messages that are appended to the agent's spool when full (records
 * or bytes) or when the oldest record has waited `maxDelayMs`. Every `add` learns how many of its records
 * were made durable, so the pusher is told "accepted" only for records the spool holds.
 */
import type { DataMessage, WireDataRecord } from '../src/protocol/messages.js';
import { errorText } from './engine/index.js';
import type { RecordInput } from './ingest-parse.js';
import type { Stamper } from './ingest-record.js';

/** Records per `data` message. */
export const MAX_RECORDS_PER_MESSAGE = 500;
/** A record waits at most this long for its message to fill before it is spooled anyway. */
export const MAX_BATCH_DELAY_MS = 50;
/**
 * Serialised bytes per `data` message, estimated. Kept under 128 KiB, where both ends start to pay per byte:
 * V8 puts a string or buffer that large in its large-object space and glibc maps it fresh, so every frame
 * costs page faults to build, send, receive and parse. Measured (node 20, copy + decode + JSON.parse on the
 * controller): ~1.2 us per record at 110 KiB frames, 2.2 us at 138 KiB; routing bench, controller and
 * agents together 26.7-27.7 -> 23.3-27.0 CPU-us per record at 96 KiB instead of 1 MiB. A single record
 * larger than this still goes, alone in its message (the frame limit is 4 MiB).
 */
export const MAX_MESSAGE_BYTES = 96 * 1024;
/**
 * Bytes a record's JSON adds to its pushed line besides its rid: keys and quotes (~45), the time (24) and a
 * channel given apart from the line (`push --channel`), up to ~60; no host, the controller stamps it.
 */
const RECORD_OVERHEAD_BYTES = 128;

export interface BatcherOptions {
  /** Default MAX_RECORDS_PER_MESSAGE. */
  maxRecords?: number;
  /** Default MAX_BATCH_DELAY_MS. */
  maxDelayMs?: number;
  /** Default MAX_MESSAGE_BYTES. */
  maxBytes?: number;
}

export interface BatcherDeps {
  /** Makes a message durable (the agent's spool); resolves once it is on disk. */
  append(msg: DataMessage): Promise<void>;
  stamp: Stamper;
  /** Message ids. */
  newId(): string;
  /** Called after each append settles (the server re-checks its back-pressure then). */
  onAppended?(): void;
}

/** What became of the records of one `add`. */
export interface AddOutcome {
  accepted: number;
  failed: number;
  /** Why some failed (the spool could not write them). */
  error?: string;
}

interface OpenBatch {
  records: WireDataRecord[];
  bytes: number;
  done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout | undefined;
}

export class DataBatcher {
  private open: OpenBatch | undefined;
  private readonly appending = new Set<Promise<void>>();
  private readonly maxRecords: number;
  private readonly maxDelayMs: number;
  private readonly maxBytes: number;

  constructor(
    private readonly deps: BatcherDeps,
    options: BatcherOptions = {},
  ) {
    this.maxRecords = Math.max(1, options.maxRecords ?? MAX_RECORDS_PER_MESSAGE);
    this.maxDelayMs = Math.max(0, options.maxDelayMs ?? MAX_BATCH_DELAY_MS);
    this.maxBytes = options.maxBytes ?? MAX_MESSAGE_BYTES;
  }

  /** Stamps and batches `inputs`; resolves once every one is spooled or has failed to be. */
  async add(inputs: readonly RecordInput[]): Promise<AddOutcome> {
    if (inputs.length === 0) return { accepted: 0, failed: 0 };
    const parts: { done: Promise<void>; count: number }[] = [];
    for (const input of inputs) {
      const record = this.deps.stamp(input);
      const bytes = input.bytes + record.rid.length + RECORD_OVERHEAD_BYTES;
      if (this.open && this.open.bytes + bytes > this.maxBytes) this.flushOpen();
      const batch = this.open ?? this.start();
      batch.records.push(record);
      batch.bytes += bytes;
      const last = parts.at(-1);
      if (last?.done === batch.done) last.count += 1;
      else parts.push({ done: batch.done, count: 1 });
      if (batch.records.length >= this.maxRecords) this.flushOpen();
    }
    const settled = await Promise.allSettled(parts.map((p) => p.done));
    const outcome: AddOutcome = { accepted: 0, failed: 0 };
    settled.forEach((s, i) => {
      const count = (parts[i] as { count: number }).count;
      if (s.status === 'fulfilled') {
        outcome.accepted += count;
        return;
      }
      outcome.failed += count;
      outcome.error ??= errorText(s.reason);
    });
    return outcome;
  }

  /** Records waiting in the open message (not yet handed to the spool). */
  get buffered(): number {
    return this.open?.records.length ?? 0;
  }

  /** Spools the open message now and waits for every append in progress. */
  async flush(): Promise<void> {
    this.flushOpen();
    while (this.appending.size > 0) await Promise.allSettled([...this.appending]);
  }

  private start(): OpenBatch {
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // `add` always observes `done` through allSettled; this only keeps an early failure from being "unhandled".
    done.catch(() => {});
    const batch: OpenBatch = { records: [], bytes: 0, done, resolve, reject, timer: undefined };
    batch.timer = setTimeout(() => this.flushOpen(), this.maxDelayMs);
    this.open = batch;
    return batch;
  }

  private flushOpen(): void {
    const b = this.open;
    if (!b) return;
    this.open = undefined;
    clearTimeout(b.timer);
    const msg: DataMessage = { v: 1, type: 'data', id: this.deps.newId(), records: b.records };
    let append: Promise<void>;
    try {
      append = this.deps.append(msg);
    } catch (err) {
      append = Promise.reject(err);
    }
    const settled = append.then(b.resolve, b.reject).finally(() => {
      this.appending.delete(settled);
      this.deps.onAppended?.();
    });
    this.appending.add(settled);
  }
}
