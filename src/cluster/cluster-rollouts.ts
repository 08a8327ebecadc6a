/**
 * Rollouts in a cluster: only the leader steps them (its writes are fenced). A follower plans its hosts with
 * the leader's decisions: it re-reads the rollouts from the store when the leader says they changed.
 */
import { type RolloutHostsOf, RolloutManager } from '../controller/rollouts.js';
import type { Revision } from '../spec/types.js';

export class ClusterRollouts extends RolloutManager {
  private stale = true;

  constructor(
    deps: ConstructorParameters<typeof RolloutManager>[0],
    private readonly leads: () => boolean,
  ) {
    super(deps);
  }

  /** The leader stored new rollout decisions: re-read them at the next step. */
  markStale(): void {
    this.stale = true;
  }

  override async applyRevision(revision: Revision, hostsOf: RolloutHostsOf): Promise<boolean> {
    if (this.leads()) return super.applyRevision(revision, hostsOf);
    return this.reload();
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
