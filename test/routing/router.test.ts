import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { FilterError, RouterClosedError, TargetUnknownError } from '../../src/routing/errors.js';
import { Router, type RouterDeps } from '../../src/routing/router.js';
import { createSecretResolver } from '../../src/routing/secrets.js';
import type { StreamTarget } from '../../src/spec/types.js';
import { startRedis } from '../helpers/redis-server.js';
import { FakeWriter, record, route, shortSleep, target, tempDir, waitFor } from './fixtures.js';

/** Router deps whose writers are FakeWriters, one list per target name (a new one per open). */
function fakeDeps(
  preset: Record<string, FakeWriter> = {},
): RouterDeps & { writers: Map<string, FakeWriter[]> } {
  const writers = new Map<string, FakeWriter[]>();
  return {
    writers,
    hostMatcher: () => () => true,
    resolveSecret: createSecretResolver({ env: {} }),
    sleep: shortSleep,
    openWriter: async (t: StreamTarget) => {
      const list = writers.get(t.metadata.name) ?? [];
      const w =
        list.length === 0 && preset[t.metadata.name]
          ? (preset[t.metadata.name] as FakeWriter)
          : new FakeWriter();
      list.push(w);
      writers.set(t.metadata.name, list);
      return w;
    },
  };
}

const fileTarget = (name: string, path = `/tmp/${name}.jsonl`) => target(name, { file: { path } });
const rids = (w: FakeWriter | undefined) => (w?.got ?? []).map((r) => r.rid);

