import { describe, expect, it } from 'vitest';
import { type LostSweepInput, type RaisedLost, sweepLostHosts } from '../../src/controller/lost-hosts.js';

const T = Date.UTC(2026, 0, 1);
const rule = (key: string, graceMs: number, hosts?: string[]) => ({
  key,
  graceMs,
  selects: (id: string) => !hosts || hosts.includes(id),
});

function sweep(over: Partial<LostSweepInput>) {
  return sweepLostHosts({
    hosts: [],
    rules: [],
    now: T,
    startedAt: 0,
    defaultGraceMs: 60_000,
    raised: {},
    ...over,
  });
}

describe('sweepLostHosts', () => {
  it('does not raise a host overdue for less than the grace', () => {
    const r = sweep({
      hosts: [{ hostId: 'a', overdue: true, lastSeenMs: T - 59_999 }],
      rules: [rule('R', 60_000)],
    });
    expect(r).toEqual({ lost: [], returned: [], fire: [], raised: {} });
  });

  it('raises agent.lost once past the grace and fires the rule once', () => {
    const hosts = [{ hostId: 'a', overdue: true, lastSeenMs: T - 60_000 }];
    const first = sweep({ hosts, rules: [rule('R', 60_000)] });
    expect(first.lost).toEqual(['a']);
    expect(first.fire).toEqual([{ hostId: 'a', ruleKey: 'R' }]);
    const second = sweep({ hosts, rules: [rule('R', 60_000)], now: T + 30_000, raised: first.raised });
    expect(second).toMatchObject({ lost: [], fire: [], returned: [] });
    expect(second.raised).toEqual(first.raised);
  });

  it('raises agent.start once when a lost host comes back, and forgets it', () => {
    const raised: RaisedLost = { a: { lastSeenMs: T - 90_000, fired: ['R'] } };
    const r = sweep({
      hosts: [{ hostId: 'a', overdue: false, lastSeenMs: T }],
      rules: [rule('R', 1)],
      raised,
    });
    expect(r).toEqual({ lost: [], returned: ['a'], fire: [], raised: {} });
  });

  it('raises the event for a host no rule selects (default grace) and fires nothing', () => {
    const r = sweep({
      hosts: [{ hostId: 'b', overdue: true, lastSeenMs: T - 60_000 }],
      rules: [rule('R', 1_000, ['a'])],
    });
    expect(r.lost).toEqual(['b']);
    expect(r.fire).toEqual([]);
  });

  it('fires each rule at its own grace: the shortest raises the event', () => {
    const rules = [rule('fast', 10_000), rule('slow', 120_000)];
    const hosts = [{ hostId: 'a', overdue: true, lastSeenMs: T - 10_000 }];
    const first = sweep({ hosts, rules });
    expect(first.lost).toEqual(['a']);
    expect(first.fire).toEqual([{ hostId: 'a', ruleKey: 'fast' }]);
    const later = sweep({ hosts, rules, now: T + 110_000, raised: first.raised });
    expect(later.lost).toEqual([]);
    expect(later.fire).toEqual([{ hostId: 'a', ruleKey: 'slow' }]);
  });

  it('does not count silence from before the controller started', () => {
    const hosts = [{ hostId: 'a', overdue: true, lastSeenMs: T - 3_600_000 }];
    expect(sweep({ hosts, rules: [rule('R', 60_000)], startedAt: T - 1_000 }).lost).toEqual([]);
    expect(sweep({ hosts, rules: [rule('R', 60_000)], startedAt: T - 60_000 }).lost).toEqual(['a']);
  });

  it('does not fire a rule a commit removed, and drops hosts no longer known', () => {
    const raised: RaisedLost = {
      a: { lastSeenMs: T - 90_000, fired: [] },
      gone: { lastSeenMs: 0, fired: [] },
    };
    const r = sweep({ hosts: [{ hostId: 'a', overdue: true, lastSeenMs: T - 90_000 }], rules: [], raised });
    expect(r.fire).toEqual([]);
    expect(Object.keys(r.raised)).toEqual(['a']);
  });

  it('leaves connected, heard-from hosts alone', () => {
    expect(sweep({ hosts: [{ hostId: 'a', overdue: false, lastSeenMs: 0 }], rules: [rule('R', 1)] })).toEqual(
      {
        lost: [],
        returned: [],
        fire: [],
        raised: {},
      },
    );
  });
});
