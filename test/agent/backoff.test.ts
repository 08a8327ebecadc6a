import { describe, expect, it } from 'vitest';
import {
  BASE_RECONNECT_DELAY_MS,
  MAX_RECONNECT_DELAY_MS,
  nextReconnectDelayMs,
  RESTART_RETRY_STEP_MS,
  RESTART_RETRY_WINDOW_MS,
  reconnectDelayMs,
} from '../../agent/backoff.js';

describe('reconnectDelayMs', () => {
  it('doubles from the base up to the cap when jitter is at its top', () => {
    const top = () => 0.999999;
    const delays = Array.from({ length: 10 }, (_, i) => reconnectDelayMs(i, top));
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
  });

  it('never goes below half the step when jitter is at its bottom', () => {
    expect(reconnectDelayMs(0, () => 0)).toBe(BASE_RECONNECT_DELAY_MS / 2);
    expect(reconnectDelayMs(50, () => 0)).toBe(MAX_RECONNECT_DELAY_MS / 2);
  });

  it('spreads a fleet over the window instead of one instant', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const delays = Array.from({ length: 1000 }, () => reconnectDelayMs(4, random));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(4000);
    expect(Math.max(...delays)).toBeLessThan(8000);
    // 1,000 agents land on at least 800 distinct milliseconds of the 4 s window.
    expect(new Set(delays).size).toBeGreaterThan(800);
  });
});

describe('nextReconnectDelayMs', () => {
  const top = () => 0.999999;
  it.each([
    ['exponential backoff with nothing else known', { attempt: 3 }, 4000],
    ['the controller retry-after over the backoff', { attempt: 3, retryAfterMs: 1000 }, 1100],
    [
      'the retry-after over a going-away close too',
      { attempt: 0, retryAfterMs: 2000, sinceGoingAwayMs: 10 },
      2200,
    ],
    ['the restart step while the controller is expected back', { attempt: 6, sinceGoingAwayMs: 5_000 }, 1000],
    [
      'the restart step at the window end minus 1 ms',
      { attempt: 20, sinceGoingAwayMs: RESTART_RETRY_WINDOW_MS - 1 },
      1000,
    ],
    [
      'the backoff again once the window is over',
      { attempt: 20, sinceGoingAwayMs: RESTART_RETRY_WINDOW_MS },
      30000,
    ],
  ])('takes %s', (_what, wait, expected) => {
    expect(nextReconnectDelayMs(wait, top)).toBe(expected);
  });

  it('keeps the restart step jittered over its upper half, so a fleet does not return in step', () => {
    expect(nextReconnectDelayMs({ attempt: 9, sinceGoingAwayMs: 0 }, () => 0)).toBe(
      RESTART_RETRY_STEP_MS / 2,
    );
  });
});
