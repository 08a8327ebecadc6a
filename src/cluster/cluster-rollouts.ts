/**
 * Rollouts in a cluster: only the leader steps them (its writes are fenced). A follower plans its hosts with
 * the leader's decisions: it re-reads the rollouts from the store when the leader says they changed.
 */
import { type RolloutHostsOf, RolloutManager } from '../controller/rollouts.js';
import type { Revision } from '../spec/types.js';
import type { RolloutRecord } from '../store/rollout-record.js';

/** A rollout the leader still steps. */
export function isLive(r: RolloutRecord): boolean {
  return r.phase === 'Progressing' || r.phase === 'Paused';
}

export class ClusterRollouts extends RolloutManager {
  private stale = true;

  constructor(
    deps: ConstructorParameters<typeof RolloutManager>[0],
    private readonly leads: () => boolean,
    /**
     * Reads what other replicas stored of their hosts (the reconciler's remote view) before the leader
     * starts rollouts on a new revision, so a rollout starts over the whole cluster's hosts.
     */
    private readonly refreshRemote?: (agentVersions: readonly string[]) => Promise<void>,
  ) {
    super(deps);
  }

  /** The leader stored new rollout decisions: re-read them at the next step. */
  markStale(): void {
    this.stale = true;
  }

  /** Names of the rollouts the leader still steps (Progressing or Paused). */
  liveNames(): string[] {
    return this.list()
      .filter(isLive)
      .map((r) => r.name);
  }

  override async applyRevision(revision: Revision, hostsOf: RolloutHostsOf): Promise<boolean> {
    if (!this.leads()) return this.reload();
    const names = revision.byKind.AgentVersion.map((av) => av.metadata.name);
    if (names.length > 0) await this.refreshRemote?.(names);
    return super.applyRevision(revision, hostsOf);
  }

  override async advance(revision: Revision, hostsOf: RolloutHostsOf): Promise<boolean> {
    if (this.leads()) return super.advance(revision, hostsOf);
    return this.reload();
  }

  /** A follower's step: the stored decisions, when the leader changed them. */
  private async reload(): Promise<boolean> {
    if (!this.stale) return false;
    this.stale = false;
    await this.load();
    return true;
  }
}
