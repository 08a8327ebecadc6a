/** Capped exponential backoff, the one formula behind every retry and reconnect delay. */

export interface BackoffPolicy {
  /** Delay of the first retry. */
  baseMs: number;
  /** No delay exceeds this. */
  maxMs: number;
}

/** The delay before retry `attempt` (1-based; below 1 counts as 1): base, 2*base, 4*base, ... capped at max. */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy): number {
  // The exponent is clamped so 2 ** n stays a small finite number long after the cap is reached.
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  return Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
}

/** "Equal jitter": `delayMs` scaled by a factor in [0.5, 1) drawn from `random`, never under half of it. */
export function equalJitterMs(delayMs: number, random: () => number = Math.random): number {
  return Math.round(delayMs * (0.5 + random() / 2));
}
