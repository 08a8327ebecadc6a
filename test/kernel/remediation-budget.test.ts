import { describe, expect, it } from 'vitest';
import { type BudgetLimits, type BudgetState, decideBudget, HOUR_MS } from '../../src/kernel/index.js';

const T = Date.UTC(2026, 0, 1);
const limits: BudgetLimits = { cooldownMs: 60_000, maxPerHour: 3, maxConcurrent: 1, dryRun: false };

describe('decideBudget', () => {
  const cases: Array<{
    name: string;
    limits?: Partial<BudgetLimits>;
    state: BudgetState;
    running?: number;
    now: number;
    decision: string;
    starts: number[];
  }> = [
    {
      name: 'runs the first time',
      state: { lastStartAt: 0, starts: [] },
      now: T,
      decision: 'ran',
      starts: [T],
    },
    {
      name: 'skips in cooldown',
      state: { lastStartAt: T, starts: [T] },
      now: T + 59_999,
      decision: 'cooldown',
      starts: [T],
    },
    {
      name: 'runs once the cooldown is over',
      state: { lastStartAt: T, starts: [T] },
      now: T + 60_000,
      decision: 'ran',
      starts: [T, T + 60_000],
    },
    {
      name: 'skips when the hourly budget is used',
      state: { lastStartAt: T + 2 * 60_000, starts: [T, T + 60_000, T + 2 * 60_000] },
      now: T + 10 * 60_000,
      decision: 'budget',
      starts: [T, T + 60_000, T + 2 * 60_000],
    },
    {
      name: 'forgets starts older than an hour',
      state: { lastStartAt: T + 2 * 60_000, starts: [T, T + 60_000, T + 2 * 60_000] },
      now: T + HOUR_MS,
      decision: 'ran',
      starts: [T + 60_000, T + 2 * 60_000, T + HOUR_MS],
    },
    {
      name: 'skips at the concurrency limit before anything else',
      state: { lastStartAt: 0, starts: [] },
      running: 1,
      now: T,
      decision: 'concurrency',
      starts: [],
    },
    {
      name: 'allows up to maxConcurrent at once',
      limits: { maxConcurrent: 2, cooldownMs: 0 },
      state: { lastStartAt: T, starts: [T] },
      running: 1,
      now: T + 1,
      decision: 'ran',
      starts: [T, T + 1],
    },
    {
      name: 'a dry run counts as a start',
      limits: { dryRun: true },
      state: { lastStartAt: 0, starts: [] },
      now: T,
      decision: 'dryRun',
      starts: [T],
    },
    {
      name: 'a dry run obeys the cooldown too',
      limits: { dryRun: true },
      state: { lastStartAt: T, starts: [T] },
      now: T + 1,
      decision: 'cooldown',
      starts: [T],
    },
  ];
  it.each(cases)('$name', (c) => {
    const v = decideBudget({ ...limits, ...c.limits }, c.state, c.running ?? 0, c.now);
    expect(v.decision).toBe(c.decision);
    expect(v.next.starts).toEqual(c.starts);
    if (c.decision === 'ran' || c.decision === 'dryRun') expect(v.next.lastStartAt).toBe(c.now);
    else expect(v.detail).toMatch(/\d/);
  });
});
