/** The API's rollouts over the controller's RolloutManager and Reconciler. */
import type { ApiRollouts, RolloutView } from '../api/port.js';
import { agentVersionItem } from '../rollout/item.js';
import { batchCount, rolloutProgress } from '../rollout/plan.js';
import type { RolloutRecord } from '../store/rollout-record.js';
import type { Reconciler } from './reconciler.js';
import { RolloutActionError, type RolloutManager } from './rollouts.js';

/**
 * Does a rollout command elsewhere (the cluster's leader) and answers true, or false to do it here;
 * absent, every command is done here.
 */
export type RemoteRolloutAction = (
  action: 'pause' | 'resume' | 'undo',
  name: string,
  actor: string,
) => Promise<boolean>;

/** The rollout routes' port: views with per-host state, and actions that re-plan the fleet at once. */
export function rolloutApi(
  rollouts: RolloutManager,
  reconciler: Reconciler,
  remote?: RemoteRolloutAction,
): ApiRollouts {
  const view = (r: RolloutRecord): RolloutView => {
    const av = reconciler.current?.byKind.AgentVersion.find((a) => a.metadata.name === r.name);
    const hosts = av ? reconciler.rolloutHostsOf(av) : [];
    const hash = av
      ? agentVersionItem(av, { version: r.version, artifact: r.artifact, attempt: r.attempt }).hash
      : '';
    const p = rolloutProgress(r, hosts, hash, rollouts.now());
    const batches = batchCount(r);
    return {
      rollout: r,
      batch: Math.min(r.phase === 'Completed' ? batches : r.reached, batches),
      batches,
      counts: p.counts,
      hosts: p.hosts,
    };
  };
  const hostsFor = (name: string) => {
    const av = reconciler.current?.byKind.AgentVersion.find((a) => a.metadata.name === name);
    return av ? reconciler.rolloutHostsOf(av) : [];
  };
  const after = async (r: RolloutRecord) => {
    await reconciler.replanAll();
    await reconciler.stepRollouts();
    return view(rollouts.get(r.name) ?? r);
  };
  /** The record after the leader did the command, or undefined to do it here. */
  const forwarded = async (action: 'pause' | 'resume' | 'undo', name: string, actor: string) => {
    if (!remote || !(await remote(action, name, actor))) return undefined;
    const r = rollouts.get(name);
    if (!r) throw new RolloutActionError(404, `no rollout "${name}"`);
    return r;
  };
  return {
    list: async () => rollouts.list().map(view),
    get: async (name) => {
      const r = rollouts.get(name);
      return r ? view(r) : undefined;
    },
    pause: async (name, actor) =>
      after((await forwarded('pause', name, actor)) ?? (await rollouts.pause(name, actor))),
    resume: async (name, actor) =>
      after((await forwarded('resume', name, actor)) ?? (await rollouts.resume(name))),
    undo: async (name, actor) =>
      after((await forwarded('undo', name, actor)) ?? (await rollouts.undo(name, hostsFor(name)))),
  };
}
