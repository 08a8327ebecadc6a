/**
 * What a controller does as one replica of a cluster: leads or follows (the revision, rollouts), routes work
 * for agents held elsewhere through their replica's inbox, hears of results stored elsewhere, and keeps the
 * store's view of hosts whose replica died. It sees the controller only through `ReplicaParts`.
 */

import { randomUUID } from 'node:crypto';
import { RolloutActionError } from '../controller/rollouts.js';
import type { Logger } from '../kernel/logger.js';
import type { HostFacts } from '../protocol/manifest.js';
import type { ExecMessage } from '../protocol/messages.js';
import type { Revision } from '../spec/types.js';
import type { ExecutionRecord, HostRecord, Store } from '../store/types.js';
import type { Cluster, ClusterHooks } from './cluster.js';
import type { ClusterRollouts } from './cluster-rollouts.js';
import { CoalescedRun } from './coalesced-run.js';
import { NotLeaderError } from './errors.js';
import type { InboxWork, RolloutAction } from './inbox.js';
import { factsOfRecord, type RemoteRolloutView } from './remote-rollout-view.js';

const HOST_PAGE = 1_000;
/** How long a follower waits for the leader to answer a forwarded rollout command. */
const ROLLOUT_REPLY_TIMEOUT_MS = 15_000;
/** `{"v":1,"id":"<sha>"` fits in this many bytes: enough to learn the published revision's id cheaply. */
const REVISION_HEAD_BYTES = 200;
/**
 * How long a follower gathers its hosts' rollout changes before it hints the leader (one inbox entry per
 * burst: a batch's hosts report their upgrades at about the same time).
 */
export const ROLLOUT_HINT_DELAY_MS = 100;
/** How long a replica gathers triggers (hints, decisions) before it refreshes its remote view and steps. */
export const ROLLOUT_STEP_DELAY_MS = 50;

/** The controller's parts a replica acts on. */
export interface ReplicaParts {
  /** The shared store, unguarded. */
  store: Store;
  hub: {
    send(agentId: string, msg: ExecMessage): boolean;
    revoke(agentId: string): Promise<unknown>;
    reset(agentId: string): Promise<unknown>;
  };
  rollouts: ClusterRollouts;
  /** What other replicas stored of their hosts, as the reconciler's rollouts read it. */
  rolloutView: RemoteRolloutView;
  /** Steps the rollouts (a follower: re-reads the leader's decisions) and re-plans when they moved. */
  stepRollouts(): Promise<void>;
  logger: Logger;
  /** Hosts with a session on this replica, with their effective labels. */
  localHosts(): HostFacts[];
  currentRevisionId(): string | undefined;
  /** Applies a revision the leader published (queued with the controller's other revisions). */
  applyRevision(revision: Revision): Promise<void>;
  /** This replica was elected: follow Git from now on. */
  startLeading(): Promise<void>;
  /** This replica was deposed: stop following Git. */
  stopLeading(): Promise<void>;
  forceSyncLocal(hostIds?: string[]): Promise<string[]>;
  fetchLocal(): Promise<unknown>;
  /** Hosts whose records the leader marked offline while their sessions here went on: record them again. */
  sessionsReclaimed(hostIds: string[]): Promise<void>;
  /** Does an operator's rollout command here (on the leader). */
  rolloutLocal(action: RolloutAction, name: string, actor: string): Promise<unknown>;
  /** A result another replica stored: tell this replica's waiters. */
  deliverResult(record: ExecutionRecord): Promise<void>;
}

export class Replica {
  /** Where exec work for a host held elsewhere goes, as of the last `execHosts`. */
  private readonly routes = new Map<string, string>();
  /** Hosts another replica held at the last `refreshRemoteView` (the lost-host sweep's view). */
  private remoteHeld = new Set<string>();
  /** The published revision being applied now (a pub/sub message and a catch-up may both see it). */
  private applying: string | undefined;
  /** Forwarded rollout commands waiting for the leader's answer, by request id. */
  private readonly replies = new Map<string, (error?: { status: number; message: string }) => void>();
  /** The leader: refresh the remote view, then step. A follower: re-read the decisions, then refresh. */
  private readonly stepper: CoalescedRun;
  /** A follower's hint to the leader that one of its hosts changed for a rollout. */
  private readonly hint: CoalescedRun;

