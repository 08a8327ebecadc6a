/** A follower plans with the leader's rollout decisions and never steps them itself. */
import { describe, expect, it } from 'vitest';
import { ClusterRollouts } from '../../src/cluster/cluster-rollouts.js';
import type { RolloutHost } from '../../src/rollout/plan.js';
import type { AgentVersion } from '../../src/spec/types.js';
import { MemoryStore, MemoryStoreData } from '../../src/store/memory-store.js';
import { makeRevision } from '../helpers/revision.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

const av: AgentVersion = {
  apiVersion: 'gse/v1',
  kind: 'AgentVersion',
  metadata: { name: 'agents' },
  pos: { file: 'a.yaml', line: 1, col: 1 },
  spec: {
    version: '2.0.0',
    artifact: { sha256: '2'.padEnd(64, '0') },
    hosts: { names: ['*'] },
    rollout: {
      batchSize: 1,
      maxUnavailable: 0,
      maxFailures: 0,
      pauseBetweenMs: 0,
      healthDeadlineMs: 30_000,
      mode: 'auto',
    },
  },
};
const hosts = (): RolloutHost[] => [
  { id: 'h1', online: true, runningVersion: '1.0.0' },
  { id: 'h2', online: true, runningVersion: '1.0.0' },
];

describe('ClusterRollouts', () => {
  it('starts rollouts on the leader, and a follower plans with what the leader stored', async () => {
    const data = new MemoryStoreData();
    let leads = true;
    const leader = new ClusterRollouts({ store: MemoryStore.open(data), now: () => T0 }, () => leads);
    const revision = makeRevision([av]);
    await leader.applyRevision(revision, hosts);
    expect(leader.get('agents')?.version).toBe('2.0.0');

    const followerStore = MemoryStore.open(data);
    let puts = 0;
    const counting = new Proxy(followerStore, {
      get(target, prop) {
        if (prop === 'putRollout') puts++;
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const follower = new ClusterRollouts({ store: counting, now: () => T0 }, () => false);
    // A follower reads the decisions once, then only when the leader says they changed.
    expect(await follower.applyRevision(revision, hosts)).toBe(true);
    expect(follower.get('agents')?.generation).toBe(leader.get('agents')?.generation);
    expect(await follower.advance(revision, hosts)).toBe(false);
    leads = true;
    await leader.pause('agents', 'ops');
    follower.markStale();
    expect(await follower.advance(revision, hosts)).toBe(true);
    expect(follower.get('agents')?.phase).toBe('Paused');
    expect(puts).toBe(0);
  });
});
