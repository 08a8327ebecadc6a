import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CONTROL_HOLD_MAX_MS, ControlPriority } from '../../agent/control-priority.js';

describe('ControlPriority', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds from the first begin until the last end, telling listeners at both edges', () => {
    const p = new ControlPriority();
    const seen: boolean[] = [];
    p.onChange(() => seen.push(p.holding));
    expect(p.holding).toBe(false);
    const endA = p.begin();
    const endB = p.begin();
    expect(p.holding).toBe(true);
    endA();
    endA(); // a second call of the same end changes nothing
    expect(p.holding).toBe(true);
    endB();
    expect(p.holding).toBe(false);
    expect(seen).toEqual([true, false]);
  });

  it('stops holding at the cap when control work runs longer, and does not hold again until it ends', () => {
    const p = new ControlPriority();
    const seen: boolean[] = [];
    p.onChange(() => seen.push(p.holding));
    const end = p.begin();
    vi.advanceTimersByTime(CONTROL_HOLD_MAX_MS - 1);
    expect(p.holding).toBe(true);
    vi.advanceTimersByTime(1);
    expect(p.holding).toBe(false);
    const endOther = p.begin(); // overlapping work does not restart a hold that ran out
    expect(p.holding).toBe(false);
    endOther();
    end();
    expect(seen).toEqual([true, false]);
    p.begin();
    expect(p.holding).toBe(true);
  });
});