  constructor(
    readonly cluster: Cluster,
    private readonly parts: ReplicaParts,
  ) {
    const failed = (what: string) => (err: unknown) => parts.logger.warn(what, { error: String(err) });
    this.stepper = new CoalescedRun(
      () => this.stepRollouts(),
      ROLLOUT_STEP_DELAY_MS,
      failed('rollout step over the cluster failed'),
    );
    this.hint = new CoalescedRun(
      () => this.hintLeader(),
      ROLLOUT_HINT_DELAY_MS,
      failed('rollout hint to the leader not sent'),
    );
  }

  /** Stops the rollout hints and steps (waits for one in progress). */
  async stop(): Promise<void> {
    await Promise.all([this.hint.stop(), this.stepper.stop()]);
  }

  get me(): string {
    return this.cluster.me;
  }

  /** True while this replica leads. */
  leads(): boolean {
    return this.cluster.lease.isLeader();
  }

  /** The hooks the cluster calls. */
  hooks(): ClusterHooks {
    const { parts } = this;
    return {
      elected: async () => {
        await parts.startLeading();
        // The hosts the last leader stepped over are mostly held elsewhere: read them, then step.
        this.stepper.trigger();
      },
      deposed: () => parts.stopLeading(),
      revisionPublished: (sha) => this.follow(sha),
      rolloutsChanged: () => {
        parts.rollouts.markStale();
        // A follower re-plans its hosts with the new decision now, not at its next host event or resync.
        if (!this.leads()) this.stepper.trigger();
      },
      resultRecorded: async (origin, taskId, hostId) => {
        if (origin === this.me) return;
        const rec = await parts.store.getExecution(taskId, hostId);
        if (rec) await parts.deliverResult(rec);
      },
      work: (w) => this.handle(w),
      sessionExpired: (hostId, holder) => this.markOffline(hostId, holder),
      sessionsTaken: async (ids) => {
        parts.logger.info('sessions taken over by another replica', { hosts: ids.length });
      },
      sessionsReclaimed: async (ids) => {
        parts.logger.warn('sessions swept while this replica was silent; claimed again', {
          hosts: ids.length,
        });
        await parts.sessionsReclaimed(ids);
      },
    };
  }

  /** A follower applies the revision the leader published, unless it holds it already. */
  async follow(sha?: string): Promise<void> {
    if (this.leads()) return;
    const known = this.parts.currentRevisionId();
    if (sha !== undefined && sha === known) return;
    const revision = await this.cluster.readRevision();
    if (!revision || revision.id === known || revision.id === this.applying) return;
    this.applying = revision.id;
    this.parts.logger.info('applying the revision the leader published', { sha: revision.id });
    try {
      await this.parts.applyRevision(revision);
    } finally {
      if (this.applying === revision.id) this.applying = undefined;
    }
  }

