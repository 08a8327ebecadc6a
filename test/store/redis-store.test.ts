/** Redis-only behaviour: key prefixes, index hygiene, corrupt hashes, connection failures. */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CorruptRecordError, StoreConnectError } from '../../src/store/errors.js';
import { RedisStore } from '../../src/store/redis-store.js';
import { freePort, type RedisHandle, startRedis } from '../helpers/redis-server.js';
import { at, drift, execution, host, status } from './fixtures.js';

describe('RedisStore', () => {
  let redis: RedisHandle;
  let raw: Redis;
  const opened: RedisStore[] = [];
  const open = async (prefix: string) => {
    const store = await RedisStore.open(redis.url, { prefix });
    opened.push(store);
    return store;
  };

  beforeAll(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await raw.quit();
    await redis.cleanup();
  });

  it('keeps two deployments apart when their prefixes differ', async () => {
    const a = await open('a:');
    const b = await open('b:');
    await a.upsertHost(host(1));
    await a.setState('k', 1);
    expect(await b.getHost('host-0001')).toBeUndefined();
    expect(await b.getState('k')).toBeUndefined();
    expect((await b.listHosts()).items).toEqual([]);
    expect(await raw.keys('a:*')).not.toHaveLength(0);
  });

  it('leaves no index keys behind when every record is deleted', async () => {
    const store = await open('clean:');
    await store.putResourceStatuses('h1', [status('h1', 'a', { state: 'Failed' }), status('h1', 'b')]);
    await store.putResourceStatuses('h1', []);
    for (let i = 1; i <= 3; i++) {
      await store.putExecution(execution(i, { resource: 'ConfigFile/a' }));
      await store.putDrift(drift(i));
    }
    await store.markDriftHealed('drift-0002', at(9));
    const result = await store.applyRetention(
      { executions: { maxCount: 0 }, drift: { maxAgeMs: 0 } },
      new Date(at(10)),
    );
    expect(result).toEqual({ executions: 3, drift: 3 });
    expect(await raw.keys('clean:*')).toEqual([]);
  });

  it('throws CorruptRecordError naming the key when a stored hash is not a record', async () => {
    const store = await open('corrupt:');
    await store.upsertHost(host(1));
    await raw.hset('corrupt:host:host-0001', 'data', '{"hostId": 5}');
    await expect(store.getHost('host-0001')).rejects.toThrow(CorruptRecordError);
    await expect(store.listHosts()).rejects.toThrow(/corrupt record at corrupt:host:host-0001/);
  });

  it('throws StoreConnectError without the password when nothing listens', async () => {
    const url = `redis://:s3cret@127.0.0.1:${await freePort()}`;
    const failure = RedisStore.open(url);
    await expect(failure).rejects.toThrow(StoreConnectError);
    await expect(failure).rejects.not.toThrow(/s3cret/);
  });
});
