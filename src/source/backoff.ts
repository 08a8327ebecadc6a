/** Delays between fetches: the jittered poll interval, and capped exponential backoff after failures. */
import { backoffDelayMs } from '../kernel/index.js';

/** First retry after a failed fetch. */
export const BASE_RETRY_DELAY_MS = 1_000;
/** Retries never wait longer than this, however long the outage. */
export const MAX_RETRY_DELAY_MS = 120_000;

/** Delay before the next attempt after `failures` consecutive failures (>= 1): 1 s, 2 s, 4 s, ... capped at 120 s. */
export function retryDelayMs(failures: number): number {
  return backoffDelayMs(failures, { baseMs: BASE_RETRY_DELAY_MS, maxMs: MAX_RETRY_DELAY_MS });
}

/** Spreads `delayMs` uniformly by ±`ratio` using `random` in [0, 1); `random() = 0.5` returns it unchanged. */
export function jitterMs(delayMs: number, ratio: number, random: () => number): number {
  return Math.max(0, Math.round(delayMs * (1 + ratio * (2 * random() - 1))));
}
