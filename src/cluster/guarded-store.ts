/**
 * The store as a replica's parts see it in a cluster: a host's record and statuses are written only by the
 * replica holding its session (or by anyone when no replica does: it is offline), so a replica never
 * overwrites a live host of another as Unknown; leader-only state (rollouts, agent.lost state and budgets)
 * goes through fenced writes. The reconciler's batch (`putHostStates`, every host write on the hot path) is
 * checked in the same Redis script as it is written; the single writes check first, then write.
 */

import { redisLayout } from '../store/redis-kinds.js';
import type { RolloutRecord } from '../store/rollout-record.js';
import { parseRollout } from '../store/rollout-record.js';
import { stateJson } from '../store/shared.js';
import type { HostRecord, HostStateWrite, JsonValue, ResourceStatus, Store } from '../store/types.js';
import type { FencedWriter } from './fenced-writes.js';
import type { SessionDirectory } from './session-directory.js';

/** Who may write a host's record: this replica holds it, or nobody does. */
export type HostWriteGuard = (hostId: string) => Promise<boolean>;

/**
 * The guard on the session directory: this replica holds the host's session, or no replica does. "Holds" is
 * this replica's own belief only while the session is live here (`sessionLive`): once it ended, the belief
 * lasts until its disconnect releases the entry, and meanwhile the agent may have moved to another replica,
 * whose writes a late one from here must not overwrite. Then Redis decides: the entry still ours, or none.
 */
export function hostWriteGuard(
  directory: SessionDirectory,
  sessionLive: (hostId: string) => boolean,
): HostWriteGuard {
  return async (hostId) => {
    if (directory.holdsLocally(hostId) && sessionLive(hostId)) return true;
    const holder = (await directory.holders([hostId])).get(hostId);
    return holder === undefined || holder === directory.me;
  };
}

/** Events the leader publishes after a fenced rollout write. */
export const ROLLOUTS_CHANGED = 'rollouts';

/**
 * `store` with host writes guarded: the batch by `putHostStates` (the guard inside the write, the cluster's
 * `writeHostStates`), single writes by `mayWrite`; leader-only writes fenced through `fenced`.
 */
export function guardedStore(
  store: Store,
  opts: {
    mayWrite: HostWriteGuard;
    putHostStates: (writes: HostStateWrite[]) => Promise<unknown>;
    fenced: FencedWriter;
    prefix: string;
  },
): Store {
  const layout = redisLayout(opts.prefix);
  const overrides: Partial<Store> = {
    upsertHost: async (rec: HostRecord) => {
      if (await opts.mayWrite(rec.hostId)) await store.upsertHost(rec);
    },
    putResourceStatuses: async (hostId: string, statuses: ResourceStatus[]) => {
      if (await opts.mayWrite(hostId)) await store.putResourceStatuses(hostId, statuses);
    },
    // The reconciler's per-tick batch: each host written unless another replica holds it.
    putHostStates: async (writes: HostStateWrite[]) => {
      await opts.putHostStates(writes);
    },
    setState: (key: string, value: JsonValue) =>
      opts.fenced.set(`state ${key}`, layout.state(key), stateJson(key, value)),
    putRollout: (record: RolloutRecord) =>
      opts.fenced.hset(
        `rollout ${record.name}`,
        layout.rollouts,
        record.id,
        JSON.stringify(parseRollout(record)),
        ROLLOUTS_CHANGED,
      ),
  };
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && prop in overrides) return overrides[prop as keyof Store];
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
