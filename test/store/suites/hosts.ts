/** Conformance: hosts (filters, counts) and per-host resource statuses. */
import { describe, expect, it } from 'vitest';
import { InvalidRecordError } from '../../../src/store/errors.js';
import type { StoreContext } from '../backends.js';
import { at, drift, execution, fullHost, host, status } from '../fixtures.js';

export function hostSuite(ctx: StoreContext): void {
  describe('hosts', () => {
    it('returns every field when a host with all optional fields is read back', async () => {
      const store = await ctx.store();
      await store.upsertHost(fullHost(1));
      await store.upsertHost(host(2));
      expect(await store.getHost('host-0001')).toStrictEqual(fullHost(1));
      expect(await store.getHost('host-0002')).toStrictEqual(host(2));
      expect(await store.getHost('host-0003')).toBeUndefined();
    });

    it('replaces fields but keeps firstSeen when the host is upserted again', async () => {
      const store = await ctx.store();
      await store.upsertHost(host(1, { firstSeen: at(1) }));
      await store.upsertHost(host(1, { firstSeen: at(50), lastSeen: at(60), connected: false, os: 'linux' }));
      expect(await store.getHost('host-0001')).toStrictEqual(
        host(1, { firstSeen: at(1), lastSeen: at(60), connected: false, os: 'linux' }),
      );
    });

    it('filters by sync state and labels when both are given', async () => {
      const store = await ctx.store();
      await store.upsertHost(host(1, { labels: { role: 'web', zone: 'a' }, syncState: 'OutOfSync' }));
      await store.upsertHost(host(2, { labels: { role: 'web', zone: 'b' }, syncState: 'OutOfSync' }));
      await store.upsertHost(host(3, { labels: { role: 'web', zone: 'a' }, syncState: 'Synced' }));
      await store.upsertHost(host(4, { labels: { role: 'db', zone: 'a' }, syncState: 'OutOfSync' }));
      const ids = async (q: Parameters<typeof store.listHosts>[0]) =>
        (await store.listHosts(q)).items.map((h) => h.hostId);
      expect(await ids({})).toEqual(['host-0001', 'host-0002', 'host-0003', 'host-0004']);
      expect(await ids({ syncState: 'OutOfSync' })).toEqual(['host-0001', 'host-0002', 'host-0004']);
      expect(await ids({ labels: { role: 'web' } })).toEqual(['host-0001', 'host-0002', 'host-0003']);
      expect(await ids({ labels: { role: 'web', zone: 'a' } })).toEqual(['host-0001', 'host-0003']);
      expect(await ids({ labels: { role: 'web', zone: 'a' }, syncState: 'OutOfSync' })).toEqual([
        'host-0001',
      ]);
      expect(await ids({ labels: { role: 'cache' } })).toEqual([]);
    });

    it('moves the host between filters when its state and labels change', async () => {
      const store = await ctx.store();
      await store.upsertHost(host(1, { labels: { role: 'web' }, syncState: 'Progressing' }));
      await store.upsertHost(host(1, { labels: { role: 'db' }, syncState: 'Failed' }));
      expect((await store.listHosts({ syncState: 'Progressing' })).items).toEqual([]);
      expect((await store.listHosts({ labels: { role: 'web' } })).items).toEqual([]);
      expect((await store.listHosts({ syncState: 'Failed', labels: { role: 'db' } })).items).toHaveLength(1);
    });

    it('counts hosts per sync state with zeros when some states are empty', async () => {
      const store = await ctx.store();
      await store.upsertHost(host(1, { syncState: 'Synced' }));
      await store.upsertHost(host(2, { syncState: 'Synced' }));
      await store.upsertHost(host(3, { syncState: 'Failed' }));
      await store.upsertHost(host(3, { syncState: 'Unknown' }));
      expect(await store.countHostsBySyncState()).toEqual({
        Synced: 2,
        OutOfSync: 0,
        Progressing: 0,
        Failed: 0,
        Unknown: 1,
      });
    });

    it('keeps one host in one state when it is upserted concurrently', async () => {
      const store = await ctx.store();
      const states = ['Synced', 'OutOfSync', 'Progressing', 'Failed'] as const;
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.upsertHost(host(1, { syncState: states[i % states.length] })),
        ),
      );
      const counts = await store.countHostsBySyncState();
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(1);
      const final = await store.getHost('host-0001');
      expect((await store.listHosts({ syncState: final?.syncState })).items).toHaveLength(1);
    });

    it('deletes a host with its statuses and keeps its drift and executions when the host is deleted', async () => {
      const store = await ctx.store();
      await store.upsertHost(host(1, { labels: { role: 'web' }, syncState: 'Failed' }));
      await store.upsertHost(host(2, { labels: { role: 'web' } }));
      await store.putResourceStatuses('host-0001', [status('host-0001', 'a'), status('host-0001', 'b')]);
      await store.putResourceStatuses('host-0002', [status('host-0002', 'a')]);
      await store.putDrift(drift(1));
      await store.putExecution(execution(1));

      expect(await store.deleteHost('host-0001')).toBe(true);
      expect(await store.deleteHost('host-0001')).toBe(false);
      expect(await store.getHost('host-0001')).toBeUndefined();
      expect((await store.listHosts({})).items.map((h) => h.hostId)).toEqual(['host-0002']);
      expect((await store.listHosts({ labels: { role: 'web' } })).items.map((h) => h.hostId)).toEqual([
        'host-0002',
      ]);
      expect((await store.countHostsBySyncState()).Failed).toBe(0);
      expect((await store.listResourceStatuses({ hostId: 'host-0001' })).items).toEqual([]);
      expect((await store.listResourceStatuses({})).items.map((s) => s.hostId)).toEqual(['host-0002']);
      expect((await store.listDrift({ hostId: 'host-0001' })).items).toEqual([drift(1)]);
      expect((await store.listExecutions({ hostId: 'host-0001' })).items).toEqual([execution(1)]);

      // A host that returns is a new record (firstSeen starts again).
      await store.upsertHost(host(1, { firstSeen: at(90) }));
      expect((await store.getHost('host-0001'))?.firstSeen).toBe(at(90));
    });
  });
}

