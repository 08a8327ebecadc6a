/**
 * Rollout hints between replicas on a real redis-server: two real Clusters and Replicas, the controller's
 * parts faked. A follower's host change reaches the leader through its inbox, and the leader refreshes its
 * remote view, then steps; a follower told of a new decision re-plans at once.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/cluster/cluster.js';
import type { ClusterRollouts } from '../../src/cluster/cluster-rollouts.js';
import { ROLLOUTS_CHANGED } from '../../src/cluster/guarded-store.js';
import { clusterKeys } from '../../src/cluster/keys.js';
import type { RemoteRolloutView } from '../../src/cluster/remote-rollout-view.js';
import { Replica, type ReplicaParts } from '../../src/cluster/replica.js';
import { silentLogger } from '../../src/kernel/logger.js';
import type { Store } from '../../src/store/types.js';
import { waitFor } from '../helpers/controller.js';
import { type RedisHandle, startRedis } from '../helpers/redis-server.js';

const LEASE_MS = 600;

interface Member {
  replica: Replica;
  /** What the fake parts were asked, in order. */
  calls: string[];
  live: string[];
  stale: number;
}

describe('Replica rollout hints', () => {
  let redis: RedisHandle;
  const members: Member[] = [];

  const join = async (id: string): Promise<Member> => {
    const m: Member = { replica: undefined as unknown as Replica, calls: [], live: [], stale: 0 };
    const parts = {
      store: {} as Store,
      hub: { send: () => false, revoke: async () => undefined, reset: async () => undefined },
      rollouts: {
        liveNames: () => m.live,
        markStale: () => {
          m.stale++;
        },
        load: async () => {},
      } as unknown as ClusterRollouts,
      rolloutView: {
        refresh: async (names: readonly string[]) => {
          m.calls.push(`refresh:${names.join(',')}`);
        },
      } as unknown as RemoteRolloutView,
      stepRollouts: async () => {
        m.calls.push('step');
      },
      logger: silentLogger,
      localHosts: () => [],
      currentRevisionId: () => undefined,
      applyRevision: async () => {},
      startLeading: async () => {},
      stopLeading: async () => {},
      forceSyncLocal: async () => [],
      fetchLocal: async () => undefined,
      sessionsReclaimed: async () => {},
      rolloutLocal: async () => undefined,
      deliverResult: async () => {},
    } satisfies ReplicaParts;
    const cluster = await Cluster.open(
      { redisUrl: redis.url, replicaId: id, leaseMs: LEASE_MS },
      silentLogger,
    );
    m.replica = new Replica(cluster, parts);
    await cluster.start(m.replica.hooks());
    members.push(m);
    return m;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const m of members) {
      await m.replica.stop();
      await m.replica.cluster.stop();
    }
    await redis?.cleanup();
  });

  it("steps the leader on a follower's hint while a rollout is live, after reading the remote view", async () => {
    const a = await join('ctl-a');
    await waitFor('ctl-a leading', async () => a.replica.leads());
    const b = await join('ctl-b');
    await waitFor('ctl-b seeing the leader', async () => b.replica.cluster.leader() === 'ctl-a');
    // Elected, the leader stepped once (nothing live: no view to read).
    await waitFor('the elected leader stepping', async () => a.calls.includes('step'));
    await a.replica.rolloutsIdle();
    a.calls.length = 0;

    a.live = ['agents'];
    b.live = ['agents'];
    // A batch's hosts report at about the same time: one hint, one step.
    b.replica.rolloutHostChanged();
    b.replica.rolloutHostChanged();
    b.replica.rolloutHostChanged();
    await b.replica.rolloutsIdle();
    await waitFor('the leader stepping on the hint', async () => a.calls.includes('step'));
    await a.replica.rolloutsIdle();
    expect(a.calls).toEqual(['refresh:agents', 'step']);
    // The leader's own host changes are its reconciler's to step on: no hint, no step here.
    a.calls.length = 0;
    a.replica.rolloutHostChanged();
    await a.replica.rolloutsIdle();
    expect(a.calls).toEqual([]);
  });

  it('re-plans a follower at once when the leader announces a decision, and not the leader', async () => {
    const [a, b] = members as [Member, Member];
    a.calls.length = 0;
    b.calls.length = 0;
    const staleBefore = b.stale;
    const pub = new Redis(redis.url);
    await pub.publish(clusterKeys().events, ROLLOUTS_CHANGED);
    pub.disconnect();
    await waitFor('the follower re-planning', async () => b.calls.includes('step'));
    await b.replica.rolloutsIdle();
    await a.replica.rolloutsIdle();
    // The follower reads the decisions first (step), then the others' hosts for its views.
    expect(b.calls).toEqual(['step', 'refresh:agents']);
    expect(b.stale).toBe(staleBefore + 1);
    expect(a.calls).toEqual([]);
  });
});
