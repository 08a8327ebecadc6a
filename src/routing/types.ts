/** Shared types of the router: what writers take, what runners report, and the injected dependencies. */
import type { Logger } from '../kernel/index.js';

/** One record as a target receives it: the serialised payload plus its identity. */
export interface OutRecord {
  /** The DataRecord's rid: unique per record, so consumers can dedupe at-least-once delivery. */
  rid: string;
  /** The serialised payload (one JSON document). */
  data: string;
  /** Message key (Kafka `keyField`); absent when the target has none. */
  key?: string;
  /** Per-route destination override: the Redis key or Kafka topic to use instead of the target's. */
  dest?: string;
}

export type TargetType = 'redis' | 'kafka' | 'file';

/** What a writer says about its connection. */
export interface WriterHealth {
  connected: boolean;
  detail?: string;
}

/** Writes batches to one destination. `write` resolves only when the destination holds every record. */
export interface TargetWriter {
  write(batch: readonly OutRecord[]): Promise<void>;
  health(): WriterHealth;
  close(): Promise<void>;
}

/** A runner's state, served as is by the API. */
export interface TargetHealth {
  name: string;
  type: TargetType;
  state: RunnerState;
  connected: boolean;
  lastError?: string;
  lastErrorAt?: string;
  spoolDepth: number;
  spoolBytes: number;
  /** Age of the oldest spooled record, 0 when the spool is empty. */
  lagMs: number;
  /** True while the spool is full and `accept` makes callers wait. */
  pressure: boolean;
  /** Records the target acknowledged (direct or drained from the spool). */
  written: number;
  /** Records appended to the spool. */
  spooled: number;
  /** Records sent again from the spool (each drain attempt counts its batch). */
  retried: number;
  /** Records in write attempts that failed (they were spooled or stay spooled, never dropped). */
  failed: number;
}

export type RunnerState = 'running' | 'draining' | 'stopped';

export type { Logger };

/** Milliseconds since the epoch; injected so tests control time. */
export type Clock = () => number;
/** Waits `ms` or until `signal` aborts (then resolves early, never rejects). */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** A logger that drops everything (the default when none is injected). */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

/** `Date.now`, the default clock. */
export const systemClock: Clock = () => Date.now();

/** A real-timer sleep that resolves early when `signal` aborts. */
export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** The message of anything thrown, for health and logs. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
