/**
 * The leader steps a rollout over hosts a follower holds: two reconcilers (leader, follower) on one real
 * redis-server (the Redis store and the session directory), the follower recording its hosts' connects and
 * reports as it does in `gsectl serve --redis`, the leader reading them through its remote view.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterRollouts } from '../../src/cluster/cluster-rollouts.js';
import { clusterKeys } from '../../src/cluster/keys.js';
import { RemoteRolloutView } from '../../src/cluster/remote-rollout-view.js';
import { SessionDirectory } from '../../src/cluster/session-directory.js';
import { Reconciler } from '../../src/controller/reconciler.js';
import type { ManifestAgentVersion } from '../../src/protocol/manifest.js';
import { RedisStore } from '../../src/store/redis-store.js';
import { clusterClient } from '../helpers/cluster-client.js';
import { agentVersion, idleMetrics, quietLogger, versionFacts } from '../helpers/controller-fixtures.js';
import { type RedisHandle, startRedis } from '../helpers/redis-server.js';
import { makeRevision } from '../helpers/revision.js';

const quiet = quietLogger;
const metrics = idleMetrics();
/** Long enough that no entry expires during the test. */
const TTL_MS = 600_000;
const av = (version: string) => agentVersion(version, { batchSize: 1, maxUnavailable: 1 });
const facts = versionFacts;

interface Side {
  reconciler: Reconciler;
  rollouts: ClusterRollouts;
  directory: SessionDirectory;
}

