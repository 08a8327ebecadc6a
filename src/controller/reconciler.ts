/**
 * The reconcile loop: level-triggered. Whenever the revision changes, a host connects or reports, or the
 * resync timer fires, each host's desired manifest is compared with what it last reported, and the host
 * is sent what differs. The agent owns the apply; this records what it says (sync state, drift).
 */
import type { HostFacts, HostManifest } from '../protocol/manifest.js';
import type { ItemReport, ManifestMessage, ReportMessage } from '../protocol/messages.js';
import type { Revision } from '../spec/types.js';
import type { DriftRecord, HostRecord, ResourceStatus, Store } from '../store/types.js';
import { manifestMessage } from './delta.js';
import type { ControllerMetrics } from './metrics.js';
import { type PlanError, planHost, selectableHost } from './plan.js';
import type { SelectableHost } from './select.js';
import { hostSyncState, itemSyncState, type SyncState } from './sync-state.js';

/** What the reconciler needs of the fleet hub. */
export interface HubPort {
  send(agentId: string, msg: ManifestMessage): boolean;
}

export interface ReconcilerLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface ReconcilerDeps {
  store: Store;
  hub: HubPort;
  metrics: ControllerMetrics;
  logger: ReconcilerLogger;
  now(): number;
  newId(): string;
}

/** A sent manifest not reported on within this is sent again at the next resync. */
export const PROGRESS_DEADLINE_MS = 30_000;
export const BASE_RETRY_DELAY_MS = 1_000;
export const MAX_RETRY_DELAY_MS = 5 * 60_000;

/** What the controller keeps in memory about one host. */
interface HostRuntime {
  facts: HostFacts;
  connected: boolean;
  /** Connected, but its heartbeat is overdue: state Unknown until it is heard from again. */
  silent?: boolean;
  firstSeen: string;
  lastSeen: string;
  desired?: HostManifest;
  /** The host as selectors see it under the current revision (kept for the data path's per-record matching). */
  selectable?: SelectableHost;
  planErrors: PlanError[];
  /** Manifests sent and not yet superseded, by hash, so a report can be matched to what the host holds. */
  sent: Map<string, HostManifest>;
  sentHash?: string;
  sentAt?: number;
  reportedHash?: string;
  reportedRevision?: string;
  lastReportAt?: string;
  items: ItemReport[];
  /** A report arrived since this controller started: `items` says how each resource is. */
  itemsKnown: boolean;
  retry?: { attempts: number; nextAt: number };
  /**
   * Why the desired manifest could not be sent (the hub refused it: too large for a frame, or the session
   * is gone). The host is Failed with this reason until a send succeeds; never Synced or Progressing.
   */
  sendError?: string;
  syncState: SyncState;
}

/** The resource key under which a host's send failure is shown in its resource statuses. */
export const SEND_ERROR_KEY = 'Manifest/send';

/** Capped exponential delay before the n-th retry (1-based) of a host whose apply failed. */
export function retryDelayMs(attempt: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, BASE_RETRY_DELAY_MS * 2 ** Math.max(0, attempt - 1));
}

export class Reconciler {
  private revision: Revision | undefined;
  private readonly hosts = new Map<string, HostRuntime>();

  constructor(private readonly deps: ReconcilerDeps) {}

  /** The revision being reconciled. */
  get current(): Revision | undefined {
    return this.revision;
  }

  /** Hosts known in memory with their state (for the API and metrics). */
  hostStates(): Array<{ hostId: string; connected: boolean; syncState: SyncState }> {
    return [...this.hosts.values()].map((h) => ({
      hostId: h.facts.id,
      connected: h.connected,
      syncState: h.syncState,
    }));
  }

  /** The manifest a host should hold now, if it is known. */
  desiredFor(hostId: string): HostManifest | undefined {
    return this.hosts.get(hostId)?.desired;
  }

  /** The host as route selectors see it: Git's labels apart from what its agent declared. */
  selectableFor(hostId: string): SelectableHost | undefined {
    const host = this.hosts.get(hostId);
    if (!host) return undefined;
    return host.selectable ?? { ...host.facts, labels: {}, agentLabels: host.facts.labels };
  }

  /** Why the host's manifest could not be sent, while that lasts. */
  sendErrorFor(hostId: string): string | undefined {
    return this.hosts.get(hostId)?.sendError;
  }

  /** What a host last reported about each resource. */
  reportedItems(hostId: string): ItemReport[] {
    return this.hosts.get(hostId)?.items ?? [];
  }

