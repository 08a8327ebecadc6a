/**
 * The reconcile loop: level-triggered. Whenever the revision changes, a host connects or reports, or the
 * resync timer fires, each host's desired manifest is compared with what it last reported, and the host
 * is sent what differs. The agent owns the apply; this records what it says (sync state, drift).
 */
import type { HostFacts, HostManifest } from '../protocol/manifest.js';
import type { ItemReport, ManifestMessage, ReportMessage } from '../protocol/messages.js';
import type { RolloutHost } from '../rollout/plan.js';
import type { AgentVersion, Revision } from '../spec/types.js';
import type { DriftRecord, HostStateWrite, Store } from '../store/types.js';
import { manifestMessage } from './delta.js';
import { driftRecords } from './drift-records.js';
import { hostRecord, resourceStatuses } from './host-records.js';
import { connectedRuntime, type HostRuntime, restoredRuntime } from './host-runtime.js';
import { HostWriter } from './host-writes.js';
import type { ControllerMetrics } from './metrics.js';
import { type PlanError, selectableHost } from './plan.js';
import { ClassPlanner } from './plan-classes.js';
import {
  dispatchDecision,
  heldHashOnConnect,
  reportDecision,
  resyncDecision,
  type SendOutcome,
  sendErrorOf,
} from './reconcile-decisions.js';
import type { RolloutManager } from './rollouts.js';
import { type SelectableHost, selectorMatches } from './select.js';
import { hostObservation, hostSyncState, type SyncState } from './sync-state.js';

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
  /** The AgentVersion rollouts; absent, every host is planned with Git's version at once. */
  rollouts?: RolloutManager;
  /** Told the drift records of each report once stored (notifications); awaited, so they are durable first. */
  onDrift?(records: readonly DriftRecord[]): Promise<void>;
  /** Per-host holds laid over each plan: ProcessOverride documents and GSE process operations' (process-holds.ts). */
  overrideDesired?(manifest: HostManifest): HostManifest;
  /** Told each batch of host records once stored (the dashboard's live feed); must not throw. */
  onHostsWritten?(writes: readonly HostStateWrite[]): void;
  /**
   * Hosts whose sessions are not here (another replica holds them, or nobody does), as the store last had
   * them; absent, the rollouts see only the hosts in this reconciler's memory (one controller).
   */
  remoteRolloutHosts?: RemoteRolloutHosts;
  /**
   * Told, once stored, that a host changed in what a rollout reads of it (connected, silent, its agent's
   * version, an AgentVersion item report); must not throw. A follower tells the leader.
   */
  onRolloutHostChanged?(hostId: string): void;
}

/** A host held elsewhere, as its holder last stored it: what the rollout planner reads of it. */
export interface RemoteRolloutHost {
  /** As selectors see it (its stored, effective labels). */
  facts: HostFacts;
  /** Connected to its holder and heard from. */
  online: boolean;
  lastSeenMs: number;
  /** Its AgentVersion item reports, by AgentVersion name. */
  reports: ReadonlyMap<string, NonNullable<RolloutHost['report']>>;
}

/** A synchronous view of the hosts this controller holds no session of, refreshed outside the reconciler. */
export interface RemoteRolloutHosts {
  get(hostId: string): RemoteRolloutHost | undefined;
  hosts(): Iterable<RemoteRolloutHost>;
}

// Kept importable from here, where it was first defined.
export { SEND_ERROR_KEY } from './host-records.js';

/**
 * Hosts planned and sent per turn of the event loop in a whole-fleet pass (a revision, a rollout step);
 * between turns the loop flushes the sockets, stores the turn's batch and reads the agents' reports.
 */
export const PASS_CHUNK_HOSTS = 500;

export class Reconciler {
  private revision: Revision | undefined;
  private readonly hosts = new Map<string, HostRuntime>();
  /** Plans once per host class, for the current revision. */
  private planner: ClassPlanner | undefined;
  /** Counts whole-fleet passes; a host planned in the latest one is skipped by an older one still running. */
  private passes = 0;
  private readonly plannedIn = new WeakMap<HostRuntime, number>();
  private readonly writer: HostWriter<HostRuntime>;

