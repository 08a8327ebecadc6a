/**
 * Paces agent handshakes: a token bucket decides, with no I/O, whether an upgrade is let in now or told to
 * come back later. Refused agents are booked into a backlog that drains at the admission rate, so each gets
 * a later slot than the one before it: a reconnect storm of N agents is spread over about N / rate seconds
 * instead of retrying in waves.
 */

export interface AdmissionRate {
  /** Handshakes admitted per second, on average; 0 turns pacing off. */
  perSecond: number;
  /** Handshakes admitted at once after a quiet period (the bucket's size). */
  burst: number;
  /** No retry-after is longer than this. */
  maxRetryAfterMs: number;
}

export interface AdmissionState {
  /** Handshakes that may be admitted now (fractional while refilling). */
  tokens: number;
  /** Refused agents booked for a later slot, not yet drained. */
  backlog: number;
  /** When `tokens` and `backlog` were last brought up to date. */
  atMs: number;
}

export type AdmissionDecision =
  | { admit: true; state: AdmissionState }
  | { admit: false; retryAfterMs: number; state: AdmissionState };

/** Handshakes admitted per second by default: what one controller on 2 cores verifies with its loop still answering. */
export const DEFAULT_ADMISSION_RATE_PER_SECOND = 2_000;
/** Default bucket: a fifth of a second's worth. */
export const DEFAULT_ADMISSION_BURST = 400;
/** Default cap of a retry-after. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 30_000;
/** The shortest retry-after handed out, so a refused agent does not come straight back. */
export const MIN_RETRY_AFTER_MS = 50;

/** A full bucket and an empty backlog at `nowMs`. */
export function initialAdmission(rate: AdmissionRate, nowMs: number): AdmissionState {
  return { tokens: rate.burst, backlog: 0, atMs: nowMs };
}

/**
 * Admits a handshake at `nowMs` when a token is left, else books it at the end of the backlog and answers
 * how long to wait: the backlog's length at the admission rate (at least MIN_RETRY_AFTER_MS, at most
 * `maxRetryAfterMs`). With `perSecond` 0 everything is admitted.
 */
export function decideAdmission(
  state: AdmissionState,
  nowMs: number,
  rate: AdmissionRate,
): AdmissionDecision {
  if (rate.perSecond <= 0) return { admit: true, state };
  // A clock that stepped back refills nothing rather than draining.
  const elapsedMs = Math.max(0, nowMs - state.atMs);
  const refill = (elapsedMs * rate.perSecond) / 1000;
  const tokens = Math.min(rate.burst, state.tokens + refill);
  const backlog = Math.max(0, state.backlog - refill);
  if (tokens >= 1) return { admit: true, state: { tokens: tokens - 1, backlog, atMs: nowMs } };
  return book({ tokens, backlog, atMs: nowMs }, rate);
}

/**
 * Books a handshake refused for another reason (too many already authenticating) into the same backlog, so
 * it too gets a later slot, spread at the admission rate (at DEFAULT_ADMISSION_RATE_PER_SECOND when pacing
 * is off): not one fixed retry-after that brings every refused agent back in the same instant.
 */
export function deferAdmission(
  state: AdmissionState,
  nowMs: number,
  rate: AdmissionRate,
): { retryAfterMs: number; state: AdmissionState } {
  const paced = rate.perSecond > 0 ? rate : { ...rate, perSecond: DEFAULT_ADMISSION_RATE_PER_SECOND };
  const elapsedMs = Math.max(0, nowMs - state.atMs);
  const refill = (elapsedMs * paced.perSecond) / 1000;
  const tokens = Math.min(paced.burst, state.tokens + refill);
  const backlog = Math.max(0, state.backlog - refill);
  const { retryAfterMs, state: next } = book({ tokens, backlog, atMs: nowMs }, paced);
  return { retryAfterMs, state: next };
}

/** Books one more at the end of the backlog: its retry-after is the backlog's length at the rate. */
function book(
  state: AdmissionState,
  rate: AdmissionRate,
): { admit: false; retryAfterMs: number; state: AdmissionState } {
  const booked = state.backlog + 1;
  const retryAfterMs = Math.min(
    rate.maxRetryAfterMs,
    Math.max(MIN_RETRY_AFTER_MS, Math.ceil((booked * 1000) / rate.perSecond)),
  );
  // Past the cap more bookings only lengthen a queue nobody is told about.
  const cappedBacklog = Math.min(booked, (rate.maxRetryAfterMs * rate.perSecond) / 1000);
  return { admit: false, retryAfterMs, state: { ...state, backlog: cappedBacklog } };
}

/** The bucket with its state, for the hub: one call per upgrade. */
export class AdmissionGate {
  private state: AdmissionState;

  constructor(
    private readonly rate: AdmissionRate,
    private readonly now: () => number,
  ) {
    this.state = initialAdmission(rate, now());
  }

  /** True when pacing is on. */
  get paced(): boolean {
    return this.rate.perSecond > 0;
  }

  /** Books a handshake refused for another reason into the backlog; its retry-after in ms. */
  defer(): number {
    const decision = deferAdmission(this.state, this.now(), this.rate);
    this.state = decision.state;
    return decision.retryAfterMs;
  }

  /** Admits now, or answers the retry-after in ms. */
  tryAdmit(): { admit: true } | { admit: false; retryAfterMs: number } {
    const decision = decideAdmission(this.state, this.now(), this.rate);
    this.state = decision.state;
    return decision.admit ? { admit: true } : { admit: false, retryAfterMs: decision.retryAfterMs };
  }
}
