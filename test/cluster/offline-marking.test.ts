/**
 * Marking a host offline only while no replica holds it, on a real redis-server with the Redis store: the
 * record and its syncState index move in one script that checks the session directory, so a replica that
 * claims the host back is never overwritten.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OfflineMarkConflictError } from '../../src/cluster/errors.js';
import { clusterKeys } from '../../src/cluster/keys.js';
import { markOfflineUnlessHeld, OFFLINE_MARK_ATTEMPTS } from '../../src/cluster/offline-marking.js';
import { SessionDirectory } from '../../src/cluster/session-directory.js';
import { redisLayout } from '../../src/store/redis-kinds.js';
import { RedisStore } from '../../src/store/redis-store.js';
import type { HostRecord } from '../../src/store/types.js';
import { clusterClient } from '../helpers/cluster-client.js';
import { waitFor } from '../helpers/controller.js';
import { hostRecord } from '../helpers/host-record.js';
import { type RedisHandle, startRedis } from '../helpers/redis-server.js';

const keys = clusterKeys();
const layout = redisLayout(keys.prefix);

const host = hostRecord;

describe('markOfflineUnlessHeld', () => {
  let redis: RedisHandle;
  let client: Redis;
  let store: RedisStore;
  let directory: SessionDirectory;

  const ids = async (syncState: HostRecord['syncState']) =>
    (await store.listHosts({ syncState })).items.map((h) => h.hostId);

  beforeAll(async () => {
    redis = await startRedis();
    client = await clusterClient(redis.url);
    store = await RedisStore.open(redis.url);
    directory = new SessionDirectory(client, keys, 'ctl-b', 600_000);
  });
  afterAll(async () => {
    await store?.close();
    client?.disconnect();
    await redis?.cleanup();
  });

  it('writes a host nobody holds offline and Unknown, its index entries moved, its labels kept', async () => {
    await store.upsertHost(host('h1'));
    expect(await markOfflineUnlessHeld(client, keys, layout, 'h1')).toBe('marked');
    expect(await store.getHost('h1')).toMatchObject({ connected: false, syncState: 'Unknown' });
    expect(await ids('Unknown')).toContain('h1');
    expect(await ids('Synced')).not.toContain('h1');
    expect((await store.listHosts({ labels: { role: 'web' } })).items.map((h) => h.hostId)).toContain('h1');
    // Once offline, or when there is no record, nothing is written.
    expect(await markOfflineUnlessHeld(client, keys, layout, 'h1')).toBe('unchanged');
    expect(await markOfflineUnlessHeld(client, keys, layout, 'nobody')).toBe('unchanged');
    expect(await store.getHost('nobody')).toBeUndefined();
  });

  it('leaves a host a replica holds as that replica wrote it', async () => {
    await store.upsertHost(host('h2'));
    await directory.claim('h2');
    expect(await markOfflineUnlessHeld(client, keys, layout, 'h2')).toBe('held');
    expect(await store.getHost('h2')).toMatchObject({ connected: true, syncState: 'Synced' });
  });

  it('marks a host whose replica died once the sweep removed its entry, not while the entry is there', async () => {
    const dying = new SessionDirectory(client, keys, 'ctl-dead', 50);
    await store.upsertHost(host('h3'));
    await dying.claim('h3');
    expect(await markOfflineUnlessHeld(client, keys, layout, 'h3')).toBe('held');
    await waitFor('the entry expiring', async () => !(await directory.holders(['h3'])).has('h3'));
    // Past its TTL but not swept: its replica may be late, not dead.
    expect(await markOfflineUnlessHeld(client, keys, layout, 'h3')).toBe('held');
    expect(await directory.sweepExpired()).toEqual([{ hostId: 'h3', holder: 'ctl-dead' }]);
    expect(await markOfflineUnlessHeld(client, keys, layout, 'h3')).toBe('marked');
    expect(await store.getHost('h3')).toMatchObject({ connected: false, syncState: 'Unknown' });
  });

  it('leaves a host its late replica claimed back after the sweep, though that entry is past its TTL again', async () => {
    // A replica too busy to refresh within its TTL: the leader sweeps its entry and starts marking ...
    const late = new SessionDirectory(client, keys, 'ctl-late', 50);
    await late.claim('h7');
    await store.upsertHost(host('h7'));
    await waitFor('the entry expiring', async () => !(await directory.holders(['h7'])).has('h7'));
    expect((await directory.sweepExpired()).map((e) => e.hostId)).toEqual(['h7']);
    // ... the replica's refresh finds it swept, claims it back and writes the host (sessionsReclaimed) ...
    expect(await late.refresh()).toEqual({ lost: [], back: ['h7'] });
    await store.upsertHost(host('h7', { lastSeen: '2026-01-01T00:03:00.000Z' }));
    // ... and is late again before the leader's mark for the first sweep comes: its next refresh renews the
    // entry without writing the host, so marking it now would leave it offline for good.
    await waitFor('the entry expiring again', async () => !(await directory.holders(['h7'])).has('h7'));
    expect(await markOfflineUnlessHeld(client, keys, layout, 'h7')).toBe('held');
    expect(await late.refresh()).toEqual({ lost: [], back: [] });
    expect(await store.getHost('h7')).toMatchObject({ connected: true, syncState: 'Synced' });
  });

  it('never overwrites a replica that claims the host back between the read and the write', async () => {
    await store.upsertHost(host('h4'));
    // The reclaiming replica claims, then writes the host (as sessionsReclaimed does), after the read.
    const racing = new Proxy(client, {
      get(target, prop, receiver) {
        if (prop === 'gseWriteUnheld')
          return async (...args: Parameters<Redis['gseWriteUnheld']>) => {
            await directory.claim('h4');
            await store.upsertHost(host('h4', { lastSeen: '2026-01-01T00:02:00.000Z' }));
            return target.gseWriteUnheld(...args);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    expect(await markOfflineUnlessHeld(racing, keys, layout, 'h4')).toBe('held');
    expect(await store.getHost('h4')).toMatchObject({
      connected: true,
      syncState: 'Synced',
      lastSeen: '2026-01-01T00:02:00.000Z',
    });
  });

  it('re-reads a record written meanwhile by nobody holding it, and gives up after repeated changes', async () => {
    await store.upsertHost(host('h5'));
    let writes = 0;
    const changing = (times: number) =>
      new Proxy(client, {
        get(target, prop, receiver) {
          if (prop === 'gseWriteUnheld')
            return async (...args: Parameters<Redis['gseWriteUnheld']>) => {
              if (writes++ < times)
                await store.upsertHost(host('h5', { lastSeen: `2026-01-01T00:0${writes}:00.000Z` }));
              return target.gseWriteUnheld(...args);
            };
          const v = Reflect.get(target, prop, receiver);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    expect(await markOfflineUnlessHeld(changing(1), keys, layout, 'h5')).toBe('marked');
    // The write that won is built on the record written meanwhile.
    expect(await store.getHost('h5')).toMatchObject({
      connected: false,
      syncState: 'Unknown',
      lastSeen: '2026-01-01T00:01:00.000Z',
    });
    await store.upsertHost(host('h6'));
    writes = 0;
    const always = new Proxy(client, {
      get(target, prop, receiver) {
        if (prop === 'gseWriteUnheld')
          return async (...args: Parameters<Redis['gseWriteUnheld']>) => {
            await store.upsertHost(host('h6', { lastSeen: `2026-01-01T00:0${++writes}:00.000Z` }));
            return target.gseWriteUnheld(...args);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    await expect(markOfflineUnlessHeld(always, keys, layout, 'h6')).rejects.toThrow(OfflineMarkConflictError);
    expect(writes).toBe(OFFLINE_MARK_ATTEMPTS);
    expect(await store.getHost('h6')).toMatchObject({ connected: true });
  });
});
