/** Conformance: cursors across pages for every listing, limits, and bad cursors or options. */
import { describe, expect, it } from 'vitest';
import { InvalidCursorError, InvalidQueryError } from '../../../src/store/errors.js';
import type { Page, PageOptions, Store } from '../../../src/store/types.js';
import type { StoreContext } from '../backends.js';
import { at, audit, collectPages, drift, execution, host, pad, revision, status } from '../fixtures.js';

const RECORDS = 250;
const PAGE = 100;

/** Several records share each time, so order must also be stable among equal times. */
const tied = (i: number) => at(Math.floor(i / 7));

/** Code-unit order, which for these ASCII ids is the byte order both stores sort by. */
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

interface Listing {
  name: string;
  newestFirst: boolean;
  seed(store: Store, i: number): Promise<void>;
  list(store: Store, options: PageOptions): Promise<Page<{ id: string; time: string }>>;
}

async function mapPage<T>(page: Promise<Page<T>>, f: (item: T) => { id: string; time: string }) {
  const { items, nextCursor } = await page;
  return { items: items.map(f), nextCursor };
}

const LISTINGS: Listing[] = [
  {
    name: 'executions',
    newestFirst: true,
    seed: (s, i) => s.putExecution(execution(i, { hostId: `h${i % 3}`, startedAt: tied(i) })),
    list: (s, o) => mapPage(s.listExecutions(o), (e) => ({ id: `${e.hostId}/${e.id}`, time: e.startedAt })),
  },
  {
    name: 'drift',
    newestFirst: true,
    seed: (s, i) => s.putDrift(drift(i, { detectedAt: tied(i) })),
    list: (s, o) => mapPage(s.listDrift(o), (d) => ({ id: d.id, time: d.detectedAt })),
  },
  {
    name: 'revisions',
    newestFirst: true,
    seed: (s, i) => s.putRevision(revision(i, { seenAt: tied(i) })),
    list: (s, o) => mapPage(s.listRevisions(o), (r) => ({ id: r.sha, time: r.seenAt })),
  },
  {
    name: 'audit',
    newestFirst: true,
    seed: (s, i) => s.appendAudit(audit(i, { at: tied(i) })),
    list: (s, o) => mapPage(s.listAudit(o), (a) => ({ id: a.id, time: a.at })),
  },
  {
    name: 'hosts',
    newestFirst: false,
    seed: (s, i) => s.upsertHost(host(i)),
    list: (s, o) => mapPage(s.listHosts(o), (h) => ({ id: h.hostId, time: '' })),
  },
  {
    name: 'resource statuses',
    newestFirst: false,
    seed: (s, i) =>
      s.putResourceStatuses(`h${pad(i)}`, [status(`h${pad(i)}`, 'a'), status(`h${pad(i)}`, 'b')]),
    list: (s, o) => mapPage(s.listResourceStatuses(o), (r) => ({ id: `${r.hostId}/${r.key}`, time: '' })),
  },
];

export function pagingSuite(ctx: StoreContext): void {
  describe('pagination', () => {
    it.each(LISTINGS)('returns every $name record once in order when read in pages', async (listing) => {
      const store = await ctx.store();
      for (let i = RECORDS; i >= 1; i--) await listing.seed(store, i);
      const { items, pages } = await collectPages((cursor) => listing.list(store, { limit: PAGE, cursor }));
      const total = listing.name === 'resource statuses' ? 2 * RECORDS : RECORDS;
      expect(pages.slice(0, 2)).toEqual([PAGE, PAGE]);
      expect(pages.reduce((a, b) => a + b, 0)).toBe(total);
      const ids = items.map((item) => item.id);
      expect(new Set(ids).size).toBe(total);
      const byTimeThenId = [...items].sort((a, b) => compare(a.time, b.time) || compare(a.id, b.id));
      const expected = listing.newestFirst ? byTimeThenId.reverse() : byTimeThenId;
      expect(ids).toEqual(expected.map((item) => item.id));
    });

    it('pages through a filtered listing without gaps when most records do not match', async () => {
      const store = await ctx.store();
      for (let i = 1; i <= 2 * RECORDS; i++) {
        await store.putExecution(execution(i, { hostId: i % 2 === 0 ? 'even' : 'odd', startedAt: tied(i) }));
      }
      const { items } = await collectPages((cursor) =>
        store.listExecutions({ hostId: 'even', status: 'succeeded', limit: PAGE, cursor }),
      );
      expect(items.map((e) => e.id)).toEqual(
        Array.from({ length: RECORDS }, (_, k) => `task-${pad(2 * RECORDS - 2 * k)}`),
      );
    });

    it('neither repeats nor skips when newer records arrive between pages', async () => {
      const store = await ctx.store();
      for (let i = 1; i <= 5; i++) await store.appendAudit(audit(i));
      const first = await store.listAudit({ limit: 2 });
      await store.appendAudit(audit(9));
      const rest = await collectPages((cursor) =>
        store.listAudit({ limit: 2, cursor: cursor ?? first.nextCursor }),
      );
      expect([...first.items, ...rest.items].map((a) => a.id)).toEqual([
        'audit-0005',
        'audit-0004',
        'audit-0003',
        'audit-0002',
        'audit-0001',
      ]);
    });

    it('returns 100 items by default and at most 1000 when a larger limit is asked', async () => {
      const store = await ctx.store();
      for (let i = 1; i <= 1_001; i++) await store.appendAudit(audit(i));
      expect((await store.listAudit()).items).toHaveLength(100);
      const big = await store.listAudit({ limit: 5_000 });
      expect(big.items).toHaveLength(1_000);
      expect((await store.listAudit({ cursor: big.nextCursor })).items.map((a) => a.id)).toEqual([
        'audit-0001',
      ]);
    });

    it('rejects a cursor when it is garbage or from another listing', async () => {
      const store = await ctx.store();
      for (let i = 1; i <= 3; i++) await store.appendAudit(audit(i));
      const { nextCursor } = await store.listAudit({ limit: 1 });
      await expect(store.listAudit({ cursor: 'not-a-cursor' })).rejects.toThrow(InvalidCursorError);
      await expect(store.listDrift({ cursor: nextCursor })).rejects.toThrow(InvalidCursorError);
    });

    it.each([
      { name: 'a zero limit', query: { limit: 0 } },
      { name: 'a fractional limit', query: { limit: 1.5 } },
      { name: 'a since that is not a time', query: { since: 'yesterday' } },
    ])('rejects the query when given $name', async ({ query }) => {
      const store = await ctx.store();
      await expect(store.listExecutions(query)).rejects.toThrow(InvalidQueryError);
    });
  });
}
