/** openStore: SQLite in the state dir by default, Redis when a URL is given. */
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, RedisStore, SQLITE_FILE_NAME, SqliteStore } from '../../src/store/index.js';
import { type RedisHandle, startRedis } from '../helpers/redis-server.js';

describe('openStore', () => {
  let dir = '';
  let redis: RedisHandle;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-open-'));
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('opens a SQLite file in a new state dir when no Redis URL is given', async () => {
    const stateDir = join(dir, 'state', 'nested');
    const store = await openStore({ stateDir });
    expect(store).toBeInstanceOf(SqliteStore);
    await store.close();
    await expect(access(join(stateDir, SQLITE_FILE_NAME))).resolves.toBeUndefined();
  });

  it('opens Redis under the given prefix when a Redis URL is given', async () => {
    const store = await openStore({ stateDir: dir, redisUrl: redis.url, redisPrefix: 'x:' });
    expect(store).toBeInstanceOf(RedisStore);
    await store.setState('k', 'v');
    expect(await store.getState('k')).toBe('v');
    await store.close();
  });
});
