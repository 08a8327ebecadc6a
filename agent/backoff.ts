/** Reconnect timing: jittered exponential backoff, so a fleet that lost its controller does not return at once. */
import { backoffDelayMs, equalJitterMs } from '../src/kernel/index.js';

export const BASE_RECONNECT_DELAY_MS = 500;
export const MAX_RECONNECT_DELAY_MS = 30_000;

/**
 * Delay before reconnect attempt `attempt` (0-based): the exponential step `BASE * 2^attempt`, capped at
 * MAX, scaled by a factor in [0.5, 1) drawn from `random` ("equal jitter": never less than half the step,
 * so a flapping controller is not hammered, and spread enough that 10,000 agents do not arrive together).
 */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  const step = backoffDelayMs(attempt + 1, {
    baseMs: BASE_RECONNECT_DELAY_MS,
    maxMs: MAX_RECONNECT_DELAY_MS,
  });
  return equalJitterMs(step, random);
}
