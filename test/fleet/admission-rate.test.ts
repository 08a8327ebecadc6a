import { describe, expect, it } from 'vitest';
import {
  AdmissionGate,
  type AdmissionRate,
  type AdmissionState,
  DEFAULT_ADMISSION_RATE_PER_SECOND,
  decideAdmission,
  deferAdmission,
  initialAdmission,
  MIN_RETRY_AFTER_MS,
} from '../../src/fleet/admission-rate.js';

const RATE: AdmissionRate = { perSecond: 100, burst: 10, maxRetryAfterMs: 2_000 };

describe('decideAdmission', () => {
  it.each<{
    name: string;
    state: AdmissionState;
    now: number;
    rate?: AdmissionRate;
    admit: boolean;
    retryAfterMs?: number;
    next: AdmissionState;
  }>([
    {
      name: 'admits and spends a token when the bucket is full',
      state: { tokens: 10, backlog: 0, atMs: 0 },
      now: 0,
      admit: true,
      next: { tokens: 9, backlog: 0, atMs: 0 },
    },
    {
      name: 'refuses when empty and books the first slot (no sooner than the minimum)',
      state: { tokens: 0, backlog: 0, atMs: 0 },
      now: 0,
      admit: false,
      retryAfterMs: MIN_RETRY_AFTER_MS,
      next: { tokens: 0, backlog: 1, atMs: 0 },
    },
    {
      name: 'books each refusal one interval after the one before',
      state: { tokens: 0, backlog: 49, atMs: 0 },
      now: 0,
      admit: false,
      retryAfterMs: 500,
      next: { tokens: 0, backlog: 50, atMs: 0 },
    },
    {
      name: 'refills at the rate: 5 ms at 100/s is half a token, still refused',
      state: { tokens: 0.6, backlog: 0, atMs: 0 },
      now: 3,
      admit: false,
      retryAfterMs: MIN_RETRY_AFTER_MS,
      next: { tokens: 0.9, backlog: 1, atMs: 3 },
    },
    {
      name: 'refills at the rate: 10 ms at 100/s is one token',
      state: { tokens: 0, backlog: 0, atMs: 0 },
      now: 10,
      admit: true,
      next: { tokens: 0, backlog: 0, atMs: 10 },
    },
    {
      name: 'never refills above the burst',
      state: { tokens: 0, backlog: 0, atMs: 0 },
      now: 60_000,
      admit: true,
      next: { tokens: 9, backlog: 0, atMs: 60_000 },
    },
    {
      name: 'drains the backlog as time passes',
      state: { tokens: 0, backlog: 30, atMs: 0 },
      now: 100,
      admit: true,
      next: { tokens: 9, backlog: 20, atMs: 100 },
    },
    {
      name: 'caps the retry-after and the backlog at maxRetryAfterMs',
      state: { tokens: 0, backlog: 200, atMs: 0 },
      now: 0,
      admit: false,
      retryAfterMs: 2_000,
      next: { tokens: 0, backlog: 200, atMs: 0 },
    },
    {
      name: 'hands out at least the minimum retry-after at a high rate',
      state: { tokens: 0, backlog: 0, atMs: 0 },
      now: 0,
      rate: { perSecond: 100_000, burst: 10, maxRetryAfterMs: 2_000 },
      admit: false,
      retryAfterMs: MIN_RETRY_AFTER_MS,
      next: { tokens: 0, backlog: 1, atMs: 0 },
    },
    {
      name: 'refills nothing when the clock steps back',
      state: { tokens: 0, backlog: 0, atMs: 1_000 },
      now: 500,
      admit: false,
      retryAfterMs: MIN_RETRY_AFTER_MS,
      next: { tokens: 0, backlog: 1, atMs: 500 },
    },
    {
      name: 'admits everything when pacing is off (rate 0)',
      state: { tokens: 0, backlog: 0, atMs: 0 },
      now: 0,
      rate: { perSecond: 0, burst: 0, maxRetryAfterMs: 2_000 },
      admit: true,
      next: { tokens: 0, backlog: 0, atMs: 0 },
    },
  ])('$name', ({ state, now, rate, admit, retryAfterMs, next }) => {
    const decision = decideAdmission(state, now, rate ?? RATE);
    expect(decision.admit).toBe(admit);
    if (!decision.admit) expect(decision.retryAfterMs).toBe(retryAfterMs);
    expect(decision.state.tokens).toBeCloseTo(next.tokens, 9);
    expect(decision.state.backlog).toBeCloseTo(next.backlog, 9);
    expect(decision.state.atMs).toBe(next.atMs);
  });

  it('starts with a full bucket', () => {
    expect(initialAdmission(RATE, 7)).toEqual({ tokens: 10, backlog: 0, atMs: 7 });
  });
});