describe('Router', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  async function stateDir(): Promise<string> {
    const t = await tempDir('gse-router-');
    cleanups.push(t.cleanup);
    return t.dir;
  }
  async function make(config: Parameters<typeof Router.create>[0], deps: RouterDeps): Promise<Router> {
    const r = await Router.create(config, deps);
    cleanups.push(async () => {
      await r.close(1_000);
    });
    return r;
  }

  it('writes one record to a real file and a real Redis stream when a route names both', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.cleanup());
    const dir = await stateDir();
    const path = join(dir, 'out', 'data.jsonl');
    const router = await make(
      {
        stateDir: dir,
        targets: [
          target('file', { file: { path } }),
          target('redis', { redis: { url: redis.url, mode: 'stream', key: 'k' } }),
        ],
        routes: [route('both', { targets: [{ name: 'file' }, { name: 'redis' }] })],
      },
      { hostMatcher: () => () => true, resolveSecret: createSecretResolver({ env: {} }) },
    );
    const rec = record(1);
    await router.route([rec, record(2, { channel: 'other' })]);
    expect(
      (await readFile(path, 'utf8'))
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([rec]);
    const client = new Redis(redis.url);
    const entries = await client.xrange('k', '-', '+');
    client.disconnect();
    expect(entries.map(([, f]) => f)).toEqual([['rid', 'r-1', 'data', JSON.stringify(rec)]]);
    expect(router.stats()).toEqual({
      routes: { both: { in: 1, out: 2, filtered: 0 } },
      targets: {
        file: { out: 1, spooled: 0, retried: 0, failed: 0 },
        redis: { out: 1, spooled: 0, retried: 0, failed: 0 },
      },
    });
  });

  it('refuses to route when closed', async () => {
    const router = await Router.create(
      {
        stateDir: await stateDir(),
        targets: [fileTarget('a')],
        routes: [route('r', { targets: [{ name: 'a' }] })],
      },
      fakeDeps(),
    );
    await router.close();
    await expect(router.route([record(1)])).rejects.toThrow(RouterClosedError);
  });

  it('drops records that the filters or the host selector reject and counts them', async () => {
    const deps = fakeDeps();
    const seen: string[] = [];
    deps.hostMatcher = (r) => {
      seen.push(r.metadata.name);
      return (rec) => rec.host.name !== 'db-1';
    };
    const router = await make(
      {
        stateDir: await stateDir(),
        targets: [fileTarget('a')],
        routes: [
          route('errors', {
            hosts: { names: ['web-*'] },
            filters: { allOf: [{ field: 'level', op: 'eq', value: 'error' }] },
            targets: [{ name: 'a' }],
          }),
        ],
      },
      deps,
    );
    expect(seen).toEqual(['errors']);
    await router.route([
      record(1, { fields: { level: 'error' } }),
      record(2, { fields: { level: 'info' } }),
      record(3, { fields: { level: 'error' }, host: { id: 'x', name: 'db-1', ip: '10.0.0.9', cloudId: 0 } }),
      record(4, { channel: 'logs', fields: { level: 'error' } }),
    ]);
    expect(rids(deps.writers.get('a')?.[0])).toEqual(['r-1']);
    expect(router.stats().routes.errors).toEqual({ in: 3, out: 1, filtered: 2 });
  });

  it('batches by maxRecords and flushes the rest after maxDelayMs when records trickle in', async () => {
    const deps = fakeDeps();
    const router = await make(
      {
        stateDir: await stateDir(),
        targets: [fileTarget('a')],
        routes: [route('r', { batch: { maxRecords: 3, maxDelayMs: 20 }, targets: [{ name: 'a' }] })],
      },
      deps,
    );
    await router.route([1, 2, 3].map((i) => record(i)));
    await router.route([4, 5, 6, 7].map((i) => record(i)));
    const w = deps.writers.get('a')?.[0] as FakeWriter;
    expect(w.sizes).toEqual([3, 3, 1]);
    expect(rids(w)).toEqual(['r-1', 'r-2', 'r-3', 'r-4', 'r-5', 'r-6', 'r-7']);
  });

  it('re-routes without a restart and drains the removed target when reconfigured', async () => {
    const a = new FakeWriter();
    a.down = true;
    const deps = fakeDeps({ a });
    const router = await make(
      {
        stateDir: await stateDir(),
        targets: [fileTarget('a'), fileTarget('b')],
        routes: [route('r', { targets: [{ name: 'a' }] })],
      },
      deps,
    );
    await router.route([record(1), record(2)]);
    expect(router.health().find((h) => h.name === 'a')?.spoolDepth).toBe(2);
    a.down = false;
    const report = await router.reconfigure({
      targets: [fileTarget('b')],
      routes: [route('r', { targets: [{ name: 'b' }] })],
    });
    expect(report).toMatchObject({ added: [], changed: [], removed: ['a'] });
    expect(report.drains).toEqual([
      expect.objectContaining({ name: 'a', drained: true, remainingRecords: 0 }),
    ]);
    expect(rids(a)).toEqual(['r-1', 'r-2']);
    expect(a.closed).toBe(true);
    await router.route([record(3)]);
    expect(rids(deps.writers.get('b')?.[0])).toEqual(['r-3']);
    expect(router.health().map((h) => h.name)).toEqual(['b']);
  });

  it('re-creates a changed target after draining the old one when its spec changes', async () => {
    const deps = fakeDeps();
    const router = await make(
      {
        stateDir: await stateDir(),
        targets: [fileTarget('a', '/tmp/one')],
        routes: [route('r', { targets: [{ name: 'a' }] })],
      },
      deps,
    );
    await router.route([record(1)]);
    const report = await router.reconfigure({
      targets: [fileTarget('a', '/tmp/two')],
      routes: [route('r', { targets: [{ name: 'a' }] })],
    });
    expect(report).toMatchObject({ added: [], changed: ['a'], removed: [] });
    await router.route([record(2)]);
    const [first, second] = deps.writers.get('a') as FakeWriter[];
    expect(first?.closed).toBe(true);
    expect(rids(first)).toEqual(['r-1']);
    expect(rids(second)).toEqual(['r-2']);
  });

  it('applies a revision that fixes a back-pressured target and delivers its spool when the old one is stuck', async () => {
    const a = new FakeWriter();
    a.down = true;
    const deps = { ...fakeDeps({ a }), drainTimeoutMs: 100 };
    const spool = { maxBytes: 600 };
    const router = await make(
      {
        stateDir: await stateDir(),
        targets: [target('a', { file: { path: '/tmp/broken' }, spool })],
        routes: [route('r', { batch: { maxRecords: 2, maxDelayMs: 1 }, targets: [{ name: 'a' }] })],
      },
      deps,
    );
    let n = 0;
    while (!router.pressure()) {
      await router.route([record(++n), record(++n)]);
    }
    let settled = false;
    const blocked = router.route([record(++n), record(++n)]).then(() => {
      settled = true;
    });
    const report = await router.reconfigure({
      targets: [target('a', { file: { path: '/tmp/fixed' }, spool })],
      routes: [route('r', { batch: { maxRecords: 2, maxDelayMs: 1 }, targets: [{ name: 'a' }] })],
    });
    expect(report.changed).toEqual(['a']);
    expect(report.drains[0]).toMatchObject({ name: 'a', drained: false });
    await blocked;
    expect(settled).toBe(true);
    const fixed = deps.writers.get('a')?.[1] as FakeWriter;
    await waitFor(() => router.health()[0]?.spoolDepth === 0, 'the new runner to drain the old spool');
    expect(rids(fixed)).toEqual(Array.from({ length: n }, (_, i) => `r-${i + 1}`));
  });

  it('opens an added target and leaves an unchanged one alone when reconfigured', async () => {
    const deps = fakeDeps();
    const router = await make(
      {
        stateDir: await stateDir(),
        targets: [fileTarget('a')],
        routes: [route('r', { targets: [{ name: 'a' }] })],
      },
      deps,
    );
    const report = await router.reconfigure({
      targets: [fileTarget('a'), fileTarget('c')],
      routes: [route('r', { targets: [{ name: 'a' }, { name: 'c' }] })],
    });
    expect(report).toMatchObject({ added: ['c'], changed: [], removed: [], drains: [] });
    await router.route([record(1)]);
    expect(deps.writers.get('a')).toHaveLength(1);
    expect(rids(deps.writers.get('c')?.[0])).toEqual(['r-1']);
  });

  it('keeps the running revision when the new one has a bad filter or names a missing target', async () => {
    const deps = fakeDeps();
    const router = await make(
      {
        stateDir: await stateDir(),
        targets: [fileTarget('a')],
        routes: [route('r', { targets: [{ name: 'a' }] })],
      },
      deps,
    );
    const bad = route('r', {
      filters: { anyOf: [{ field: 'x', op: 'regex', value: '(' }] },
      targets: [{ name: 'a' }],
    });
    await expect(router.reconfigure({ targets: [fileTarget('a')], routes: [bad] })).rejects.toThrow(
      FilterError,
    );
    await expect(
      router.reconfigure({ targets: [fileTarget('a')], routes: [route('r', { targets: [{ name: 'zz' }] })] }),
    ).rejects.toThrow(TargetUnknownError);
    await router.route([record(1)]);
    expect(rids(deps.writers.get('a')?.[0])).toEqual(['r-1']);
  });

  it('spools at a down target while another target of the same route is written when one fails', async () => {
    const a = new FakeWriter();
    a.down = true;
    const deps = fakeDeps({ a });
    const router = await make(
      {
        stateDir: await stateDir(),
        targets: [fileTarget('a'), fileTarget('b')],
        routes: [route('r', { targets: [{ name: 'a' }, { name: 'b' }] })],
      },
      deps,
    );
    await router.route([record(1), record(2)]);
    expect(rids(deps.writers.get('b')?.[0])).toEqual(['r-1', 'r-2']);
    expect(router.stats().targets.a).toMatchObject({ out: 0, spooled: 2 });
    a.down = false;
    await waitFor(() => router.stats().targets.a?.out === 2, 'a to drain');
    expect(rids(a)).toEqual(['r-1', 'r-2']);
  });

  it('sets the Redis key override and the Kafka message key when the route and target declare them', async () => {
    const deps = fakeDeps();
    const router = await make(
      {
        stateDir: await stateDir(),
        targets: [
          target('r1', { redis: { url: 'redis://127.0.0.1:1', mode: 'list', key: 'base' } }),
          target('k1', { kafka: { brokers: ['k:9092'], topic: 'base', keyField: 'user' } }),
        ],
        routes: [
          route('r', {
            targets: [
              { name: 'r1', key: 'override' },
              { name: 'k1', topic: 'other' },
            ],
          }),
        ],
      },
      deps,
    );
    await router.route([record(1, { fields: { user: 'u-7' } })]);
    expect(deps.writers.get('r1')?.[0]?.got[0]).toMatchObject({ rid: 'r-1', dest: 'override' });
    expect(deps.writers.get('r1')?.[0]?.got[0]?.key).toBeUndefined();
    expect(deps.writers.get('k1')?.[0]?.got[0]).toMatchObject({ rid: 'r-1', dest: 'other', key: 'u-7' });
  });

  it('sends GSE-shaped payloads when the route format is gse', async () => {
    const deps = fakeDeps();
    const router = await make(
      {
        stateDir: await stateDir(),
        targets: [fileTarget('a')],
        routes: [route('ev', { channel: 'events', format: 'gse', targets: [{ name: 'a' }] })],
      },
      deps,
    );
    await router.route([
      record(1, {
        channel: 'events',
        fields: { type: 'disk.full', time: '2026-01-02T03:04:05Z', fields: { disk: '/data', free: 3 } },
      }),
    ]);
    const payload = JSON.parse(deps.writers.get('a')?.[0]?.got[0]?.data ?? '{}');
    expect(payload.value[0].extra).toMatchObject({ type: 6, disk: '/data', free: 3, host: '10.0.0.1' });
    expect(payload.value[0].event_raw_id).toBe(1);
  });
});