describe('RemoteRolloutView: the leader steps rollouts over a follower-held host', () => {
  let redis: RedisHandle;
  const clients: Redis[] = [];
  const stores: RedisStore[] = [];
  let view: RemoteRolloutView;
  let leader: Side;
  let follower: Side;
  let now = Date.parse('2026-01-01T00:00:00.000Z');

  const side = async (me: string, isLeader: boolean): Promise<Side> => {
    const client = await clusterClient(redis.url);
    clients.push(client);
    const store = await RedisStore.open(redis.url);
    stores.push(store);
    const directory = new SessionDirectory(client, clusterKeys(), me, TTL_MS);
    const remote = isLeader ? new RemoteRolloutView({ store, directory }) : undefined;
    const rollouts = new ClusterRollouts(
      { store, now: () => now },
      () => isLeader,
      remote && ((names) => remote.refresh(names)),
    );
    if (remote) view = remote;
    const reconciler = new Reconciler({
      store,
      hub: { send: () => true },
      metrics,
      logger: quiet,
      now: () => now,
      newId: () => `id-${now++}`,
      rollouts,
      ...(remote && { remoteRolloutHosts: remote }),
    });
    return { reconciler, rollouts, directory };
  };

  /** The follower's host reports its manifest, its AgentVersion item `failed` when asked. */
  const report = async (id: string, failed?: string) => {
    const m = follower.reconciler.desiredFor(id);
    if (!m) throw new Error(`no manifest for ${id}`);
    await follower.reconciler.hostReported(id, {
      v: 1,
      type: 'report',
      id: `r-${now++}`,
      manifestHash: m.hash,
      revision: m.revision,
      items: m.items.map((i) => ({
        kind: i.kind,
        name: i.name,
        hash: i.hash,
        state: failed && i.kind === 'AgentVersion' ? 'failed' : 'ok',
        ...(failed && i.kind === 'AgentVersion' && { message: failed }),
      })),
    });
  };
  /** The follower's host (re)connects running `version`, then reports. */
  const connect = async (id: string, version: string) => {
    await follower.directory.claim(id);
    await follower.reconciler.hostConnected(facts(id, version), '');
    await report(id);
  };
  /** The follower hears the leader stored a decision and re-plans its hosts. */
  const followerHears = async () => {
    follower.rollouts.markStale();
    await follower.reconciler.stepRollouts();
  };
  const itemOf = (id: string) =>
    follower.reconciler
      .desiredFor(id)
      ?.items.find((i): i is ManifestAgentVersion => i.kind === 'AgentVersion');

  beforeAll(async () => {
    redis = await startRedis();
    leader = await side('ctl-a', true);
    follower = await side('ctl-b', false);
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    for (const c of clients) c.disconnect();
    await redis?.cleanup();
  });

  it('sees the version and AgentVersion report a follower stored, and steps and pauses on them', async () => {
    const rev1 = makeRevision([av('1.0.0')], {}, 'rev-1');
    await leader.reconciler.setRevision(rev1);
    await follower.reconciler.setRevision(rev1);
    // h1 was on the leader before: its memory holds it offline once it moved to the follower.
    await leader.directory.claim('h1');
    await leader.reconciler.hostConnected(facts('h1', '1.0.0'), '');
    await leader.directory.release('h1');
    await leader.reconciler.hostDisconnected('h1');
    for (const id of ['h1', 'h2']) await connect(id, '1.0.0');

    await view.refresh(['agents']);
    expect(leader.reconciler.rolloutHostsOf(av('1.0.0'))).toEqual([
      {
        id: 'h1',
        online: true,
        runningVersion: '1.0.0',
        report: { hash: itemOf('h1')?.hash, state: 'ok' },
      },
      {
        id: 'h2',
        online: true,
        runningVersion: '1.0.0',
        report: { hash: itemOf('h2')?.hash, state: 'ok' },
      },
    ]);

    // Git asks for 2.0.0: the leader starts over both hosts (it read the view first), h1 in batch 1.
    const rev2 = makeRevision([av('2.0.0')], {}, 'rev-2');
    await leader.reconciler.setRevision(rev2);
    expect(leader.rollouts.get('agents')).toMatchObject({
      version: '2.0.0',
      hosts: ['h1', 'h2'],
      reached: 1,
    });
    await followerHears();
    await follower.reconciler.setRevision(rev2);
    expect([itemOf('h1')?.version, itemOf('h2')?.version]).toEqual(['2.0.0', '1.0.0']);

    // h1 upgrades on the follower: the leader sees it run 2.0.0 and reaches h2.
    await connect('h1', '2.0.0');
    await view.refresh(['agents']);
    expect(leader.reconciler.rolloutHostsOf(av('2.0.0')).find((h) => h.id === 'h1')).toMatchObject({
      online: true,
      runningVersion: '2.0.0',
    });
    await leader.reconciler.stepRollouts();
    expect(leader.rollouts.get('agents')).toMatchObject({ phase: 'Progressing', reached: 2 });
    await followerHears();
    expect(itemOf('h2')?.version).toBe('2.0.0');

    // h2's upgrade fails: the follower stores the report, the leader pauses the rollout on it.
    await report('h2', 'download failed: 404');
    await view.refresh(['agents']);
    expect(leader.reconciler.rolloutHostsOf(av('2.0.0')).find((h) => h.id === 'h2')).toEqual({
      id: 'h2',
      online: true,
      runningVersion: '1.0.0',
      report: { hash: itemOf('h2')?.hash, state: 'failed', message: 'download failed: 404' },
    });
    await leader.reconciler.stepRollouts();
    expect(leader.rollouts.get('agents')).toMatchObject({
      phase: 'Paused',
      failures: [{ hostId: 'h2', batch: 2, message: 'download failed: 404' }],
    });
  });

  // Goes on from the state the test above left.
  it('counts a follower-held host offline once its session ends there, from its stored last seen', async () => {
    await follower.directory.release('h2');
    await follower.reconciler.hostDisconnected('h2');
    await view.refresh(['agents']);
    const stored = await stores[0]?.getHost('h2');
    expect(leader.reconciler.rolloutHostsOf(av('2.0.0')).find((h) => h.id === 'h2')).toMatchObject({
      online: false,
      lastSeenMs: Date.parse(stored?.lastSeen ?? ''),
    });
    // A host connected to the leader itself is read from its memory, never from the view.
    await leader.directory.claim('h2');
    await leader.reconciler.hostConnected(facts('h2', '1.0.0'), '');
    expect(view.get('h2')).toBeDefined();
    expect(leader.reconciler.rolloutHostsOf(av('2.0.0')).find((h) => h.id === 'h2')).toMatchObject({
      online: true,
    });
    await view.refresh(['agents']);
    expect(view.get('h2')).toBeUndefined();
  });
});
