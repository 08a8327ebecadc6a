import { describe, expect, it } from 'vitest';
import {
  decideLease,
  LEASE_SAFETY_FRACTION,
  type LeaseRead,
  type LeaseView,
  leadsAt,
  NO_LEASE,
} from '../../src/cluster/lease-decision.js';

const TTL = 5_000;
const SAFETY = TTL * LEASE_SAFETY_FRACTION;
const leader = (token: number, validUntil: number): LeaseView => ({
  role: 'leader',
  token,
  holder: 'a',
  validUntil,
});
const read = (holder: string, token: number, ttlMs = TTL): LeaseRead => ({ holder, token, ttlMs });

describe('decideLease', () => {
  const cases: Array<{
    name: string;
    sentAt: number;
    now: number;
    reply: LeaseRead | undefined;
    previous: LeaseView;
    role: 'leader' | 'follower';
    change: 'elected' | 'deposed' | undefined;
    token?: number;
    validUntil?: number;
  }> = [
    {
      name: 'takes a free lease: elected with the new token, valid from when the attempt was sent',
      sentAt: 1_000,
      now: 1_010,
      reply: read('a', 7),
      previous: NO_LEASE,
      role: 'leader',
      change: 'elected',
      token: 7,
      validUntil: 1_000 + TTL - SAFETY,
    },
    {
      name: 'renews its own lease: still leader, no change, validity moves on',
      sentAt: 2_000,
      now: 2_005,
      reply: read('a', 7),
      previous: leader(7, 1_000 + TTL - SAFETY),
      role: 'leader',
      change: undefined,
      token: 7,
      validUntil: 2_000 + TTL - SAFETY,
    },
    {
      name: 'follows when another replica holds the lease',
      sentAt: 1_000,
      now: 1_002,
      reply: read('b', 8),
      previous: NO_LEASE,
      role: 'follower',
      change: undefined,
      token: 8,
    },
    {
      name: 'is deposed when another replica took the lease (it was paused past its lease)',
      sentAt: 20_000,
      now: 20_003,
      reply: read('b', 8),
      previous: leader(7, 5_500),
      role: 'follower',
      change: 'deposed',
      token: 8,
    },
    {
      name: 'keeps leading through a Redis error while its lease lasts',
      sentAt: 3_000,
      now: 3_100,
      reply: undefined,
      previous: leader(7, 5_500),
      role: 'leader',
      change: undefined,
      token: 7,
      validUntil: 5_500,
    },
    {
      name: 'steps down on a Redis error once its lease would have ended',
      sentAt: 5_400,
      now: 5_600,
      reply: undefined,
      previous: leader(7, 5_500),
      role: 'follower',
      change: 'deposed',
    },
    {
      name: 'does not lead on a reply that came back after the lease it grants had ended',
      sentAt: 1_000,
      now: 1_000 + TTL,
      reply: read('a', 9),
      previous: NO_LEASE,
      role: 'follower',
      change: undefined,
    },
    {
      name: 'is elected again when it won a new token without noticing the loss',
      sentAt: 4_000,
      now: 4_001,
      reply: read('a', 9),
      previous: leader(7, 5_500),
      role: 'leader',
      change: 'elected',
      token: 9,
    },
  ];
  it.each(cases)('$name', (c) => {
    const { view, change } = decideLease({
      me: 'a',
      sentAt: c.sentAt,
      now: c.now,
      reply: c.reply,
      previous: c.previous,
    });
    expect(view.role).toBe(c.role);
    expect(change).toBe(c.change);
    if (c.token !== undefined) expect(view.token).toBe(c.token);
    if (c.validUntil !== undefined) expect(view.validUntil).toBe(c.validUntil);
    expect(leadsAt(view, c.now)).toBe(c.role === 'leader');
  });

  it('a leader stops leading at validUntil even without another attempt', () => {
    const view = leader(7, 5_500);
    expect(leadsAt(view, 5_499)).toBe(true);
    expect(leadsAt(view, 5_500)).toBe(false);
  });
});
