/**
 * The cluster's Redis parts on a real redis-server: the lease and its fencing, the session directory and
 * the inboxes. Waits are conditions with generous deadlines; nothing asserts on time.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FencedWriteRefusedError } from '../../src/cluster/errors.js';
import { FencedWriter } from '../../src/cluster/fenced-writes.js';
import { Inbox, type InboxWork } from '../../src/cluster/inbox.js';
import { clusterKeys } from '../../src/cluster/keys.js';
import { LeaderLease } from '../../src/cluster/lease.js';
import { SessionDirectory } from '../../src/cluster/session-directory.js';
import type { Logger } from '../../src/kernel/logger.js';
import { clusterClient } from '../helpers/cluster-client.js';
import { waitFor } from '../helpers/controller.js';
import { type RedisHandle, startRedis } from '../helpers/redis-server.js';

const LEASE_MS = 600;

interface LogLine {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, fields });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as Logger & {
    lines: LogLine[];
  };
}

describe('cluster parts on a real Redis', () => {
  let redis: RedisHandle;
  const clients: Redis[] = [];
  const leases: LeaderLease[] = [];
  let n = 0;

  const client = async (): Promise<Redis> => {
    const c = await clusterClient(redis.url);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    for (const l of leases.splice(0)) await l.stop();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await redis?.cleanup();
  });

  /** A lease under its own prefix, recording elections. */
  const lease = async (me: string, prefix: string, logger = recordingLogger()) => {
    const events: string[] = [];
    const l = new LeaderLease({
      redis: await client(),
      keys: clusterKeys(prefix),
      me,
      leaseMs: LEASE_MS,
      logger,
      now: Date.now,
      listener: {
        elected: async (token) => {
          events.push(`elected:${token}`);
        },
        deposed: async () => {
          events.push('deposed');
        },
      },
    });
    leases.push(l);
    return { l, events, logger };
  };

  it('lets one replica lead, and another take over with a higher token once the leader stops', async () => {
    const prefix = `t${++n}:`;
    const a = await lease('a', prefix);
    const b = await lease('b', prefix);
    await a.l.start();
    await b.l.start();
    expect(a.l.isLeader()).toBe(true);
    expect(b.l.isLeader()).toBe(false);
    expect(b.l.current().holder).toBe('a');
    const tokenA = a.l.token() as number;
    await a.l.stop();
    await waitFor('b elected', () => b.l.isLeader());
    expect(b.l.token()).toBeGreaterThan(tokenA);
    expect(b.events).toEqual([`elected:${b.l.token()}`]);
  });

  it('tells a leader it was deposed when its lease is found held by another replica', async () => {
    const prefix = `t${++n}:`;
    const keys = clusterKeys(prefix);
    const a = await lease('a', prefix);
    await a.l.start();
    expect(a.l.isLeader()).toBe(true);
    const raw = await client();
    await raw.set(keys.lease, '99:b', 'PX', 10_000);
    await waitFor('a deposed', () => a.events.includes('deposed'));
    expect(a.l.isLeader()).toBe(false);
    expect(a.l.current()).toMatchObject({ role: 'follower', holder: 'b', token: 99 });
    expect(a.logger.lines.map((l) => l.msg)).toContain('lease lost: this replica follows');
  });

  it('refuses a stale leader its fenced write, and logs it, while the new leader writes', async () => {
    const prefix = `t${++n}:`;
    const keys = clusterKeys(prefix);
    const raw = await client();
    // Replica a took the lease (the acquire script a LeaderLease runs), then was paused: no renewals.
    const [token] = await raw.gseLease(keys.lease, keys.fencingToken, 'a', String(LEASE_MS));
    const staleToken = Number(token);
    const logger = recordingLogger();
    const writerA = new FencedWriter({ redis: await client(), keys, logger, token: () => staleToken });
    await writerA.set('publish revision r1', keys.revision, 'r1');
    // a's lease runs out while it is paused, and b takes the lease.
    const b = await lease('b', prefix);
    await b.l.start();
    await waitFor('b elected', () => b.l.isLeader());
    const writerB = new FencedWriter({ redis: await client(), keys, logger, token: () => b.l.token() });
    await writerB.set('publish revision r2', keys.revision, 'r2');

    const refused = writerA.set('publish revision r3', keys.revision, 'r3');
    await expect(refused).rejects.toBeInstanceOf(FencedWriteRefusedError);
    await expect(writerA.set('x', keys.revision, 'r3')).rejects.toThrow(
      /fencing token \d+ no longer holds the leader lease/,
    );
    expect(await raw.get(keys.revision)).toBe('r2');
    expect(logger.lines).toContainEqual({
      level: 'error',
      msg: 'fenced write refused: a stale leader cannot write',
      fields: { what: 'publish revision r3', token: staleToken },
    });
  });

  it('keeps a directory entry with its holder, hands it over, and sweeps it once nobody refreshes it', async () => {
    const keys = clusterKeys(`t${++n}:`);
    const a = new SessionDirectory(await client(), keys, 'a', 400);
    const b = new SessionDirectory(await client(), keys, 'b', 400);
    await a.claim('h1');
    await a.claim('h2');
    expect(await b.holderOf('h1')).toBe('a');
    // The agent of h1 reconnected to b: a's refresh says so and a lets it go.
    await b.claim('h1');
    expect(await a.refresh()).toEqual({ lost: ['h1'], back: [] });
    expect(a.holdsLocally('h1')).toBe(false);
    await a.release('h1'); // not a's any more: b's entry stays
    expect(await a.holderOf('h1')).toBe('b');
    // a dies: nobody refreshes h2 until it expires, then the sweep removes it once.
    const swept = await waitFor('h2 swept', async () => {
      const out = await b.sweepExpired();
      return out.length > 0 ? out : undefined;
    });
    expect(swept).toContainEqual({ hostId: 'h2', holder: 'a' });
    expect(await b.holders(['h2'])).toEqual(new Map());
    // a was only silent (paused): its session of h2 is still there, so it claims the entry again.
    expect(await a.refresh()).toEqual({ lost: [], back: ['h2'] });
    expect(await b.holderOf('h2')).toBe('a');
  });

  it('delivers inbox work once, and work sent before its reader started', async () => {
    const keys = clusterKeys(`t${++n}:`);
    const logger = recordingLogger();
    const sender = new Inbox(await client(), await client(), keys, 'a', logger);
    const early: InboxWork = { kind: 'sync', hostIds: ['h0'] };
    await sender.send('b', early);
    const got: InboxWork[] = [];
    const reader = new Inbox(await client(), await client(), keys, 'b', logger);
    await reader.start(async (w) => {
      got.push(w);
    });
    await sender.send('b', { kind: 'fetch' });
    await sender.send('b', { kind: 'close', agentId: 'h1', action: 'revoke' });
    await waitFor('three items', () => got.length >= 3);
    await sender.send('b', { kind: 'sync' });
    await waitFor('four items', () => got.length >= 4);
    expect(got).toEqual([
      early,
      { kind: 'fetch' },
      { kind: 'close', agentId: 'h1', action: 'revoke' },
      { kind: 'sync' },
    ]);
    const raw = await client();
    await waitFor('inbox emptied', async () => (await raw.xlen(keys.inbox('b'))) === 0);
    const readerStopped = reader.stop();
    clients.at(-2)?.disconnect(); // the reader's blocking client
    await readerStopped;
  });
});
