/**
 * What the dashboard hears without polling: the controller's parts tell this feed when something changed
 * (host writes once stored, revisions, drift, executions, remediation decisions, rollouts), and it hands each
 * change to every subscriber (GET /api/v1/events). It also keeps two short ring buffers for the dashboard's
 * plots: how long each revision took to converge, and the data path's record rates, sampled from the
 * router's in-memory counters (never the store).
 */
import type { RolloutRecord } from '../store/rollout-record.js';
import type {
  DriftRecord,
  ExecutionRecord,
  HostStateWrite,
  RevisionRecord,
  SyncState,
} from '../store/types.js';

/** Hosts named in one `hosts` event at most; the rest are counted in `more`. */
export const MAX_HOSTS_PER_EVENT = 200;
/** Drift records named in one `drift` event at most. */
export const MAX_DRIFT_PER_EVENT = 200;
/** Convergence times kept (the latest revisions). */
export const CONVERGENCE_HISTORY = 30;
/** Rate samples kept: at the default 5 s interval, the last 5 minutes. */
export const RATE_HISTORY = 60;
/** How often the data rates and target health are sampled. */
export const SAMPLE_INTERVAL_MS = 5_000;

/** A host as a `hosts` event names it. */
export interface LiveHost {
  hostId: string;
  name: string;
  syncState: SyncState;
  connected: boolean;
  revision?: string;
}

/** A target as a `targets` event names it. */
export interface LiveTarget {
  name: string;
  state: string;
  connected: boolean;
  spoolDepth: number;
}

/** How long one revision took from being applied until every connected host was Synced. */
export interface ConvergenceSample {
  sha: string;
  at: string;
  ms: number;
  hosts: number;
}

/** Records per second in and out of the router over one sample interval. */
export interface RateSample {
  at: string;
  inPerSec: number;
  outPerSec: number;
}

/** One change, as the event stream sends it (`event: <type>`, `data: <json>`). */
export type LiveEvent =
  | { type: 'hosts'; at: string; hosts: LiveHost[]; more: number }
  | {
      type: 'revision';
      at: string;
      status: 'applied' | 'rejected';
      sha: string;
      message: string;
      errors: number;
    }
  | {
      type: 'drift';
      at: string;
      items: Array<{ hostId: string; key: string; kind: string; healed: boolean }>;
      more: number;
    }
  | {
      type: 'execution';
      at: string;
      hostId: string;
      id: string;
      reason: string;
      status: string;
      resource?: string;
    }
  | {
      type: 'remediation';
      at: string;
      hostId: string;
      id: string;
      name: string;
      decision: string;
      status: string;
    }
  | { type: 'rollout'; at: string; name: string; phase: string; version: string }
  | { type: 'targets'; at: string; targets: LiveTarget[] }
  | ({ type: 'converged' } & ConvergenceSample)
  | ({ type: 'rates' } & RateSample);

export type LiveListener = (event: LiveEvent) => void;

/** What the API reads of the feed. */
export interface LiveFeedView {
  /** Calls `listener` with every change from now on; returns the unsubscribe function. */
  subscribe(listener: LiveListener): () => void;
  /** The plots' ring buffers, oldest first. */
  history(): { convergence: ConvergenceSample[]; rates: RateSample[] };
}

/** The in-memory state the convergence check and the sampler read. */
export interface LiveFeedSources {
  /** Every host the reconciler tracks: whether it is connected and its sync state. */
  hostStates(): Array<{ connected: boolean; syncState: SyncState }>;
  /** Running totals of records into and out of the router, or undefined while none runs. */
  recordTotals(): { in: number; out: number } | undefined;
  targets(): LiveTarget[];
  now(): number;
  /** Hears a listener that threw (the feed goes on with the others). */
  onListenerError(err: unknown): void;
}

export class LiveFeed implements LiveFeedView {
  private readonly listeners = new Set<LiveListener>();
  private readonly convergence: ConvergenceSample[] = [];
  private readonly rates: RateSample[] = [];
  private pending: { sha: string; since: number } | undefined;
  private lastTotals: { in: number; out: number; at: number } | undefined;
  private lastTargets = '';

  /** When the feed started: the first sample's rates count from here (the counters start at zero). */
  private readonly startedAt: number;

  constructor(private readonly sources: LiveFeedSources) {
    this.startedAt = sources.now();
  }

  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  history(): { convergence: ConvergenceSample[]; rates: RateSample[] } {
    return { convergence: [...this.convergence], rates: [...this.rates] };
  }

