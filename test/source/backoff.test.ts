import { describe, expect, it } from 'vitest';
import { jitterMs, retryDelayMs } from '../../src/source/backoff.js';

describe('retryDelayMs', () => {
  it('doubles from 1 s and stops at 120 s when failures accumulate', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 100].map(retryDelayMs)).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 120_000, 120_000, 120_000,
    ]);
  });
});

describe('jitterMs', () => {
  it('spreads the delay by at most the ratio either way when random spans [0, 1)', () => {
    expect(jitterMs(15_000, 0.2, () => 0)).toBe(12_000);
    expect(jitterMs(15_000, 0.2, () => 0.5)).toBe(15_000);
    expect(jitterMs(15_000, 0.2, () => 0.999_999)).toBe(18_000);
  });
});
