/**
 * The reconciler's host writes in a cluster, on a real redis-server with the Redis store: each host is
 * written unless another replica holds its live session, checked in the same script as the write. A replica
 * that still has the agent's socket open (half-open: the agent already reconnected elsewhere) thus cannot
 * write over the replica the agent moved to, which a check made before the write would allow.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/cluster/cluster.js';
import { hostWriteGuard } from '../../src/cluster/guarded-store.js';
import { writeHostStatesHeld } from '../../src/cluster/held-host-writes.js';
import { clusterKeys } from '../../src/cluster/keys.js';
import { SessionDirectory } from '../../src/cluster/session-directory.js';
import { jsonLinesLogger } from '../../src/kernel/logger.js';
import { redisLayout } from '../../src/store/redis-kinds.js';
import { RedisStore } from '../../src/store/redis-store.js';
import type { HostRecord, HostStateWrite, ResourceStatus } from '../../src/store/types.js';
import { clusterClient } from '../helpers/cluster-client.js';
import { idleMetrics } from '../helpers/controller-fixtures.js';
import { hostRecord } from '../helpers/host-record.js';
import { type RedisHandle, startRedis } from '../helpers/redis-server.js';

const keys = clusterKeys();
const layout = redisLayout(keys.prefix);

const state = (hostId: string, syncState: HostRecord['syncState'], files: string[]): HostStateWrite => ({
  host: hostRecord(hostId, { syncState, connected: syncState !== 'Unknown' }),
  statuses: files.map(
    (name): ResourceStatus => ({
      hostId,
      key: `file:${name}`,
      kind: 'file',
      name,
      hash: 'h',
      state: syncState,
      updatedAt: '2026-01-01T00:01:00.000Z',
    }),
  ),
});

describe('writeHostStatesHeld', () => {
  let redis: RedisHandle;
  let client: Redis;
  let store: RedisStore;

  beforeAll(async () => {
    redis = await startRedis();
    client = await clusterClient(redis.url);
    store = await RedisStore.open(redis.url);
  });
  afterAll(async () => {
    await store?.close();
    client?.disconnect();
    await redis?.cleanup();
  });

  const write = (me: string, writes: HostStateWrite[]) =>
    writeHostStatesHeld(client, keys, layout, me, writes);
  const statusKeys = async (hostId: string) =>
    (await store.listResourceStatuses({ hostId })).items.map((s) => s.key).sort();

  it('writes hosts held here or by nobody, and refuses a host another replica holds, in one batch', async () => {
    const a = new SessionDirectory(client, keys, 'ctl-a', 600_000);
    const b = new SessionDirectory(client, keys, 'ctl-b', 600_000);
    await a.claim('mine');
    await b.claim('theirs');

    const refused = await write('ctl-a', [
      state('mine', 'Synced', ['a', 'b']),
      state('nobodys', 'Unknown', ['a']),
      state('theirs', 'OutOfSync', ['x']),
    ]);

    expect(refused).toEqual(['theirs']);
    expect(await store.getHost('mine')).toMatchObject({ syncState: 'Synced' });
    expect(await statusKeys('mine')).toEqual(['file:a', 'file:b']);
    expect(await store.getHost('nobodys')).toMatchObject({ syncState: 'Unknown', connected: false });
    expect(await store.getHost('theirs')).toBeUndefined();
    expect(await statusKeys('theirs')).toEqual([]);
  });

  it("refuses a half-open replica's write once the agent moved, where the guard checked first lets it through", async () => {
    const a = new SessionDirectory(client, keys, 'ctl-a', 600_000);
    const b = new SessionDirectory(client, keys, 'ctl-b', 600_000);
    await a.claim('h1');
    expect(await write('ctl-a', [state('h1', 'Synced', ['a', 'b'])])).toEqual([]);

    // The agent reconnected to B, which claims h1 and writes it; A's socket is still open (half-open).
    await b.claim('h1');
    expect(await write('ctl-b', [state('h1', 'OutOfSync', ['c'])])).toEqual([]);
    const aStillLive = hostWriteGuard(a, () => true);
    expect(await aStillLive('h1')).toBe(true);

    // A's stale write: refused in the script, so B's state stands, statuses and indexes included.
    expect(await write('ctl-a', [state('h1', 'Synced', ['a', 'b'])])).toEqual(['h1']);
    expect(await store.getHost('h1')).toMatchObject({ syncState: 'OutOfSync' });
    expect(await statusKeys('h1')).toEqual(['file:c']);
    expect((await store.listHosts({ syncState: 'Synced' })).items.map((h) => h.hostId)).not.toContain('h1');

    // B's session ended and was released: nobody holds h1, so A's offline write goes in.
    await b.release('h1');
    expect(await write('ctl-a', [state('h1', 'Unknown', [])])).toEqual([]);
    expect(await store.getHost('h1')).toMatchObject({ syncState: 'Unknown', connected: false });
    expect(await statusKeys('h1')).toEqual([]);
  });

  it("refuses while another replica's entry is there, even past its TTL, and writes once the sweep removed it", async () => {
    const late = new SessionDirectory(client, keys, 'ctl-late', 1);
    const leader = new SessionDirectory(client, keys, 'ctl-leader', 600_000);
    await late.claim('h2');
    await new Promise((r) => setTimeout(r, 20));
    // Past its TTL, the entry may still be a late replica's that renews it without writing the host again.
    expect(await write('ctl-a', [state('h2', 'Unknown', [])])).toEqual(['h2']);
    expect(await store.getHost('h2')).toBeUndefined();
    expect((await leader.sweepExpired()).map((e) => e.hostId)).toEqual(['h2']);
    expect(await write('ctl-a', [state('h2', 'Unknown', [])])).toEqual([]);
    expect(await store.getHost('h2')).toMatchObject({ syncState: 'Unknown' });
  });

  it("counts and logs the writes a replica's Cluster refused, for the metrics", async () => {
    const lines: string[] = [];
    const cluster = await Cluster.open(
      { redisUrl: redis.url, replicaId: 'ctl-a', leaseMs: 600_000 },
      jsonLinesLogger('info', (l) => lines.push(l)),
    );
    try {
      await new SessionDirectory(client, keys, 'ctl-b', 600_000).claim('moved-1');
      await new SessionDirectory(client, keys, 'ctl-b', 600_000).claim('moved-2');
      await cluster.directory.claim('kept');
      const refused = await cluster.writeHostStates([
        state('moved-1', 'Synced', ['a']),
        state('kept', 'Synced', ['a']),
        state('moved-2', 'Unknown', []),
      ]);
      expect(refused).toEqual(['moved-1', 'moved-2']);
      expect(await cluster.writeHostStates([state('kept', 'OutOfSync', ['a'])])).toEqual([]);
      expect(cluster.hostWritesRefused).toBe(2);
      expect(lines.map((l) => JSON.parse(l))).toMatchObject([
        {
          msg: 'host writes refused: another replica holds these hosts',
          count: 2,
          hostIds: ['moved-1', 'moved-2'],
        },
      ]);

      const metrics = idleMetrics({ cluster: { hostWritesRefused: cluster.hostWritesRefused } });
      expect(await metrics.render()).toContain('gse_cluster_host_writes_refused_total 2');
    } finally {
      await cluster.stop();
    }
  });
});