describe('AdmissionGate', () => {
  it('lets a storm in at the rate: 1,000 agents that obey their retry-after are all in after about 1000/rate s', () => {
    let now = 0;
    const gate = new AdmissionGate({ perSecond: 200, burst: 20, maxRetryAfterMs: 30_000 }, () => now);
    // Every agent knocks at t=0, then again when its retry-after says, until admitted.
    const due: number[] = Array.from({ length: 1_000 }, () => 0);
    const admittedAt: number[] = [];
    let tries = 0;
    while (due.length > 0) {
      due.sort((a, b) => a - b);
      now = due.shift() as number;
      tries++;
      const d = gate.tryAdmit();
      if (d.admit) admittedAt.push(now);
      else due.push(now + d.retryAfterMs);
    }
    expect(admittedAt).toHaveLength(1_000);
    // 20 at once, the other 980 at 200/s: just under 5 s, and not much later.
    const last = Math.max(...admittedAt);
    expect(last).toBeGreaterThanOrEqual(4_800);
    expect(last).toBeLessThanOrEqual(5_000);
    // Refused agents come back in their booked slot and get in: about two knocks each, not dozens.
    expect(tries).toBeLessThan(2_100);
    // Never more than rate × window + burst in any one second.
    for (let t = 0; t < last; t += 250) {
      const inWindow = admittedAt.filter((a) => a >= t && a < t + 1_000).length;
      expect(inWindow).toBeLessThanOrEqual(200 + 20);
    }
  });

  it('admits at once and reports unpaced when the rate is 0', () => {
    const gate = new AdmissionGate({ perSecond: 0, burst: 0, maxRetryAfterMs: 1 }, () => 0);
    expect(gate.paced).toBe(false);
    for (let i = 0; i < 100; i++) expect(gate.tryAdmit()).toEqual({ admit: true });
  });
});

describe('deferAdmission', () => {
  it('books a handshake refused for another reason into the same backlog, leaving the tokens alone', () => {
    const first = deferAdmission({ tokens: 10, backlog: 49, atMs: 0 }, 0, RATE);
    expect(first).toEqual({ retryAfterMs: 500, state: { tokens: 10, backlog: 50, atMs: 0 } });
    // The next paced refusal queues behind it.
    const next = decideAdmission({ tokens: 0, backlog: 50, atMs: 0 }, 0, RATE);
    expect(next.admit ? undefined : next.retryAfterMs).toBe(510);
  });

  it('spreads refused agents at the default rate when pacing is off, not one fixed instant', () => {
    const off: AdmissionRate = { perSecond: 0, burst: 0, maxRetryAfterMs: 30_000 };
    let state: AdmissionState = { tokens: 0, backlog: 0, atMs: 0 };
    const afters: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const d = deferAdmission(state, 0, off);
      afters.push(d.retryAfterMs);
      state = d.state;
    }
    expect(afters.at(-1)).toBe(Math.ceil((1000 * 1000) / DEFAULT_ADMISSION_RATE_PER_SECOND));
    expect(new Set(afters).size).toBeGreaterThan(400);
  });
});