  /** A follower's catch-up in case a pub/sub message was missed (Redis reconnected): reads the id only. */
  async checkPublished(): Promise<void> {
    if (this.leads()) return;
    const head = await this.cluster.publishedRevisionHead(REVISION_HEAD_BYTES);
    const sha = /"id":"([^"]+)"/.exec(head ?? '')?.[1];
    if (sha !== undefined && sha !== this.parts.currentRevisionId()) await this.follow(sha);
  }

  /** Connected hosts anywhere in the cluster: this replica's sessions, and the store's hosts held elsewhere. */
  async execHosts(): Promise<HostFacts[]> {
    const local = this.parts.localHosts();
    const localIds = new Set(local.map((h) => h.id));
    const candidates: HostRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.parts.store.listHosts({ limit: HOST_PAGE, ...(cursor ? { cursor } : {}) });
      for (const rec of page.items) if (rec.connected && !localIds.has(rec.hostId)) candidates.push(rec);
      cursor = page.nextCursor;
    } while (cursor);
    const holders = await this.cluster.directory.holders(candidates.map((h) => h.hostId));
    const remote: HostFacts[] = [];
    for (const rec of candidates) {
      const holder = holders.get(rec.hostId);
      if (holder === undefined || holder === this.me) continue;
      this.routes.set(rec.hostId, holder);
      remote.push(factsOfRecord(rec));
    }
    return [...local, ...remote];
  }

  /** Sends exec work to the host's session here, or to the inbox of the replica holding it. */
  execSend(hostId: string, msg: ExecMessage): boolean {
    if (this.parts.hub.send(hostId, msg)) return true;
    const holder = this.routes.get(hostId);
    if (holder === undefined) return false;
    this.cluster.send(holder, { kind: 'send', hostId, msg }).catch((err: unknown) => {
      this.parts.logger.error('exec not routed to the replica holding the host', {
        hostId,
        replica: holder,
        taskId: msg.taskId,
        error: String(err),
      });
    });
    return true;
  }

  /** A manual sync: this replica's hosts at once, every other replica's through its inbox. */
  async forceSync(hostIds?: string[]): Promise<string[]> {
    const sent = await this.parts.forceSyncLocal(hostIds);
    const remote = hostIds
      ? await this.cluster.directory.holders(hostIds.filter((id) => !sent.includes(id)))
      : undefined;
    const replicas = remote ? new Set(remote.values()) : new Set(this.cluster.replicas());
    replicas.delete(this.me);
    for (const replica of replicas) await this.cluster.send(replica, { kind: 'sync', hostIds });
    return [...sent, ...[...(remote?.keys() ?? [])].filter((id) => remote?.get(id) !== this.me)];
  }

  /** Revokes (or resets) an agent here and closes its session on the replica holding it. */
  async closeAgent<T>(agentId: string, action: 'revoke' | 'reset'): Promise<T> {
    const rec = (await this.parts.hub[action](agentId)) as T;
    const holder = await this.cluster.directory.holderOf(agentId);
    if (holder !== undefined && holder !== this.me)
      await this.cluster.send(holder, { kind: 'close', agentId, action });
    return rec;
  }

  /** A webhook on a follower: the leader fetches. */
  async fetchNow(): Promise<unknown> {
    if (this.leads()) return this.parts.fetchLocal();
    const leader = this.cluster.leader();
    if (leader !== undefined && leader !== this.me) await this.cluster.send(leader, { kind: 'fetch' });
    return undefined;
  }

  /**
   * A rollout command on a follower: the leader does it (its decisions are the fenced ones) and answers;
   * then this replica reads the new decision. False on the leader, which does it itself. Throws the
   * leader's refusal as RolloutActionError (404, 409).
   */
  async forwardRollout(action: RolloutAction, name: string, actor: string): Promise<boolean> {
    if (this.leads()) return false;
    const leader = this.cluster.leader();
    if (leader === undefined || leader === this.me) throw new NotLeaderError(`rollout ${action} ${name}`);
    const requestId = randomUUID();
    const answered = new Promise<{ status: number; message: string } | undefined>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.replies.delete(requestId);
        reject(new NotLeaderError(`rollout ${action} ${name}: leader ${leader} did not answer in time`));
      }, ROLLOUT_REPLY_TIMEOUT_MS);
      this.replies.set(requestId, (error) => {
        clearTimeout(timer);
        this.replies.delete(requestId);
        resolve(error);
      });
    });
    await this.cluster.send(leader, { kind: 'rollout', action, name, actor, replyTo: this.me, requestId });
    const error = await answered;
    if (error) {
      if (error.status === 404 || error.status === 409)
        throw new RolloutActionError(error.status, error.message);
      throw new Error(`rollout ${action} ${name} on leader ${leader}: ${error.message}`);
    }
    await this.parts.rollouts.load();
    return true;
  }

  /**
   * The id of a connected host named `name` (or with that id) that another replica holds, routing exec work
   * to it from now on: an agent.lost runner held elsewhere. Undefined when no other replica holds one.
   */
  async remoteHostNamed(name: string): Promise<string | undefined> {
    const rec = (await this.parts.store.getHost(name)) ?? (await this.hostRecordNamed(name));
    if (!rec) return undefined;
    const holder = await this.cluster.directory.holderOf(rec.hostId);
    if (holder === undefined || holder === this.me) return undefined;
    this.routes.set(rec.hostId, holder);
    return rec.hostId;
  }

  private async hostRecordNamed(name: string): Promise<HostRecord | undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.parts.store.listHosts({ limit: HOST_PAGE, ...(cursor ? { cursor } : {}) });
      const found = page.items.find((h) => h.name === name);
      if (found) return found;
      cursor = page.nextCursor;
    } while (cursor);
    return undefined;
  }

  /** Which hosts other replicas hold now, for `heldElsewhere` (the leader's lost-host sweep). */
  async refreshRemoteView(hostIds: readonly string[]): Promise<void> {
    const holders = await this.cluster.directory.holders(hostIds);
    this.remoteHeld = new Set([...holders].filter(([, r]) => r !== this.me).map(([id]) => id));
  }

  /** True when another replica held the host at the last `refreshRemoteView`. */
  heldElsewhere(hostId: string): boolean {
    return this.remoteHeld.has(hostId);
  }

  /**
   * A host held here changed in what a rollout reads of it, and is stored: a follower hints the leader
   * while a rollout is live (the leader's own reconciler steps on its own hosts' changes).
   */
  rolloutHostChanged(): void {
    if (this.leads() || this.parts.rollouts.liveNames().length === 0) return;
    this.hint.trigger();
  }

  /** Reads what other replicas stored of their hosts while a rollout is live (the safety net's poll too). */
  async refreshRolloutView(): Promise<void> {
    const names = this.parts.rollouts.liveNames();
    if (names.length > 0) await this.parts.rolloutView.refresh(names);
  }

  /** Waits until no rollout hint or step is waiting or running (tests). */
  async rolloutsIdle(): Promise<void> {
    await this.hint.idle();
    await this.stepper.idle();
  }

  private async stepRollouts(): Promise<void> {
    if (this.leads()) {
      await this.refreshRolloutView();
      await this.parts.stepRollouts();
    } else {
      await this.parts.stepRollouts();
      await this.refreshRolloutView();
    }
  }

  private async hintLeader(): Promise<void> {
    const leader = this.cluster.leader();
    if (leader === undefined || leader === this.me || this.leads()) return;
    await this.cluster.send(leader, { kind: 'rolloutHostChanged' });
  }

  private async handle(w: InboxWork): Promise<void> {
    const { parts } = this;
    switch (w.kind) {
      case 'send':
        if (!parts.hub.send(w.hostId, w.msg))
          parts.logger.warn('routed exec not delivered: the host is no longer connected here', {
            hostId: w.hostId,
            taskId: w.msg.taskId,
          });
        return;
      case 'sync':
        await parts.forceSyncLocal(w.hostIds);
        return;
      case 'close':
        await parts.hub[w.action](w.agentId).catch((err: unknown) => {
          parts.logger.warn('agent not closed', { agentId: w.agentId, error: String(err) });
        });
        return;
      case 'fetch':
        if (this.leads()) await parts.fetchLocal();
        return;
      case 'rollout': {
        let error: { status: number; message: string } | undefined;
        try {
          if (!this.leads()) throw new NotLeaderError(`rollout ${w.action} ${w.name}`);
          await parts.rolloutLocal(w.action, w.name, w.actor);
        } catch (err) {
          const status = (err as { status?: unknown }).status;
          error = { status: typeof status === 'number' ? status : 500, message: (err as Error).message };
        }
        await this.cluster.send(w.replyTo, {
          kind: 'reply',
          requestId: w.requestId,
          ...(error && { error }),
        });
        return;
      }
      case 'reply':
        this.replies.get(w.requestId)?.(w.error);
        return;
      case 'rolloutHostChanged':
        if (this.leads()) this.stepper.trigger();
        return;
    }
  }

  /**
   * A host whose replica stopped refreshing its entry: offline, Unknown, until its agent connects again.
   * Written only while no replica holds it (one script with the directory check), so a replica claiming it
   * back meanwhile is never overwritten: its claim either stops this write, or comes first and its own write
   * of the host follows.
   */
  private async markOffline(hostId: string, holder: string): Promise<void> {
    if (this.cluster.directory.holdsLocally(hostId)) return;
    const outcome = await this.cluster.markOfflineUnlessHeld(hostId);
    if (outcome === 'held') {
      this.parts.logger.info('host claimed again before it was marked offline; left to its holder', {
        hostId,
        replica: holder,
      });
      return;
    }
    if (outcome === 'marked')
      this.parts.logger.warn('host offline: its replica stopped refreshing its session', {
        hostId,
        replica: holder,
      });
  }
}