export function resourceStatusSuite(ctx: StoreContext): void {
  describe('resource statuses', () => {
    it('replaces the host set and leaves other hosts alone when statuses are put again', async () => {
      const store = await ctx.store();
      await store.putResourceStatuses('h1', [status('h1', 'a'), status('h1', 'b')]);
      await store.putResourceStatuses('h2', [status('h2', 'a')]);
      const next = status('h1', 'c', { state: 'Failed', message: 'exit 1', observedHash: 'x' });
      await store.putResourceStatuses('h1', [status('h1', 'b', { state: 'OutOfSync' }), next]);
      expect((await store.listResourceStatuses({ hostId: 'h1' })).items).toStrictEqual([
        status('h1', 'b', { state: 'OutOfSync' }),
        next,
      ]);
      expect((await store.listResourceStatuses({ hostId: 'h2' })).items).toStrictEqual([status('h2', 'a')]);
    });

    it('filters by key and state across hosts when asked', async () => {
      const store = await ctx.store();
      await store.putResourceStatuses('h1', [status('h1', 'a', { state: 'Failed' }), status('h1', 'b')]);
      await store.putResourceStatuses('h2', [status('h2', 'a'), status('h2', 'b', { state: 'Failed' })]);
      const keys = async (q: Parameters<typeof store.listResourceStatuses>[0]) =>
        (await store.listResourceStatuses(q)).items.map((s) => `${s.hostId}:${s.key}`);
      expect(await keys({})).toEqual([
        'h1:ConfigFile/a',
        'h1:ConfigFile/b',
        'h2:ConfigFile/a',
        'h2:ConfigFile/b',
      ]);
      expect(await keys({ key: 'ConfigFile/a' })).toEqual(['h1:ConfigFile/a', 'h2:ConfigFile/a']);
      expect(await keys({ state: 'Failed' })).toEqual(['h1:ConfigFile/a', 'h2:ConfigFile/b']);
      expect(await keys({ state: 'Failed', hostId: 'h2' })).toEqual(['h2:ConfigFile/b']);
      expect(await keys({ state: 'Failed', key: 'ConfigFile/b', hostId: 'h1' })).toEqual([]);
    });

    it('clears the host set when an empty list is put', async () => {
      const store = await ctx.store();
      await store.putResourceStatuses('h1', [status('h1', 'a', { state: 'Failed' })]);
      await store.putResourceStatuses('h1', []);
      expect((await store.listResourceStatuses({})).items).toEqual([]);
      expect((await store.listResourceStatuses({ state: 'Failed' })).items).toEqual([]);
    });

    it('rejects the batch when a status belongs to another host', async () => {
      const store = await ctx.store();
      await expect(store.putResourceStatuses('h1', [status('h2', 'a')])).rejects.toThrow(InvalidRecordError);
      expect((await store.listResourceStatuses({})).items).toEqual([]);
    });
  });
}
