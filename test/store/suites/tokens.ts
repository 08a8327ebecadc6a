/** Conformance: named API tokens (hash lookup, revocation, last use) and audit queries by actor and time. */
import { describe, expect, it } from 'vitest';
import { InvalidQueryError, InvalidRecordError } from '../../../src/store/errors.js';
import type { TokenRecord } from '../../../src/store/types.js';
import type { StoreContext } from '../backends.js';
import { at, audit } from '../fixtures.js';

function token(name: string, extra: Partial<TokenRecord> = {}): TokenRecord {
  return {
    name,
    role: 'operator',
    hash: 'f'.repeat(64),
    createdAt: at(1),
    createdBy: 'admin',
    ...extra,
  };
}

export function tokenSuite(ctx: StoreContext): void {
  describe('tokens', () => {
    it('finds a token by the hash of its secret when it was put', async () => {
      const store = await ctx.store();
      const t = token('ci', { hash: 'ab'.repeat(32) });
      await store.putToken(t);
      expect(await store.findTokenByHash('ab'.repeat(32))).toStrictEqual(t);
      expect(await store.findTokenByHash('cd'.repeat(32))).toBeUndefined();
      expect(await store.getToken('ci')).toStrictEqual(t);
    });

    it('keeps the GSE app code of a token when it has one', async () => {
      const store = await ctx.store();
      const t = token('bk-monitor', { hash: 'ad'.repeat(32), appCode: 'bk_monitorv3' });
      await store.putToken(t);
      expect(await store.findTokenByHash('ad'.repeat(32))).toStrictEqual(t);
      await store.revokeToken('bk-monitor', at(4));
      expect((await store.getToken('bk-monitor'))?.appCode).toBe('bk_monitorv3');
      expect((await store.listTokens()).map((x) => x.appCode)).toEqual(['bk_monitorv3']);
    });

    it('lists tokens by name with revoked ones when several exist', async () => {
      const store = await ctx.store();
      const hashes: Record<string, string> = {
        zed: 'e'.repeat(64),
        alice: 'a'.repeat(64),
        bob: 'b'.repeat(64),
      };
      for (const [n, hash] of Object.entries(hashes)) await store.putToken(token(n, { hash }));
      await store.revokeToken('bob', at(5));
      const list = await store.listTokens();
      expect(list.map((t) => [t.name, t.revokedAt])).toEqual([
        ['alice', undefined],
        ['bob', at(5)],
        ['zed', undefined],
      ]);
    });

    it('keeps the first revokedAt when a token is revoked twice, and says false for an unknown name', async () => {
      const store = await ctx.store();
      await store.putToken(token('ci', { hash: 'c'.repeat(64) }));
      expect(await store.revokeToken('ci', at(2))).toBe(true);
      expect(await store.revokeToken('ci', at(3))).toBe(true);
      expect((await store.findTokenByHash('c'.repeat(64)))?.revokedAt).toBe(at(2));
      expect(await store.revokeToken('nobody', at(2))).toBe(false);
    });

    it('moves the hash index when a revoked name is created again with a new secret', async () => {
      const store = await ctx.store();
      await store.putToken(token('ci', { hash: 'a'.repeat(64) }));
      await store.revokeToken('ci', at(2));
      await store.putToken(token('ci', { hash: 'b'.repeat(64), createdAt: at(3) }));
      expect(await store.findTokenByHash('a'.repeat(64))).toBeUndefined();
      expect((await store.findTokenByHash('b'.repeat(64)))?.revokedAt).toBeUndefined();
    });

    it('records lastUsedAt when a token is used', async () => {
      const store = await ctx.store();
      await store.putToken(token('ci', { hash: 'a'.repeat(64) }));
      await store.markTokenUsed('ci', at(7));
      await store.markTokenUsed('nobody', at(7));
      expect((await store.getToken('ci'))?.lastUsedAt).toBe(at(7));
      expect(await store.getToken('nobody')).toBeUndefined();
    });

    it('refuses a token whose hash is not a sha256 hex digest', async () => {
      const store = await ctx.store();
      await expect(store.putToken(token('ci', { hash: 'plain-secret' }))).rejects.toThrow(InvalidRecordError);
      await expect(store.putToken(token('ci', { hash: 'plain-secret' }))).rejects.toThrow(
        'token.hash: must be a sha256 hex digest',
      );
    });
  });

  describe('audit queries', () => {
    it('filters by actor and since when both are given', async () => {
      const store = await ctx.store();
      for (let i = 1; i <= 6; i++) {
        await store.appendAudit(audit(i, { actor: i % 2 === 0 ? 'ci' : 'alice', status: 200 }));
      }
      const page = await store.listAudit({ actor: 'ci', since: at(3) });
      expect(page.items.map((a) => a.id)).toEqual(['audit-0006', 'audit-0004']);
      expect(page.items[0]?.status).toBe(200);
      expect((await store.listAudit({ actor: 'nobody' })).items).toEqual([]);
    });

    it('pages through one actor when the filter spans pages', async () => {
      const store = await ctx.store();
      for (let i = 1; i <= 5; i++) await store.appendAudit(audit(i, { actor: 'ci' }));
      await store.appendAudit(audit(6, { actor: 'alice' }));
      const first = await store.listAudit({ actor: 'ci', limit: 3 });
      expect(first.items.map((a) => a.id)).toEqual(['audit-0005', 'audit-0004', 'audit-0003']);
      const second = await store.listAudit({ actor: 'ci', limit: 3, cursor: first.nextCursor });
      expect(second.items.map((a) => a.id)).toEqual(['audit-0002', 'audit-0001']);
      expect(second.nextCursor).toBeUndefined();
    });

    it('refuses a since that is not a time', async () => {
      const store = await ctx.store();
      await expect(store.listAudit({ since: 'yesterday' })).rejects.toThrow(InvalidQueryError);
    });
  });
}