  /** Subscribers now (tests and metrics). */
  get subscribers(): number {
    return this.listeners.size;
  }

  /** Host records were stored: tell them, and see whether the pending revision has converged. */
  hostsWritten(writes: readonly HostStateWrite[]): void {
    if (writes.length === 0) return;
    const hosts = writes.slice(0, MAX_HOSTS_PER_EVENT).map(({ host }) => ({
      hostId: host.hostId,
      name: host.name,
      syncState: host.syncState,
      connected: host.connected,
      ...(host.revision === undefined ? {} : { revision: host.revision }),
    }));
    this.publish({ type: 'hosts', at: this.iso(), hosts, more: writes.length - hosts.length });
    this.checkConverged();
  }

  /**
   * A revision was applied (its convergence clock runs from `appliedSince`, default now, and the hosts are
   * re-planned already) or rejected.
   */
  revision(rec: RevisionRecord, appliedSince: number = this.sources.now()): void {
    const applied = rec.status !== 'rejected';
    this.publish({
      type: 'revision',
      at: this.iso(),
      status: applied ? 'applied' : 'rejected',
      sha: rec.sha,
      message: rec.message,
      errors: rec.errors.length,
    });
    if (!applied) return;
    this.pending = { sha: rec.sha, since: appliedSince };
    this.checkConverged();
  }

  drift(records: readonly DriftRecord[]): void {
    if (records.length === 0) return;
    const items = records
      .slice(0, MAX_DRIFT_PER_EVENT)
      .map((r) => ({ hostId: r.hostId, key: r.key, kind: r.kind, healed: r.healed }));
    this.publish({ type: 'drift', at: this.iso(), items, more: records.length - items.length });
  }

  /** An execution result was stored; a remediation's decision is told as its own event too. */
  execution(rec: ExecutionRecord): void {
    this.publish({
      type: 'execution',
      at: this.iso(),
      hostId: rec.hostId,
      id: rec.id,
      reason: rec.reason,
      status: rec.status,
      ...(rec.resource === undefined ? {} : { resource: rec.resource }),
    });
    const chain = rec.remediation;
    if (chain && rec.status !== 'running')
      this.publish({
        type: 'remediation',
        at: this.iso(),
        hostId: rec.hostId,
        id: rec.id,
        name: chain.name,
        decision: chain.decision,
        status: rec.status,
      });
  }

  rollout(r: RolloutRecord): void {
    this.publish({ type: 'rollout', at: this.iso(), name: r.name, phase: r.phase, version: r.version });
  }

  /** Samples the data rates and the targets' health; a `targets` event only when their health changed. */
  sample(): void {
    const now = this.sources.now();
    const totals = this.sources.recordTotals();
    if (totals) {
      // Before the first sample the counters were zero at start: records routed before it are a rate too.
      const last = this.lastTotals ?? { in: 0, out: 0, at: this.startedAt };
      // A router rebuilt by a new revision starts its counters again: a drop is a restart, not a negative rate.
      if (now > last.at && totals.in >= last.in && totals.out >= last.out) {
        const secs = (now - last.at) / 1000;
        const sample = {
          at: new Date(now).toISOString(),
          inPerSec: round((totals.in - last.in) / secs),
          outPerSec: round((totals.out - last.out) / secs),
        };
        push(this.rates, sample, RATE_HISTORY);
        this.publish({ type: 'rates', ...sample });
      }
      this.lastTotals = { ...totals, at: now };
    }
    const targets = this.sources.targets();
    const signature = JSON.stringify(targets);
    if (signature !== this.lastTargets) {
      this.lastTargets = signature;
      this.publish({ type: 'targets', at: new Date(now).toISOString(), targets });
    }
  }

  private checkConverged(): void {
    const pending = this.pending;
    if (!pending) return;
    const connected = this.sources.hostStates().filter((h) => h.connected);
    if (connected.length === 0 || connected.some((h) => h.syncState !== 'Synced')) return;
    this.pending = undefined;
    const now = this.sources.now();
    const sample = {
      sha: pending.sha,
      at: new Date(now).toISOString(),
      ms: Math.max(0, now - pending.since),
      hosts: connected.length,
    };
    push(this.convergence, sample, CONVERGENCE_HISTORY);
    this.publish({ type: 'converged', ...sample });
  }

  private publish(event: LiveEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.sources.onListenerError(err);
      }
    }
  }

  private iso(): string {
    return new Date(this.sources.now()).toISOString();
  }
}

function push<T>(ring: T[], item: T, max: number): void {
  ring.push(item);
  if (ring.length > max) ring.splice(0, ring.length - max);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
