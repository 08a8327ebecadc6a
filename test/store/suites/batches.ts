/** Conformance: batch writes (many hosts' records and statuses at once, many drift records at once). */
import { describe, expect, it } from 'vitest';
import { InvalidRecordError } from '../../../src/store/errors.js';
import type { StoreContext } from '../backends.js';
import { at, drift, host, status } from '../fixtures.js';

export function batchSuite(ctx: StoreContext): void {
  describe('putHostStates', () => {
    it('writes every host with its statuses when many are put at once', async () => {
      const store = await ctx.store();
      await store.putHostStates([
        { host: host(1, { labels: { role: 'web' } }), statuses: [status('host-0001', 'a')] },
        {
          host: host(2, { labels: { role: 'db' }, syncState: 'Failed' }),
          statuses: [status('host-0002', 'a'), status('host-0002', 'b')],
        },
        { host: host(3), statuses: [] },
      ]);
      expect(await store.getHost('host-0002')).toStrictEqual(
        host(2, { labels: { role: 'db' }, syncState: 'Failed' }),
      );
      expect((await store.listHosts({ labels: { role: 'web' } })).items.map((h) => h.hostId)).toEqual([
        'host-0001',
      ]);
      expect((await store.countHostsBySyncState()).Failed).toBe(1);
      const keys = (await store.listResourceStatuses({})).items.map((s) => `${s.hostId}:${s.key}`);
      expect(keys).toEqual(['host-0001:ConfigFile/a', 'host-0002:ConfigFile/a', 'host-0002:ConfigFile/b']);
    });

    it('keeps firstSeen and replaces each host status set when hosts are put again', async () => {
      const store = await ctx.store();
      await store.upsertHost(host(1, { firstSeen: at(1) }));
      await store.putResourceStatuses('host-0001', [status('host-0001', 'a'), status('host-0001', 'b')]);
      await store.putResourceStatuses('host-0002', [status('host-0002', 'a')]);
      await store.putHostStates([
        {
          host: host(1, { firstSeen: at(50), lastSeen: at(60), syncState: 'OutOfSync' }),
          statuses: [status('host-0001', 'b', { state: 'OutOfSync' })],
        },
      ]);
      expect(await store.getHost('host-0001')).toStrictEqual(
        host(1, { firstSeen: at(1), lastSeen: at(60), syncState: 'OutOfSync' }),
      );
      expect((await store.listResourceStatuses({ hostId: 'host-0001' })).items).toStrictEqual([
        status('host-0001', 'b', { state: 'OutOfSync' }),
      ]);
      // A host the batch does not name keeps its statuses.
      expect((await store.listResourceStatuses({ hostId: 'host-0002' })).items).toStrictEqual([
        status('host-0002', 'a'),
      ]);
    });

    it('keeps the firstSeen of a batch write through later batch writes, and moves hosts and statuses between state indexes', async () => {
      const store = await ctx.store();
      const put = (n: number, state: 'Synced' | 'OutOfSync') =>
        store.putHostStates([
          {
            host: host(1, { firstSeen: at(n), lastSeen: at(n), syncState: state }),
            statuses: [status('host-0001', 'a', { state })],
          },
        ]);
      await put(1, 'Synced');
      await put(2, 'OutOfSync');
      await put(3, 'OutOfSync');
      expect(await store.getHost('host-0001')).toStrictEqual(
        host(1, { firstSeen: at(1), lastSeen: at(3), syncState: 'OutOfSync' }),
      );
      await put(4, 'Synced');
      expect((await store.listHosts({ syncState: 'OutOfSync' })).items).toEqual([]);
      expect((await store.listHosts({ syncState: 'Synced' })).items.map((h) => h.firstSeen)).toEqual([at(1)]);
      expect((await store.listResourceStatuses({ state: 'OutOfSync' })).items).toEqual([]);
      expect((await store.listResourceStatuses({ state: 'Synced' })).items).toStrictEqual([
        status('host-0001', 'a', { state: 'Synced' }),
      ]);
      expect((await store.listResourceStatuses({ key: 'ConfigFile/a' })).items).toHaveLength(1);
    });

    it('stores the last write of a host when one batch names it twice', async () => {
      const store = await ctx.store();
      await store.putHostStates([
        { host: host(1, { syncState: 'Progressing' }), statuses: [status('host-0001', 'a')] },
        { host: host(1, { syncState: 'Synced' }), statuses: [status('host-0001', 'b')] },
      ]);
      expect((await store.getHost('host-0001'))?.syncState).toBe('Synced');
      expect((await store.countHostsBySyncState()).Progressing).toBe(0);
      expect((await store.listResourceStatuses({})).items.map((s) => s.key)).toEqual(['ConfigFile/b']);
    });

    it('stores nothing when one status of the batch belongs to another host, and takes an empty batch', async () => {
      const store = await ctx.store();
      await expect(
        store.putHostStates([
          { host: host(1), statuses: [status('host-0001', 'a')] },
          { host: host(2), statuses: [status('host-0001', 'b')] },
        ]),
      ).rejects.toThrow(InvalidRecordError);
      await expect(
        store.putHostStates([{ host: host(1), statuses: [status('host-0002', 'b')] }]),
      ).rejects.toThrow(/writes\[0\]\.statuses\[0\]\.hostId/);
      await store.putHostStates([]);
      expect((await store.listHosts({})).items).toEqual([]);
      expect((await store.listResourceStatuses({})).items).toEqual([]);
    });

    it('keeps one host in one state when batches and single upserts race', async () => {
      const store = await ctx.store();
      const states = ['Synced', 'OutOfSync', 'Progressing', 'Failed'] as const;
      await Promise.all(
        Array.from({ length: 12 }, (_, i) => {
          const record = host(1, { syncState: states[i % states.length] });
          return i % 2 === 0
            ? store.putHostStates([{ host: record, statuses: [status('host-0001', `r${i}`)] }])
            : store.upsertHost(record);
        }),
      );
      const counts = await store.countHostsBySyncState();
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(1);
      const final = await store.getHost('host-0001');
      expect((await store.listHosts({ syncState: final?.syncState })).items).toHaveLength(1);
      expect((await store.listResourceStatuses({ hostId: 'host-0001' })).items).toHaveLength(1);
    });
  });

  describe('putDrifts', () => {
    it('stores each record once and only ever turns healed on when a batch re-sends records', async () => {
      const store = await ctx.store();
      await store.putDrift(drift(1));
      await store.putDrift(drift(2, { healed: true, healedAt: at(4) }));
      await store.putDrifts([
        drift(1, { healed: true, healedAt: at(9), detail: 'ignored' }),
        drift(2),
        drift(3, { hostId: 'host-0002' }),
        drift(3, { hostId: 'host-0002' }),
      ]);
      expect((await store.listDrift()).items).toStrictEqual([
        drift(3, { hostId: 'host-0002' }),
        drift(2, { healed: true, healedAt: at(4) }),
        drift(1, { healed: true, healedAt: at(9) }),
      ]);
      expect((await store.listDrift({ hostId: 'host-0002' })).items).toHaveLength(1);
    });

    it('stores nothing from a batch holding an invalid record, and takes an empty batch', async () => {
      const store = await ctx.store();
      await expect(store.putDrifts([drift(1), drift(2, { detectedAt: 'yesterday' })])).rejects.toThrow(
        InvalidRecordError,
      );
      await store.putDrifts([]);
      expect((await store.listDrift()).items).toEqual([]);
    });
  });
}
