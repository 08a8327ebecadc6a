/** Capped exponential backoff for retrying a target. */
import { backoffDelayMs } from '../kernel/index.js';

/** Delay before the first retry after a failed write. */
export const BASE_RETRY_DELAY_MS = 100;
/** Delays double per failed attempt up to this cap. */
export const MAX_RETRY_DELAY_MS = 5_000;

/** The delay before retry number `attempt` (1-based): 100, 200, 400, ... capped at 5,000 ms. */
export function retryDelayMs(attempt: number): number {
  return backoffDelayMs(attempt, { baseMs: BASE_RETRY_DELAY_MS, maxMs: MAX_RETRY_DELAY_MS });
}