  constructor(private readonly deps: ReconcilerDeps) {
    this.writer = new HostWriter<HostRuntime>({
      writeOf: (host) => this.writeOf(host),
      putDrifts: (records) => deps.store.putDrifts(records),
      putHostStates: async (writes) => {
        await deps.store.putHostStates(writes);
        deps.metrics.hostWriteBatches.inc();
        deps.metrics.hostWrites.inc(writes.length);
        deps.onHostsWritten?.(writes);
      },
    });
  }

  /** Resolves once every host state marked so far is in the store (or its write failed). */
  stored(): Promise<void> {
    return this.writer.idle();
  }

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

  /** Each host with whether it is connected and when it was last heard from (the retention sweep). */
  hostsLastSeen(): Array<{ hostId: string; connected: boolean; lastSeen: string }> {
    return [...this.hosts.values()].map((h) => ({
      hostId: h.facts.id,
      connected: h.connected,
      lastSeen: h.lastSeen,
    }));
  }

  /**
   * Drops a host from the fleet views: from memory and the store, with its resource statuses; its drift and
   * executions stay as history. An agent that connects again is a new host. False when it was unknown.
   */
  async forgetHost(hostId: string): Promise<boolean> {
    const known = this.hosts.delete(hostId);
    const stored = await this.deps.store.deleteHost(hostId);
    await this.stepRollouts();
    return known || stored;
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

  /** The facts a host last connected with (kept while it is offline). */
  factsFor(hostId: string): HostFacts | undefined {
    return this.hosts.get(hostId)?.facts;
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
      // The full manifest, never an empty delta on what the hello named: the agent takes that as a re-verify,
      // which leaves alone what selfHeal leaves alone, and a sync is asked to heal it.
      host.reportedHash = undefined;
      host.helloHash = undefined;
      host.sentHash = undefined;
      host.sent.clear();
      this.dispatch(host);
      sent.push(host);
    }
    // Stored as Progressing at once, so `sync --wait` waits for the hosts' reports.
    await Promise.all(sent.map((host) => this.persist(host)));
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
      const writes: Array<Promise<void>> = [];
      for (const h of page.items) {
        if (this.hosts.has(h.hostId)) continue;
        const host = restoredRuntime(h);
        this.hosts.set(h.hostId, host);
        if (h.connected) writes.push(this.persist(host));
      }
      await Promise.all(writes);
      cursor = page.nextCursor;
    } while (cursor);
  }

  /** A new accepted revision: re-plan every known host and send what changed to the connected ones. */
  async setRevision(revision: Revision): Promise<void> {
    const end = this.deps.metrics.reconcileSeconds.startTimer({ trigger: 'revision' });
    this.revision = revision;
    for (const host of this.hosts.values()) host.retry = undefined;
    await this.deps.rollouts?.applyRevision(revision, this.rolloutHostsOf);
    await this.replanPass();
    end();
  }

  /**
   * An agent connected (hello accepted): record it and send it its manifest unless it holds it already.
   * `ready` is called once the host's reports can be handled (before its store write: a report that comes
   * meanwhile joins the same batch, so a returning host costs one write, not two).
   */
  async hostConnected(facts: HostFacts, heldHash: string, ready?: () => void): Promise<void> {
    const nowIso = new Date(this.deps.now()).toISOString();
    let host = this.hosts.get(facts.id);
    if (!host) {
      const stored = await this.deps.store.getHost(facts.id);
      host = connectedRuntime(facts, stored, nowIso);
      this.hosts.set(facts.id, host);
    }
    host.facts = facts;
    host.connected = true;
    host.silent = false;
    host.lastSeen = nowIso;
    // Forget what we sent to a previous session.
    host.reportedHash = heldHashOnConnect(host.itemsHash, heldHash);
    host.helloHash = heldHash || undefined;
    host.sentHash = undefined;
    host.retry = undefined;
    this.replan(host);
    this.dispatch(host);
    const stored = this.persist(host);
    ready?.();
    await stored;
    this.deps.onRolloutHostChanged?.(facts.id);
    await this.stepRollouts();
  }

  /**
   * Stores these connected hosts' state again, all in the writer's batches, nothing sent: another writer
   * (in a cluster, the leader marking a silent replica's hosts offline) overwrote what the store said of
   * them while their sessions stayed here.
   */
  async rewriteHosts(hostIds: readonly string[]): Promise<void> {
    const hosts = hostIds.flatMap((id) => {
      const host = this.hosts.get(id);
      return host?.connected ? [host] : [];
    });
    await Promise.all(hosts.map((host) => this.persist(host)));
    for (const host of hosts) this.deps.onRolloutHostChanged?.(host.facts.id);
  }

  /** An agent's session ended. */
  async hostDisconnected(hostId: string): Promise<void> {
    const host = this.hosts.get(hostId);
    if (!host) return;
    host.connected = false;
    host.lastSeen = new Date(this.deps.now()).toISOString();
    await this.persist(host);
    this.deps.onRolloutHostChanged?.(hostId);
    await this.stepRollouts();
  }

  /** Marks a host seen (any frame), without a store write. */
  touch(hostId: string): void {
    const host = this.hosts.get(hostId);
    if (host) host.lastSeen = new Date(this.deps.now()).toISOString();
  }

  /** Sets which connected hosts have gone silent (heartbeat overdue); their state is Unknown meanwhile. */
  async setSilent(silentIds: ReadonlySet<string>): Promise<void> {
    const writes: Array<Promise<void>> = [];
    const changed: string[] = [];
    for (const host of this.hosts.values()) {
      const silent = host.connected && silentIds.has(host.facts.id);
      if (Boolean(host.silent) === silent) continue;
      host.silent = silent;
      writes.push(this.persist(host));
      changed.push(host.facts.id);
    }
    await Promise.all(writes);
    for (const id of changed) this.deps.onRolloutHostChanged?.(id);
  }

  /** A report from an agent: record per-resource state and drift; retry or re-send as needed. */
  async hostReported(hostId: string, report: ReportMessage): Promise<void> {
    const host = this.hosts.get(hostId);
    if (!host) return;
    const nowIso = new Date(this.deps.now()).toISOString();
    host.lastSeen = nowIso;
    host.lastReportAt = nowIso;
    if (report.needFull) {
      // The agent could not apply a delta: it holds something else (whatever its hello said). Send it all.
      host.reportedHash = undefined;
      host.helloHash = undefined;
      host.sentHash = undefined;
      this.dispatch(host);
      await this.persist(host);
      return;
    }
    const previousRevision = host.reportedRevision;
    const rolloutBefore = agentVersionReports(host.items);
    host.reportedHash = report.manifestHash;
    host.reportedRevision = report.revision;
    host.items = report.items;
    host.itemsHash = report.manifestHash;
    if (host.sentHash === report.manifestHash) {
      if (host.sentAt !== undefined)
        this.deps.metrics.convergeSeconds.observe((this.deps.now() - host.sentAt) / 1000);
      host.sentHash = undefined;
    }
    // Manifests older than the one reported can no longer be the base of a delta.
    for (const hash of host.sent.keys()) if (hash !== report.manifestHash) host.sent.delete(hash);

    const drift = driftRecords(host.facts.id, report, previousRevision, nowIso);
    const decision = reportDecision(
      report,
      { desiredHash: host.desired?.hash, sentHash: host.sentHash, retry: host.retry },
      this.deps.now(),
    );
    host.retry = decision.retry;
    if (decision.dispatch) this.dispatch(host);
    // The drift and the host go to the store in this tick's batch, before the report is acked.
    await this.persist(host, drift);
    await this.driftStored(drift);
    if (agentVersionReports(report.items) !== rolloutBefore) this.deps.onRolloutHostChanged?.(hostId);
    await this.stepRollouts();
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
      const decision = resyncDecision(host, now);
      if (!decision.resend) continue;
      if (decision.full) {
        // Re-send in full so the agent re-applies everything (an empty delta would be a mere re-verify).
        host.reportedHash = undefined;
        host.helloHash = undefined;
      }
      this.dispatch(host);
      if (decision.nextRetryAt !== undefined && host.retry) host.retry.nextAt = decision.nextRetryAt;
      changed.push(host);
    }
    await Promise.all(changed.map((host) => this.persist(host)));
    await this.stepRollouts();
    end();
  }

  /**
   * The hosts an AgentVersion selects, as the rollout planner sees them: those connected here from memory,
   * the others from the remote view when it has them (their holder stored them later than this memory).
   */
  readonly rolloutHostsOf = (av: AgentVersion): RolloutHost[] => {
    const out: RolloutHost[] = [];
    const remote = this.deps.remoteRolloutHosts;
    for (const h of this.hosts.values()) {
      if (!h.connected && remote?.get(h.facts.id)) continue;
      if (!selectorMatches(av.spec.hosts, this.selectableOf(h.facts))) continue;
      const report = h.items.find((i) => i.kind === 'AgentVersion' && i.name === av.metadata.name);
      const online = h.connected && !h.silent;
      out.push({
        id: h.facts.id,
        online,
        ...(!online && { lastSeenMs: Date.parse(h.lastSeen) }),
        ...(h.facts.agentVersion !== undefined && { runningVersion: h.facts.agentVersion }),
        ...(report && { report: { hash: report.hash, state: report.state, message: report.message } }),
      });
    }
    if (!remote) return out;
    for (const r of remote.hosts()) {
      if (this.hosts.get(r.facts.id)?.connected) continue;
      if (!selectorMatches(av.spec.hosts, this.selectableOf(r.facts))) continue;
      const report = r.reports.get(av.metadata.name);
      out.push({
        id: r.facts.id,
        online: r.online,
        ...(!r.online && { lastSeenMs: r.lastSeenMs }),
        ...(r.facts.agentVersion !== undefined && { runningVersion: r.facts.agentVersion }),
        ...(report && { report }),
      });
    }
    return out;
  };

  /**
   * A host's facts with its HostGroup labels, as selectors see them; kept per facts object for the
   * current revision (the rollout planner asks on every connect and report, for every host).
   */
  private selectableOf(facts: HostFacts): HostFacts & SelectableHost {
    if (this.selectableRevision !== this.revision) {
      this.selectableRevision = this.revision;
      this.selectables = new WeakMap();
    }
    let target = this.selectables.get(facts);
    if (!target) {
      target = { ...facts, ...selectableHost(facts, this.revision?.byKind.HostGroup ?? []) };
      this.selectables.set(facts, target);
    }
    return target;
  }
  private selectableRevision: Revision | undefined;
  private selectables = new WeakMap<HostFacts, HostFacts & SelectableHost>();

  /** Steps the rollouts; when a batch moved (or a rollout paused or ended), re-plans and sends. */
  async stepRollouts(): Promise<void> {
    const rollouts = this.deps.rollouts;
    if (!rollouts || !this.revision) return;
    if (!(await rollouts.advance(this.revision, this.rolloutHostsOf))) return;
    await this.replanAll();
  }

  /** Re-plans every host and sends the connected ones what changed (after an operator's rollout action). */
  async replanAll(): Promise<void> {
    await this.replanPass();
  }

  /**
   * Re-plans every host and sends the connected ones what changed, PASS_CHUNK_HOSTS per turn of the event
   * loop; each turn's hosts are stored in one batch. A host planned since the pass began (it connected, or
   * a newer pass reached it) is not planned again.
   */
  private async replanPass(): Promise<void> {
    const pass = ++this.passes;
    const writes = new Set<Promise<void>>();
    let inTurn = 0;
    for (const host of this.hosts.values()) {
      if ((this.plannedIn.get(host) ?? 0) >= pass) continue;
      this.replan(host);
      if (host.connected) this.dispatch(host);
      writes.add(this.persist(host));
      if (++inTurn < PASS_CHUNK_HOSTS) continue;
      inTurn = 0;
      await nextTurn();
    }
    await Promise.all(writes);
  }

  private replan(host: HostRuntime): void {
    if (!this.revision) return;
    if (this.planner?.revision !== this.revision) this.planner = new ClassPlanner(this.revision);
    const { manifest, errors, selectable } = this.planner.plan(host.facts, this.deps.rollouts?.versionsOf());
    this.plannedIn.set(host, this.passes);
    host.selectable = selectable;
    host.desired = this.deps.overrideDesired?.(manifest) ?? manifest;
    host.planErrors = errors;
    host.versionLag = versionLagOf(this.revision, manifest, host.facts.agentVersion);
  }

  /** Sends the host what takes it from what it holds to what it should hold. */
  private dispatch(host: HostRuntime): void {
    const decision = dispatchDecision(host);
    if (!decision.send || !host.desired) {
      host.sendError = undefined;
      host.syncState = this.syncStateOf(host);
      return;
    }
    const desired = host.desired;
    const msg = manifestMessage(this.deps.newId(), decision.held, desired);
    const before = host.sendError;
    let outcome: SendOutcome;
    try {
      outcome = this.deps.hub.send(host.facts.id, msg) ? { kind: 'sent' } : { kind: 'refused' };
    } catch (err) {
      // One host's unsendable manifest (too large for a frame, say) must not stop the others' rollout.
      outcome = { kind: 'threw', error: err instanceof Error ? err : new Error(String(err)) };
    }
    host.sendError = sendErrorOf(outcome);
    if (outcome.kind === 'sent') {
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
    return hostSyncState(hostObservation(host));
  }

  /** Counts the drift a report yielded once it is stored, and tells the notifier. */
  private async driftStored(records: readonly DriftRecord[]): Promise<void> {
    for (const record of records)
      this.deps.metrics.driftEvents.inc({ kind: record.kind, healed: String(record.healed) });
    if (records.length > 0) await this.deps.onDrift?.(records);
  }

  /** Queues the host (and drift records) for this tick's store batch; resolves once stored. */
  private persist(host: HostRuntime, drift: readonly DriftRecord[] = []): Promise<void> {
    return this.writer.write(host, drift);
  }

  /** The host's store write, built when its batch is written; none for a host forgotten meanwhile. */
  private writeOf(host: HostRuntime): HostStateWrite | undefined {
    if (this.hosts.get(host.facts.id) !== host) return undefined;
    host.syncState = this.syncStateOf(host);
    const nowIso = new Date(this.deps.now()).toISOString();
    return { host: hostRecord(host), statuses: resourceStatuses(host, nowIso) };
  }
}

/** A host's AgentVersion item reports as one comparable string (what a rollout reads of its report). */
function agentVersionReports(items: readonly ItemReport[]): string {
  let out = '';
  for (const i of items)
    if (i.kind === 'AgentVersion') out += `${i.name}\t${i.hash}\t${i.state}\t${i.message ?? ''}\n`;
  return out;
}

/** Resolves after the event loop has run its pending I/O once. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Why a host's agent is not on the version Git declares for it, or undefined when it is. */
function versionLagOf(
  revision: Revision,
  manifest: HostManifest,
  running: string | undefined,
): string | undefined {
  for (const item of manifest.items) {
    if (item.kind !== 'AgentVersion') continue;
    const git = revision.byKind.AgentVersion.find((av) => av.metadata.name === item.name)?.spec.version;
    if (git !== undefined && running !== git)
      return `running ${running ?? 'an unknown version'}, Git says ${git}`;
  }
  return undefined;
}
