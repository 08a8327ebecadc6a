/**
 * The leader's view of the hosts it holds no session of, for stepping rollouts over the whole cluster: what
 * each host's holder (or, for a host nobody holds, its last holder) stored of it, its record (connected,
 * agent version, last seen) and its AgentVersion statuses. Refreshed asynchronously (before a leader's step,
 * on a follower's hint, on the resync timer); read synchronously by the reconciler (`RemoteRolloutHosts`).
 */
import type { RemoteRolloutHost, RemoteRolloutHosts } from '../controller/reconciler.js';
import type { HostFacts } from '../protocol/manifest.js';
import type { RolloutHost } from '../rollout/plan.js';
import type { HostRecord, ResourceStatus, Store } from '../store/types.js';
import type { SessionDirectory } from './session-directory.js';

const PAGE = 1_000;

type Report = NonNullable<RolloutHost['report']>;

export interface RemoteRolloutViewDeps {
  /** The shared store, read only. */
  store: Pick<Store, 'listHosts' | 'listResourceStatuses'>;
  directory: Pick<SessionDirectory, 'holders' | 'holdsLocally'>;
}

export class RemoteRolloutView implements RemoteRolloutHosts {
  private snapshot = new Map<string, RemoteRolloutHost>();

  constructor(private readonly deps: RemoteRolloutViewDeps) {}

  get(hostId: string): RemoteRolloutHost | undefined {
    return this.snapshot.get(hostId);
  }

  hosts(): Iterable<RemoteRolloutHost> {
    return this.snapshot.values();
  }

  /** How many hosts the view holds. */
  get size(): number {
    return this.snapshot.size;
  }

  /**
   * Reads every stored host this replica holds no session of, its holder, and its statuses of the
   * AgentVersions named; the view is replaced at once when all is read.
   */
  async refresh(agentVersions: readonly string[]): Promise<void> {
    const records: HostRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.listHosts({ limit: PAGE, ...(cursor ? { cursor } : {}) });
      for (const rec of page.items) if (!this.deps.directory.holdsLocally(rec.hostId)) records.push(rec);
      cursor = page.nextCursor;
    } while (cursor);
    const holders = await this.deps.directory.holders(records.map((r) => r.hostId));
    const reports = new Map<string, Map<string, Report>>();
    for (const name of agentVersions) {
      for await (const status of this.statusesOf(`AgentVersion/${name}`)) {
        const report = reportOfStatus(status);
        if (!report) continue;
        const byName = reports.get(status.hostId) ?? new Map<string, Report>();
        byName.set(name, report);
        reports.set(status.hostId, byName);
      }
    }
    const next = new Map<string, RemoteRolloutHost>();
    for (const rec of records) {
      if (this.deps.directory.holdsLocally(rec.hostId)) continue; // connected here meanwhile
      next.set(rec.hostId, {
        facts: factsOfRecord(rec),
        online: remoteOnline(rec, holders.has(rec.hostId)),
        lastSeenMs: Date.parse(rec.lastSeen),
        reports: reports.get(rec.hostId) ?? new Map(),
      });
    }
    this.snapshot = next;
  }

  private async *statusesOf(key: string): AsyncGenerator<ResourceStatus> {
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.listResourceStatuses({
        key,
        limit: PAGE,
        ...(cursor ? { cursor } : {}),
      });
      yield* page.items;
      cursor = page.nextCursor;
    } while (cursor);
  }
}

/**
 * Online as the rollout planner means it: a replica holds the session (an entry past its TTL is a dead
 * replica's), the record says connected, and not Unknown (its holder stores a silent host Unknown).
 */
export function remoteOnline(rec: HostRecord, held: boolean): boolean {
  return held && rec.connected && rec.syncState !== 'Unknown';
}

/**
 * The item report a stored AgentVersion status stands for. The status is the holder's verdict on the
 * report against the item it sent (`hash`): Failed and Synced/OutOfSync mean the agent reported that very
 * item failed, or applied; Progressing and Unknown say nothing of a report (none yet, another item's, or
 * offline), so none. The planner reads a report only for "failed on the target item".
 */
export function reportOfStatus(s: ResourceStatus): Report | undefined {
  const message = s.message !== undefined ? { message: s.message } : {};
  switch (s.state) {
    case 'Failed':
      return { hash: s.hash, state: 'failed', ...message };
    case 'Synced':
      return { hash: s.hash, state: 'ok', ...message };
    case 'OutOfSync':
      // A drifted item, or one applied while the agent still runs another version (a version lag).
      return { hash: s.hash, state: 'ok', ...message };
    default:
      return undefined;
  }
}

/** A stored host as selectors see it (its effective labels). */
export function factsOfRecord(rec: HostRecord): HostFacts {
  return {
    id: rec.hostId,
    name: rec.name,
    ips: rec.ips,
    cloudId: rec.cloudId,
    ...(rec.os !== undefined && { os: rec.os }),
    ...(rec.agentVersion !== undefined && { agentVersion: rec.agentVersion }),
    labels: rec.labels,
    ...(rec.facts !== undefined && { facts: rec.facts }),
  };
}
