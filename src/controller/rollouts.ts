/**
 * The controller's rollouts: keeps the live rollout of each AgentVersion, applies the pure planner
 * (src/rollout/plan.ts) when the revision or a host changes, and persists what changed. The planner
 * decides; this only loads, stores and answers what a host must run.
 */
import type { HostFacts } from '../protocol/manifest.js';
import { agentVersionItem } from '../rollout/item.js';
import {
  advanceRollout,
  assignmentFor,
  endRollout,
  gitChanged,
  hostIndex,
  pauseRollout,
  type RolloutHost,
  resumeRollout,
  startRollout,
  undoRollout,
} from '../rollout/plan.js';
import type { AgentVersion, Revision } from '../spec/types.js';
import type { RolloutRecord } from '../store/rollout-record.js';
import type { Store } from '../store/types.js';
import type { VersionsOf } from './plan.js';

/** Selected hosts of an AgentVersion, as the planner sees them. */
export type RolloutHostsOf = (av: AgentVersion) => RolloutHost[];

/** An operator action the rollout cannot take now (no such rollout, nothing to undo). */
export class RolloutActionError extends Error {
  override readonly name = 'RolloutActionError';
  constructor(
    readonly status: 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

export class RolloutManager {
  private readonly live = new Map<string, RolloutRecord>();
  private readonly indexes = new Map<string, Map<string, number>>();

  constructor(
    private readonly deps: {
      store: Pick<Store, 'putRollout' | 'listRollouts'>;
      now(): number;
      /** Told when a rollout turns Paused (a failed batch or an operator), once stored. */
      onPaused?(r: RolloutRecord): Promise<void>;
      /** Told every rollout state once stored (the dashboard's live feed); must not throw. */
      onSaved?(r: RolloutRecord): void;
    },
  ) {}

  /** The clock the rollouts are stepped with (views use it for the same verdicts). */
  now(): number {
    return this.deps.now();
  }

  /** Loads the latest rollout of each name (a restarted controller resumes them). */
  async load(): Promise<void> {
    for (const r of await this.deps.store.listRollouts()) this.remember(r);
  }

  /** Every rollout's latest record, by name. */
  list(): RolloutRecord[] {
    return [...this.live.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get(name: string): RolloutRecord | undefined {
    return this.live.get(name);
  }

  /** What each host must run, for the planner. */
  versionsOf(): VersionsOf {
    return (name: string, host: HostFacts) => {
      const r = this.live.get(name);
      if (!r || r.phase === 'Superseded') return undefined;
      return assignmentFor(r, host.id, host.agentVersion, this.indexes.get(name) ?? hostIndex(r));
    };
  }

  /** A new revision: starts, supersedes or ends rollouts, then steps them. True when assignments changed. */
  async applyRevision(revision: Revision, hostsOf: RolloutHostsOf): Promise<boolean> {
    const now = this.deps.now();
    const names = new Set(revision.byKind.AgentVersion.map((av) => av.metadata.name));
    for (const [name, r] of this.live) {
      if (!names.has(name) && r.phase !== 'Superseded')
        await this.save(endRollout(r, `AgentVersion ${name} was removed from Git (${revision.id})`, now));
    }
    for (const av of revision.byKind.AgentVersion) {
      const current = this.live.get(av.metadata.name);
      if (current && current.phase !== 'Superseded' && !gitChanged(av, current)) continue;
      // A finished rollout stays Completed; a live one ends superseded.
      if (current && (current.phase === 'Progressing' || current.phase === 'Paused'))
        await this.save(endRollout(current, `superseded by ${av.spec.version} (${revision.id})`, now));
      await this.save(startRollout(av, hostsOf(av), revision.id, current, now));
    }
    return this.advance(revision, hostsOf);
  }

  /** One planner step of every live rollout; true when what some host must run may have changed. */
  async advance(revision: Revision, hostsOf: RolloutHostsOf): Promise<boolean> {
    let changed = false;
    for (const av of revision.byKind.AgentVersion) {
      const r = this.live.get(av.metadata.name);
      if (!r || r.phase === 'Superseded' || r.phase === 'Completed') continue;
      const hash = agentVersionItem(av, {
        version: r.version,
        artifact: r.artifact,
        attempt: r.attempt,
      }).hash;
      const step = advanceRollout(r, hostsOf(av), hash, this.deps.now());
      if (!step.changed) continue;
      changed ||=
        step.record.reached !== r.reached ||
        step.record.phase !== r.phase ||
        step.record.hosts.length !== r.hosts.length;
      await this.save(step.record);
    }
    return changed;
  }

  /** Pauses a live rollout. */
  async pause(name: string, actor: string): Promise<RolloutRecord> {
    const r = this.liveOrThrow(name);
    return this.save(pauseRollout(r, `paused by ${actor}`, this.deps.now()));
  }

  /** Resumes a paused rollout (next attempt) or allows a manual one its next batch. */
  async resume(name: string): Promise<RolloutRecord> {
    return this.save(resumeRollout(this.liveOrThrow(name), this.deps.now()));
  }

  /** Starts a rollout back to the version before. */
  async undo(name: string, hosts: RolloutHost[]): Promise<RolloutRecord> {
    const r = this.live.get(name);
    if (!r) throw new RolloutActionError(404, `no rollout "${name}"`);
    const next = undoRollout(r, hosts, this.deps.now());
    if (!next) throw new RolloutActionError(409, `rollout "${name}" has no previous version to return to`);
    await this.save(endRollout(r, `undone: back to ${next.version}`, this.deps.now()));
    return this.save(next);
  }

  private liveOrThrow(name: string): RolloutRecord {
    const r = this.live.get(name);
    if (!r) throw new RolloutActionError(404, `no rollout "${name}"`);
    if (r.phase === 'Superseded' || r.phase === 'Completed')
      throw new RolloutActionError(409, `rollout "${name}" is ${r.phase}`);
    return r;
  }

  private async save(r: RolloutRecord): Promise<RolloutRecord> {
    await this.deps.store.putRollout(r);
    const was = this.live.get(r.name)?.phase;
    this.remember(r);
    this.deps.onSaved?.(r);
    if (r.phase === 'Paused' && was !== 'Paused') await this.deps.onPaused?.(r);
    return r;
  }

  private remember(r: RolloutRecord): void {
    const held = this.live.get(r.name);
    if (held && held.generation > r.generation) return;
    this.live.set(r.name, r);
    this.indexes.set(r.name, hostIndex(r));
  }
}
