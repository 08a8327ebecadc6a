import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetWriteError } from '../../src/routing/errors.js';
import { RedisWriter } from '../../src/routing/redis-writer.js';
import { createSecretResolver } from '../../src/routing/secrets.js';
import { silentLogger } from '../../src/routing/types.js';
import type { RedisTargetSpec } from '../../src/spec/types.js';
import { type RedisHandle, startRedis } from '../helpers/redis-server.js';
import { outs, waitFor } from './fixtures.js';

describe('RedisWriter', () => {
  let redis: RedisHandle;
  let client: Redis;
  const deps = { resolveSecret: createSecretResolver({ env: {} }), logger: silentLogger };
  const open = (spec: Omit<RedisTargetSpec, 'url'>) =>
    RedisWriter.create('t', { url: redis.url, ...spec }, deps);

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    client.disconnect();
    await redis.cleanup();
  });

  it('adds stream entries with rid and data fields when mode is stream', async () => {
    const w = await open({ mode: 'stream', key: 's1' });
    const batch = outs(0, 5);
    await w.write(batch);
    const entries = await client.xrange('s1', '-', '+');
    expect(entries.map(([, f]) => f)).toEqual(batch.map((r) => ['rid', r.rid, 'data', r.data]));
    expect(w.health()).toEqual({ connected: true, detail: 'ready' });
    await w.close();
  });

  it('trims the stream approximately to maxLen when maxLen is set', async () => {
    const w = await open({ mode: 'stream', key: 's2', maxLen: 100 });
    for (let i = 0; i < 10; i++) await w.write(outs(i * 100, i * 100 + 100));
    const len = await client.xlen('s2');
    // MAXLEN ~ trims whole macro nodes only: at least 100 remain and far fewer than the 1,000 written.
    expect(len).toBeGreaterThanOrEqual(100);
    expect(len).toBeLessThan(1000);
    const last = await client.xrevrange('s2', '+', '-', 'COUNT', 1);
    expect(last[0]?.[1]).toEqual(['rid', 'r-999', 'data', '{"n":999,"p":""}']);
    await w.close();
  });

  it('uses the per-route key override when a record carries dest', async () => {
    const w = await open({ mode: 'stream', key: 's3' });
    await w.write([
      { rid: 'a', data: '1', dest: 's3-other' },
      { rid: 'b', data: '2' },
    ]);
    expect(await client.xlen('s3-other')).toBe(1);
    expect(await client.xlen('s3')).toBe(1);
    await w.close();
  });

  it('keeps each stream in batch order when records of two streams interleave', async () => {
    const w = await open({ mode: 'stream', key: 's4' });
    await w.write([
      { rid: 'a', data: '1' },
      { rid: 'b', data: '2', dest: 's4-x' },
      { rid: 'c', data: '3' },
      { rid: 'd', data: '4' },
      { rid: 'e', data: '5', dest: 's4-x' },
    ]);
    const rids = async (k: string) => (await client.xrange(k, '-', '+')).map(([, f]) => f[1]);
    expect(await rids('s4')).toEqual(['a', 'c', 'd']);
    expect(await rids('s4-x')).toEqual(['b', 'e']);
    await w.close();
  });

  it('falls back to one XADD per record when the Redis user may not run scripts', async () => {
    await client.acl('SETUSER', 'noscripts', 'on', '>pw-ns', '~*', '&*', '+@all', '-@scripting');
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (msg: string) => warnings.push(msg) };
    const url = redis.url.replace('redis://', 'redis://noscripts:pw-ns@');
    const w = await RedisWriter.create('t', { url, mode: 'stream', key: 's5' }, { ...deps, logger });
    await w.write(outs(0, 3));
    await w.write(outs(3, 5));
    const entries = await client.xrange('s5', '-', '+');
    expect(entries.map(([, f]) => f[1])).toEqual(outs(0, 5).map((r) => r.rid));
    expect(warnings).toEqual(['redis target refuses scripts: one XADD per record from now on']);
    await w.close();
  });

  it('pushes payloads in order when mode is list', async () => {
    const w = await open({ mode: 'list', key: 'l1' });
    await w.write(outs(0, 3));
    await w.write([{ rid: 'x', data: 'X', dest: 'l1-b' }, ...outs(3, 5)]);
    expect(await client.lrange('l1', 0, -1)).toEqual(outs(0, 5).map((r) => r.data));
    expect(await client.lrange('l1-b', 0, -1)).toEqual(['X']);
    await w.close();
  });

  it('publishes each payload when mode is pubsub', async () => {
    const sub = new Redis(redis.url);
    const got: string[] = [];
    await sub.subscribe('p1');
    sub.on('message', (_ch: string, msg: string) => got.push(msg));
    const w = await open({ mode: 'pubsub', key: 'p1' });
    await w.write(outs(0, 4));
    await waitFor(() => got.length >= 4, 'four pub/sub messages');
    expect(got).toEqual(outs(0, 4).map((r) => r.data));
    await w.close();
    sub.disconnect();
  });

  it('throws TargetWriteError naming the failures when a reply is an error', async () => {
    await client.set('not-a-stream', 'x');
    const w = await open({ mode: 'stream', key: 'not-a-stream' });
    const err = (await w.write(outs(0, 2)).catch((e: unknown) => e)) as TargetWriteError;
    expect(err).toBeInstanceOf(TargetWriteError);
    // The batch went as one script call for its stream: that one command failed, on the first XADD.
    expect(err.message).toMatch(/^target t: 1 of 1 commands failed: WRONGTYPE/);
    expect(err.cause).toBeInstanceOf(Error);
    await w.close();
  });

  it('authenticates with passwordFrom when the server requires a password', async () => {
    await client.config('SET', 'requirepass', 'pw-123');
    try {
      const resolveSecret = createSecretResolver({ env: { RPW: 'pw-123' } });
      const w = await RedisWriter.create(
        't',
        { url: redis.url, mode: 'list', key: 'auth', passwordFrom: { env: 'RPW' } },
        { resolveSecret, logger: silentLogger },
      );
      await w.write(outs(0, 1));
      await w.close();
    } finally {
      const admin = new Redis(redis.url, { password: 'pw-123' });
      expect(await admin.llen('auth')).toBe(1);
      await admin.config('SET', 'requirepass', '');
      admin.disconnect();
    }
  });

  it('fails the write fast instead of queueing when Redis is down', async () => {
    const w = await open({ mode: 'stream', key: 'down' });
    await redis.stop();
    try {
      await expect(w.write(outs(0, 3))).rejects.toThrow(TargetWriteError);
      expect(w.health().connected).toBe(false);
    } finally {
      await redis.restart();
      client.disconnect();
      client = new Redis(redis.url);
    }
    await w.close();
  });
});
