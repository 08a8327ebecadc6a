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

/**
 * After a controller closed a healthy session saying it is going away (1001: it is stopping, for a restart or
 * an upgrade), the agent retries on this short, jittered cadence instead of the exponential backoff: the
 * controller is expected back within seconds, and a fleet still waiting out 4 to 8 s steps would return long
 * after it. The returning fleet is paced by the controller (admission rate, 503 + retry-after), not by us.
 */
export const RESTART_RETRY_STEP_MS = 1_000;
/** How long after such a close the short cadence lasts; then the exponential backoff takes over. */
export const RESTART_RETRY_WINDOW_MS = 30_000;

/** Why the agent waits before its next connect attempt, and what it knows about the last close. */
export interface ReconnectWait {
  /** Backoff steps taken since the last healthy session (0-based, as `reconnectDelayMs` takes it). */
  attempt: number;
  /** The controller's retry-after from a refused upgrade, if it gave one. */
  retryAfterMs?: number;
  /** Milliseconds since the controller said it was going away, while that is the latest news. */
  sinceGoingAwayMs?: number;
}

/**
 * The delay before the next attempt: a controller's retry-after is believed over anything else; within
 * RESTART_RETRY_WINDOW_MS of a going-away close, a step of RESTART_RETRY_STEP_MS with equal jitter; else the
 * exponential backoff.
 */
export function nextReconnectDelayMs(wait: ReconnectWait, random: () => number = Math.random): number {
  if (wait.retryAfterMs !== undefined) return retryAfterDelayMs(wait.retryAfterMs, random);
  if (usesRestartStep(wait)) return equalJitterMs(RESTART_RETRY_STEP_MS, random);
  return reconnectDelayMs(wait.attempt, random);
}

/**
 * True when the next wait is the restart step. Such waits are not backoff steps: an agent still out when
 * the window ends resumes the exponential backoff where it stood, not 30 doublings further on.
 */
export function usesRestartStep(wait: ReconnectWait): boolean {
  return (
    wait.retryAfterMs === undefined &&
    wait.sinceGoingAwayMs !== undefined &&
    wait.sinceGoingAwayMs < RESTART_RETRY_WINDOW_MS
  );
}

/** Jitter added on top of a controller's retry-after: a tenth of it, at least this, at most RETRY_AFTER_MAX_JITTER_MS. */
export const RETRY_AFTER_MIN_JITTER_MS = 50;
export const RETRY_AFTER_MAX_JITTER_MS = 1_000;

/**
 * Delay before retrying after the controller said "retry after `retryAfterMs`": never sooner, plus a jitter
 * of up to a tenth of it (between RETRY_AFTER_MIN_JITTER_MS and RETRY_AFTER_MAX_JITTER_MS), drawn from `random`.
 */
export function retryAfterDelayMs(retryAfterMs: number, random: () => number = Math.random): number {
  const spread = Math.min(RETRY_AFTER_MAX_JITTER_MS, Math.max(RETRY_AFTER_MIN_JITTER_MS, retryAfterMs / 10));
  return Math.ceil(retryAfterMs + spread * random());
}

/** Longest retry-after honoured; a larger one (or a date far ahead) is cut to this. */
export const MAX_HONOURED_RETRY_AFTER_MS = 5 * 60_000;

/**
 * The retry-after of a refused upgrade, in ms: `x-retry-after-ms` when present (the controller's own, exact),
 * else `retry-after` as seconds or an HTTP date (relative to `nowMs`); undefined when neither parses.
 */
export function retryAfterFromHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  nowMs: number,
): number | undefined {
  const first = (v: string | string[] | undefined): string | undefined =>
    (Array.isArray(v) ? v[0] : v)?.trim();
  const clamp = (ms: number): number => Math.min(MAX_HONOURED_RETRY_AFTER_MS, Math.max(0, Math.ceil(ms)));
  const exact = first(headers['x-retry-after-ms']);
  if (exact && /^\d+$/.test(exact)) return clamp(Number(exact));
  const standard = first(headers['retry-after']);
  if (!standard) return undefined;
  if (/^\d+$/.test(standard)) return clamp(Number(standard) * 1000);
  const at = Date.parse(standard);
  return Number.isNaN(at) ? undefined : clamp(at - nowMs);
}
