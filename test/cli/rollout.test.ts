import { describe, expect, it } from 'vitest';
import { progressBar } from '../../src/cli/progress.js';

describe('gsectl rollout progressBar', () => {
  it.each([
    { done: 0, total: 5, want: `[${'.'.repeat(30)}] 0/5` },
    { done: 2, total: 5, want: `[${'#'.repeat(12)}${'.'.repeat(18)}] 2/5` },
    { done: 5, total: 5, want: `[${'#'.repeat(30)}] 5/5` },
  ])('draws $done of $total', ({ done, total, want }) => {
    expect(progressBar(done, total)).toBe(want);
  });
});
