/** TokenAuthenticator, pure: flag tokens, named tokens from a lookup, revocation, and the lastUsedAt throttle. */
import { describe, expect, it } from 'vitest';
import { generateToken, hashToken, LAST_USED_RESOLUTION_MS, TokenAuthenticator } from '../../src/api/auth.js';
import type { TokenRecord } from '../../src/store/types.js';

const T0 = Date.parse('2024-05-01T00:00:00.000Z');

function lookup(records: TokenRecord[]) {
  const used: Array<[string, string]> = [];
  return {
    used,
    findTokenByHash: async (hash: string) => records.find((r) => r.hash === hash),
    markTokenUsed: async (name: string, at: string) => {
      used.push([name, at]);
    },
  };
}

describe('TokenAuthenticator', () => {
  const secret = generateToken();
  const named: TokenRecord = {
    name: 'ci',
    role: 'operator',
    hash: hashToken(secret),
    createdAt: new Date(T0).toISOString(),
    createdBy: 'admin',
  };

  it('finds a flag token before the store when both could answer', async () => {
    const auth = new TokenAuthenticator(
      [{ name: 'admin', role: 'admin', hash: hashToken('flag-admin') }],
      lookup([]),
    );
    expect(await auth.authenticate('Bearer flag-admin')).toEqual({
      ok: true,
      actor: { name: 'admin', role: 'admin' },
    });
  });

  it('answers missing, unknown or revoked when the header or token is not usable', async () => {
    const store = lookup([
      named,
      { ...named, name: 'old', hash: hashToken('old-secret'), revokedAt: new Date(T0).toISOString() },
    ]);
    const auth = new TokenAuthenticator([], store);
    expect(await auth.authenticate(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(await auth.authenticate('Basic abc')).toEqual({ ok: false, reason: 'missing' });
    expect(await auth.authenticate('Bearer nope')).toEqual({ ok: false, reason: 'unknown' });
    expect(await auth.authenticate('Bearer old-secret')).toEqual({
      ok: false,
      reason: 'revoked',
      name: 'old',
    });
    expect(await auth.authenticate(`Bearer ${secret}`)).toEqual({
      ok: true,
      actor: { name: 'ci', role: 'operator' },
    });
  });

  it('writes lastUsedAt only when the last write is older than the resolution', async () => {
    const store = lookup([
      named,
      { ...named, name: 'fresh', hash: hashToken('fresh'), lastUsedAt: new Date(T0).toISOString() },
    ]);
    const auth = new TokenAuthenticator(
      [],
      store,
      () => {},
      () => T0 + LAST_USED_RESOLUTION_MS / 2,
    );
    await auth.authenticate(`Bearer ${secret}`);
    await auth.authenticate('Bearer fresh');
    expect(store.used).toEqual([['ci', new Date(T0 + LAST_USED_RESOLUTION_MS / 2).toISOString()]]);
  });

  it('generates distinct 256-bit tokens with a recognisable prefix', () => {
    const a = generateToken();
    expect(a).toMatch(/^gse_[A-Za-z0-9_-]{43}$/);
    expect(generateToken()).not.toBe(a);
  });
});
