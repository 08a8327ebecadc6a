/** CoalescedRun: a burst of triggers is one run; a trigger during a run is one more run after it. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CoalescedRun } from '../../src/cluster/coalesced-run.js';

describe('CoalescedRun', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs once for triggers made while it waits', async () => {
    let runs = 0;
    const run = new CoalescedRun(
      async () => void runs++,
      100,
      () => {},
    );
    run.trigger();
    run.trigger();
    await vi.advanceTimersByTimeAsync(99);
    run.trigger();
    expect(runs).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(runs).toBe(1);
  });

  it('runs once more after a run during which it was triggered, however often', async () => {
    let runs = 0;
    let release: () => void = () => {};
    const run = new CoalescedRun(
      () => {
        runs++;
        return new Promise<void>((r) => {
          release = r;
        });
      },
      10,
      () => {},
    );
    run.trigger();
    await vi.advanceTimersByTimeAsync(10);
    expect(runs).toBe(1);
    run.trigger();
    run.trigger();
    release();
    await vi.advanceTimersByTimeAsync(10);
    expect(runs).toBe(2);
    release();
    await vi.advanceTimersByTimeAsync(100);
    expect(runs).toBe(2);
  });

  it('tells a failed run and runs again at the next trigger', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const run = new CoalescedRun(
      async () => {
        runs++;
        throw new Error('redis down');
      },
      10,
      (err) => errors.push(err),
    );
    run.trigger();
    await vi.advanceTimersByTimeAsync(10);
    run.trigger();
    await vi.advanceTimersByTimeAsync(10);
    expect(runs).toBe(2);
    expect(errors.map((e) => (e as Error).message)).toEqual(['redis down', 'redis down']);
  });

  it('runs no more once stopped, and stop waits for the run in progress', async () => {
    let runs = 0;
    let done = false;
    const run = new CoalescedRun(
      async () => {
        runs++;
        await new Promise((r) => setTimeout(r, 50));
        done = true;
      },
      10,
      () => {},
    );
    run.trigger();
    await vi.advanceTimersByTimeAsync(10);
    const stopped = run.stop();
    run.trigger();
    await vi.advanceTimersByTimeAsync(50);
    await stopped;
    expect(done).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    expect(runs).toBe(1);
  });
});