  /**
   * A manual sync: sends the full manifest to the given connected hosts (all when omitted), so each agent
   * re-verifies and re-applies every resource, whatever its selfHeal policy. Returns the hosts sent to.
   */
  async forceSync(hostIds?: string[]): Promise<string[]> {
    const sent: HostRuntime[] = [];
    for (const host of this.hosts.values()) {
      if (!host.connected || (hostIds && !hostIds.includes(host.facts.id))) continue;
      host.reportedHash = undefined;
      host.sentHash = undefined;
      host.sent.clear();
      this.dispatch(host);
      sent.push(host);
    }
    // Stored as Progressing at once, so `sync --wait` waits for the hosts' reports.
    for (const host of sent) await this.persist(host);
    return sent.map((h) => h.facts.id);
  }

  /** What the planner could not render for a host. */
  planErrorsFor(hostId: string): PlanError[] {
    return this.hosts.get(hostId)?.planErrors ?? [];
  }

  /**
   * Loads the hosts the store knows (after a restart) as not connected, so status lists them as Unknown
   * until their agents return.
   */
  async restore(): Promise<void> {
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.listHosts({ limit: 1000, cursor });
      for (const h of page.items) {
        if (this.hosts.has(h.hostId)) continue;
        const host: HostRuntime = {
          facts: {
            id: h.hostId,
            name: h.name,
            ips: h.ips,
            cloudId: h.cloudId,
            os: h.os,
            agentVersion: h.agentVersion,
            labels: h.labels,
            facts: h.facts,
          },
          connected: false,
          firstSeen: h.firstSeen,
          lastSeen: h.lastSeen,
          planErrors: [],
          sent: new Map(),
          items: [],
          itemsKnown: false,
          syncState: 'Unknown',
          reportedHash: h.reportedHash,
          reportedRevision: h.revision,
          lastReportAt: h.lastReportAt,
        };
        this.hosts.set(h.hostId, host);
        if (h.connected) await this.persist(host);
      }
      cursor = page.nextCursor;
    } while (cursor);
  }

  /** A new accepted revision: re-plan every known host and send what changed to the connected ones. */
  async setRevision(revision: Revision): Promise<void> {
    const end = this.deps.metrics.reconcileSeconds.startTimer({ trigger: 'revision' });
    this.revision = revision;
    for (const host of this.hosts.values()) {
      this.replan(host);
      host.retry = undefined;
      if (host.connected) this.dispatch(host);
    }
    await this.persistAll();
    end();
  }

  /** An agent connected (hello accepted): record it and send it its manifest unless it holds it already. */
  async hostConnected(facts: HostFacts, heldHash: string): Promise<void> {
    const nowIso = new Date(this.deps.now()).toISOString();
    let host = this.hosts.get(facts.id);
    if (!host) {
      const stored = await this.deps.store.getHost(facts.id);
      host = {
        facts,
        connected: true,
        firstSeen: stored?.firstSeen ?? nowIso,
        lastSeen: nowIso,
        planErrors: [],
        sent: new Map(),
        items: [],
        itemsKnown: false,
        syncState: 'Unknown',
        reportedHash: stored?.reportedHash,
        reportedRevision: stored?.revision,
      };
      this.hosts.set(facts.id, host);
    }
    host.facts = facts;
    host.connected = true;
    host.silent = false;
    host.lastSeen = nowIso;
    // What the agent says it holds is the truth; forget what we sent to a previous session. When this
    // controller has no report of the host's resources yet (it restarted), the full manifest goes out
    // anyway: the agent re-verifies and reports, rather than the host staying Progressing.
    host.reportedHash = host.itemsKnown ? heldHash || undefined : undefined;
    host.sentHash = undefined;
    host.retry = undefined;
    this.replan(host);
    this.dispatch(host);
    await this.persist(host);
  }

  /** An agent's session ended. */
  async hostDisconnected(hostId: string): Promise<void> {
    const host = this.hosts.get(hostId);
    if (!host) return;
    host.connected = false;
    host.lastSeen = new Date(this.deps.now()).toISOString();
    await this.persist(host);
  }

  /** Marks a host seen (any frame), without a store write. */
  touch(hostId: string): void {
    const host = this.hosts.get(hostId);
    if (host) host.lastSeen = new Date(this.deps.now()).toISOString();
  }

  /** Sets which connected hosts have gone silent (heartbeat overdue); their state is Unknown meanwhile. */
  async setSilent(silentIds: ReadonlySet<string>): Promise<void> {
    for (const host of this.hosts.values()) {
      const silent = host.connected && silentIds.has(host.facts.id);
      if (Boolean(host.silent) === silent) continue;
      host.silent = silent;
      await this.persist(host);
    }
  }

  /** A report from an agent: record per-resource state and drift; retry or re-send as needed. */
  async hostReported(hostId: string, report: ReportMessage): Promise<void> {
    const host = this.hosts.get(hostId);
    if (!host) return;
    const nowIso = new Date(this.deps.now()).toISOString();
    host.lastSeen = nowIso;
    host.lastReportAt = nowIso;
    if (report.needFull) {
      // The agent could not apply a delta: it holds something else. Send it everything.
      host.reportedHash = undefined;
      host.sentHash = undefined;
      this.dispatch(host);
      await this.persist(host);
      return;
    }
    const previousRevision = host.reportedRevision;
    host.reportedHash = report.manifestHash;
    host.reportedRevision = report.revision;
    host.items = report.items;
    host.itemsKnown = true;
    if (host.sentHash === report.manifestHash) host.sentHash = undefined;
    // Manifests older than the one reported can no longer be the base of a delta.
    for (const hash of host.sent.keys()) if (hash !== report.manifestHash) host.sent.delete(hash);

    await this.recordDrift(host, report, previousRevision, nowIso);
    const failed = report.items.some((i) => i.state === 'failed');
    if (failed && report.manifestHash === host.desired?.hash) {
      const attempts = (host.retry?.attempts ?? 0) + 1;
      host.retry = { attempts, nextAt: this.deps.now() + retryDelayMs(attempts) };
    } else if (!failed) host.retry = undefined;
    if (report.manifestHash !== host.desired?.hash && host.sentHash === undefined) this.dispatch(host);
    await this.persist(host);
  }

  /**
   * The periodic pass: re-send to connected hosts that hold the wrong manifest and have nothing in
   * flight, whose manifest has been in flight past the deadline, or whose retry is due.
   */
  async resync(): Promise<void> {
    const end = this.deps.metrics.reconcileSeconds.startTimer({ trigger: 'resync' });
    const now = this.deps.now();
    const changed: HostRuntime[] = [];
    for (const host of this.hosts.values()) {
      if (!host.connected || !host.desired) continue;
      const stale = host.sentHash !== undefined && now - (host.sentAt ?? 0) > PROGRESS_DEADLINE_MS;
      const wrong = host.reportedHash !== host.desired.hash && host.sentHash === undefined;
      const retryDue = host.retry !== undefined && host.retry.nextAt <= now;
      if (stale || wrong || retryDue) {
        if (retryDue) host.reportedHash = undefined; // re-send in full so the agent re-applies everything
        this.dispatch(host);
        if (retryDue && host.retry) host.retry.nextAt = now + retryDelayMs(host.retry.attempts + 1);
        changed.push(host);
      }
    }
    for (const host of changed) await this.persist(host);
    end();
  }

  private replan(host: HostRuntime): void {
    if (!this.revision) return;
    const { manifest, errors } = planHost(this.revision, host.facts);
    host.selectable = selectableHost(host.facts, this.revision.byKind.HostGroup);
    host.desired = manifest;
    host.planErrors = errors;
  }

  /** Sends the host what takes it from what it holds to what it should hold. */
  private dispatch(host: HostRuntime): void {
    const desired = host.desired;
    if (!desired || !host.connected) {
      host.sendError = undefined;
      host.syncState = this.syncStateOf(host);
      return;
    }
    if (host.reportedHash === desired.hash && host.retry === undefined) {
      host.sendError = undefined;
      host.syncState = this.syncStateOf(host);
      return;
    }
    const held = host.reportedHash ? host.sent.get(host.reportedHash) : undefined;
    const msg = manifestMessage(this.deps.newId(), held, desired);
    let sent = false;
    const before = host.sendError;
    try {
      sent = this.deps.hub.send(host.facts.id, msg);
      host.sendError = sent
        ? undefined
        : 'the manifest could not be sent (the agent session is closing); retried at the next resync';
    } catch (err) {
      // One host's unsendable manifest (too large for a frame, say) must not stop the others' rollout.
      host.sendError = `the manifest could not be sent: ${(err as Error).message}; make the host's ConfigFiles smaller`;
    }
    if (sent) {
      host.sent.set(desired.hash, desired);
      host.sentHash = desired.hash;
      host.sentAt = this.deps.now();
    } else {
      host.sentHash = undefined;
      if (host.sendError !== before)
        this.deps.logger.warn('manifest not sent', { hostId: host.facts.id, reason: host.sendError });
    }
    host.syncState = this.syncStateOf(host);
  }

  private syncStateOf(host: HostRuntime): SyncState {
    return hostSyncState({
      connected: host.connected && !host.silent,
      desired: host.desired,
      sentHash: host.sentHash,
      reportedHash: host.reportedHash,
      items: host.items,
      planErrors: host.planErrors.length,
      sendFailed: host.sendError !== undefined,
    });
  }

  /**
   * Drift: a report item the agent found diverged is corrective (the host moved away from the same
   * revision); an item changed because a new revision arrived is intentional.
   */
  private async recordDrift(
    host: HostRuntime,
    report: ReportMessage,
    previousRevision: string | undefined,
    nowIso: string,
  ) {
    for (const item of report.items) {
      const key = `${item.kind}/${item.name}`;
      let record: DriftRecord | undefined;
      if (item.drift) {
        record = {
          id: `${host.facts.id}:${report.id}:${key}`,
          hostId: host.facts.id,
          key,
          kind: 'corrective',
          revision: report.revision,
          detectedAt: item.drift.detectedAt,
          healed: item.drift.healed,
          healedAt: item.drift.healed ? nowIso : undefined,
          detail: item.drift.detail,
          expectedHash: item.hash,
          observedHash: item.observedHash,
        };
      } else if (
        item.state === 'changed' &&
        previousRevision !== undefined &&
        previousRevision !== report.revision
      ) {
        record = {
          id: `${host.facts.id}:${report.id}:${key}`,
          hostId: host.facts.id,
          key,
          kind: 'intentional',
          revision: report.revision,
          detectedAt: nowIso,
          healed: true,
          healedAt: nowIso,
          detail: `applied revision ${report.revision.slice(0, 12)} (was ${previousRevision.slice(0, 12)})`,
          expectedHash: item.hash,
          observedHash: item.observedHash,
        };
      }
      if (record) {
        await this.deps.store.putDrift(record);
        this.deps.metrics.driftEvents.inc({ kind: record.kind, healed: String(record.healed) });
      }
    }
  }

  private async persistAll(): Promise<void> {
    for (const host of this.hosts.values()) await this.persist(host);
  }

  private async persist(host: HostRuntime): Promise<void> {
    host.syncState = this.syncStateOf(host);
    const record: HostRecord = {
      hostId: host.facts.id,
      name: host.facts.name,
      ips: host.facts.ips,
      cloudId: host.facts.cloudId,
      os: host.facts.os,
      agentVersion: host.facts.agentVersion,
      labels: host.desired?.labels ?? host.facts.labels,
      facts: host.facts.facts,
      firstSeen: host.firstSeen,
      lastSeen: host.lastSeen,
      connected: host.connected,
      syncState: host.syncState,
      revision: host.reportedRevision,
      desiredHash: host.desired?.hash,
      reportedHash: host.reportedHash,
      lastReportAt: host.lastReportAt,
      retry: host.retry
        ? { attempts: host.retry.attempts, nextAt: new Date(host.retry.nextAt).toISOString() }
        : undefined,
    };
    await this.deps.store.upsertHost(record);
    await this.deps.store.putResourceStatuses(host.facts.id, this.resourceStatuses(host));
  }

  private resourceStatuses(host: HostRuntime): ResourceStatus[] {
    const nowIso = new Date(this.deps.now()).toISOString();
    const reported = new Map(host.items.map((i) => [`${i.kind}/${i.name}`, i]));
    const statuses: ResourceStatus[] = (host.desired?.items ?? []).map((item) => {
      const key = `${item.kind}/${item.name}`;
      const r = reported.get(key);
      return {
        hostId: host.facts.id,
        key,
        kind: item.kind,
        name: item.name,
        hash: item.hash,
        state: itemSyncState(item.hash, r, host.connected),
        message: r?.message,
        observedHash: r?.observedHash,
        updatedAt: nowIso,
      };
    });
    if (host.sendError !== undefined && host.connected) {
      statuses.push({
        hostId: host.facts.id,
        key: SEND_ERROR_KEY,
        kind: 'Manifest',
        name: 'send',
        hash: host.desired?.hash ?? '',
        state: 'Failed',
        message: host.sendError,
        updatedAt: nowIso,
      });
    }
    for (const e of host.planErrors) {
      const [kind = '', name = ''] = e.resource.split('/');
      statuses.push({
        hostId: host.facts.id,
        key: e.resource,
        kind,
        name,
        hash: '',
        state: 'Failed',
        message: e.message,
        updatedAt: nowIso,
      });
    }
    return statuses;
  }
}
