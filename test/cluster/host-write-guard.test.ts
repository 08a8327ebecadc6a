/**
 * Who may write a host's record in a cluster, on a real redis-server: the replica holding its live session,
 * or anyone when no replica holds it. A replica whose session ended (its disconnect not yet handled, so it
 * still believes it holds the host) must not write once another replica took the host.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostWriteGuard } from '../../src/cluster/guarded-store.js';
import { clusterKeys } from '../../src/cluster/keys.js';
import { SessionDirectory } from '../../src/cluster/session-directory.js';
import { clusterClient } from '../helpers/cluster-client.js';
import { type RedisHandle, startRedis } from '../helpers/redis-server.js';

const keys = clusterKeys();

describe('hostWriteGuard', () => {
  let redis: RedisHandle;
  let client: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    client = await clusterClient(redis.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.cleanup();
  });

  /** A replica: its directory and the sessions live on it. */
  const replica = (me: string) => {
    const directory = new SessionDirectory(client, keys, me, 600_000);
    const live = new Set<string>();
    return { directory, live, mayWrite: hostWriteGuard(directory, (id) => live.has(id)) };
  };

  it('lets only the live holder write; a replica whose session ended yields to the one the agent moved to', async () => {
    const a = replica('ctl-a');
    const b = replica('ctl-b');
    a.live.add('h1');
    await a.directory.claim('h1');
    expect(await a.mayWrite('h1')).toBe(true);
    expect(await b.mayWrite('h1')).toBe(false);

    // The agent's socket to A closed (A's disconnect not handled yet: A still counts h1 as its own) ...
    a.live.delete('h1');
    expect(a.directory.holdsLocally('h1')).toBe(true);
    // ... and while nobody else took it, A's view is still the latest: A may write.
    expect(await a.mayWrite('h1')).toBe(true);

    // The agent reconnected to B: B writes, A's late write is refused.
    b.live.add('h1');
    await b.directory.claim('h1');
    expect(await b.mayWrite('h1')).toBe(true);
    expect(await a.mayWrite('h1')).toBe(false);

    // B's session ended and was released: nobody holds h1, so its offline state may be written by anyone.
    b.live.delete('h1');
    await b.directory.release('h1');
    await a.directory.release('h1');
    expect(await a.mayWrite('h1')).toBe(true);
    expect(await b.mayWrite('h1')).toBe(true);
  });
});
