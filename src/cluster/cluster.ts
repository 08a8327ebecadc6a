/**
 * One replica's membership of the cluster: the leader lease, fenced writes, the published revision, the
 * session directory, the inbox and the pub/sub channels, and the guarded host writes, on four Redis
 * connections (commands, subscriber, the inbox's blocking reads, host writes: a batch of thousands of hosts
 * never queues ahead of a lease refresh). The controller wires its parts to the hooks; this owns the timers.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../kernel/logger.js';
import type { Revision } from '../spec/types.js';
import { redisLayout } from '../store/redis-kinds.js';
import type { HostStateWrite } from '../store/types.js';
import { FencedWriter } from './fenced-writes.js';
import { ROLLOUTS_CHANGED } from './guarded-store.js';
import { writeHostStatesHeld } from './held-host-writes.js';
import { Inbox, type InboxWork } from './inbox.js';
import { type ClusterKeys, clusterKeys } from './keys.js';
import { LeaderLease } from './lease.js';
import type { LeaseView } from './lease-decision.js';
import { markOfflineUnlessHeld, type OfflineMark } from './offline-marking.js';
import { decodeRevision, encodeRevision } from './revision-codec.js';
import { defineClusterScripts } from './scripts.js';
import { SessionDirectory } from './session-directory.js';

const REVISION_EVENT = 'revision:';
/** Host ids a refused-writes log line names at most (the count says how many there were). */
const REFUSED_IDS_LOGGED = 10;

export interface ClusterOptions {
  redisUrl: string;
  /** This replica's id: unique in the cluster, stable across restarts (its inbox is kept under it). */
  replicaId: string;
  leaseMs: number;
  /** Key prefix of the store (default `gse:`). */
  prefix?: string;
}

/** What the controller does when the cluster tells it something. */
export interface ClusterHooks {
  elected(token: number): Promise<void>;
  deposed(view: LeaseView): Promise<void>;
  /** The leader published revision `sha` (a follower loads it with `readRevision`). */
  revisionPublished(sha: string): Promise<void>;
  /** The leader stored new rollout decisions. */
  rolloutsChanged(): void;
  /** A replica (`origin`) stored an execution result. */
  resultRecorded(origin: string, taskId: string, hostId: string): Promise<void>;
  /** Work another replica sent this one. */
  work(item: InboxWork): Promise<void>;
  /** The leader swept the directory entry of a host whose replica stopped refreshing it. */
  sessionExpired(hostId: string, holder: string): Promise<void>;
  /** Another replica took these hosts' sessions (their agents reconnected there). */
  sessionsTaken(hostIds: string[]): Promise<void>;
  /** These hosts' entries were swept while this replica was silent, and are claimed again. */
  sessionsReclaimed(hostIds: string[]): Promise<void>;
}

export class Cluster {
  readonly keys: ClusterKeys;
  readonly lease: LeaderLease;
  readonly fenced: FencedWriter;
  readonly directory: SessionDirectory;
  readonly inbox: Inbox;
  private readonly timers: NodeJS.Timeout[] = [];
  private hooks: ClusterHooks | undefined;
  private liveReplicas: string[] = [];
  private refusedHostWrites = 0;

  private constructor(
    readonly options: ClusterOptions,
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly reader: Redis,
    private readonly writer: Redis,
    private readonly logger: Logger,
    now: () => number,
  ) {
    this.keys = clusterKeys(options.prefix);
    this.lease = new LeaderLease({
      redis,
      keys: this.keys,
      me: options.replicaId,
      leaseMs: options.leaseMs,
      logger,
      now,
      listener: {
        elected: (token) => this.hooks?.elected(token) ?? Promise.resolve(),
        deposed: (view) => this.hooks?.deposed(view) ?? Promise.resolve(),
      },
    });
    this.fenced = new FencedWriter({ redis, keys: this.keys, logger, token: () => this.lease.token() });
    // Two thirds of a lease: one missed refresh is tolerated, and the leader's sweep (every third) still
    // turns a dead replica's hosts Unknown within one lease.
    this.directory = new SessionDirectory(
      redis,
      this.keys,
      options.replicaId,
      Math.ceil((options.leaseMs * 2) / 3),
    );
    this.inbox = new Inbox(redis, reader, this.keys, options.replicaId, logger);
  }

  /** Connects (four clients) and defines the scripts; call `start` to join. */
  static async open(options: ClusterOptions, logger: Logger, now: () => number = Date.now): Promise<Cluster> {
    const client = () => {
      const r = new Redis(options.redisUrl, { lazyConnect: true });
      r.on('error', () => {});
      return r;
    };
    const [redis, subscriber, reader, writer] = [client(), client(), client(), client()];
    defineClusterScripts(redis);
    defineClusterScripts(writer);
    await Promise.all([redis.connect(), subscriber.connect(), reader.connect(), writer.connect()]);
    return new Cluster(options, redis, subscriber, reader, writer, logger, now);
  }

  get me(): string {
    return this.options.replicaId;
  }

  /** Replicas heard of within a lease (this one included), as of the last tick. */
  replicas(): string[] {
    return this.liveReplicas;
  }

  /** Subscribes, takes or follows the lease, reads the inbox, and starts the refresh and sweep timers. */
  async start(hooks: ClusterHooks): Promise<void> {
    this.hooks = hooks;
    this.subscriber.on('message', (channel: string, message: string) => {
      this.onMessage(channel, message).catch((err: unknown) => {
        this.logger.error('cluster message not handled', { channel, error: String(err) });
      });
    });
    await this.subscriber.subscribe(this.keys.events, this.keys.results);
    await this.tick();
    await this.lease.start();
    await this.inbox.start((w) => hooks.work(w));
    // Each on its own timer: a long sweep never delays this replica's own refresh.
    const period = Math.max(50, Math.floor(this.options.leaseMs / 3));
    this.every(period, () => this.tick());
    this.every(period, () => this.sweep());
  }

  /** Leaves: gives the lease up, drops this replica's directory entries and closes the connections. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.lease.stop();
    await this.inbox.stop();
    this.reader.disconnect();
    this.subscriber.disconnect();
    await this.redis.zrem(this.keys.replicas, this.me).catch(() => 0);
    await this.redis.quit().catch(() => undefined);
    await this.writer.quit().catch(() => undefined);
  }

  /** Publishes the accepted revision for the followers (fenced: a stale leader's publish is refused). */
  async publishRevision(revision: Revision): Promise<void> {
    await this.fenced.set(
      `publish revision ${revision.id}`,
      this.keys.revision,
      encodeRevision(revision),
      `${REVISION_EVENT}${revision.id}`,
    );
  }

  /** The revision the leader published last, if any. */
  async readRevision(): Promise<Revision | undefined> {
    const text = await this.redis.get(this.keys.revision);
    return text === null ? undefined : decodeRevision(text);
  }

  /** The first `bytes` of the published revision (its id is near the start), or undefined. */
  async publishedRevisionHead(bytes: number): Promise<string | undefined> {
    const head = await this.redis.getrange(this.keys.revision, 0, bytes - 1);
    return head === '' ? undefined : head;
  }

  /** Tells every replica that an execution result is stored (their waiters read it from the store). */
  async publishResult(taskId: string, hostId: string): Promise<void> {
    await this.redis.publish(this.keys.results, `${this.me}\t${taskId}\t${hostId}`);
  }

  /** Sends work to another replica's inbox. */
  send(replicaId: string, work: InboxWork): Promise<void> {
    return this.inbox.send(replicaId, work);
  }

  /** Writes the host's stored record offline (Unknown) unless a replica holds its session, atomically. */
  markOfflineUnlessHeld(hostId: string): Promise<OfflineMark> {
    return markOfflineUnlessHeld(this.redis, this.keys, redisLayout(this.keys.prefix), hostId);
  }

  /**
   * Writes host states (the store's batch), each unless another replica has the host's directory entry, the
   * check atomic with the write; answers the ids refused.
   */
  async writeHostStates(writes: HostStateWrite[]): Promise<string[]> {
    const refused = await writeHostStatesHeld(
      this.writer,
      this.keys,
      redisLayout(this.keys.prefix),
      this.me,
      writes,
    );
    if (refused.length > 0) {
      // This replica's view of these hosts is stale (their agents moved on): the holder's writes stand.
      this.refusedHostWrites += refused.length;
      this.logger.info('host writes refused: another replica holds these hosts', {
        count: refused.length,
        hostIds: refused.slice(0, REFUSED_IDS_LOGGED),
      });
    }
    return refused;
  }

  /** Host states `writeHostStates` refused since start (another replica held the host). */
  get hostWritesRefused(): number {
    return this.refusedHostWrites;
  }

  /** The leader's replica id, as last seen. */
  leader(): string | undefined {
    return this.lease.current().holder;
  }

  private async onMessage(channel: string, message: string): Promise<void> {
    const hooks = this.hooks;
    if (!hooks) return;
    if (channel === this.keys.results) {
      const [origin, taskId, hostId] = message.split('\t');
      if (origin && taskId && hostId) await hooks.resultRecorded(origin, taskId, hostId);
      return;
    }
    if (message === ROLLOUTS_CHANGED) hooks.rolloutsChanged();
    else if (message.startsWith(REVISION_EVENT))
      await hooks.revisionPublished(message.slice(REVISION_EVENT.length));
  }

  /**
   * Refreshes this replica's entries and liveness. What the refresh found (hosts taken by another replica,
   * entries swept while this one was silent) is handled in the background: a rewrite of thousands of
   * reclaimed hosts must not hold the next refresh, or the entries expire again meanwhile.
   */
  private async tick(): Promise<void> {
    const hooks = this.hooks;
    this.liveReplicas = await this.redis.gseReplicaAlive(
      this.keys.replicas,
      this.me,
      String(this.options.leaseMs),
    );
    const { lost, back } = await this.directory.refresh();
    if (lost.length > 0) this.background('sessions taken', hooks?.sessionsTaken(lost));
    if (back.length > 0) this.background('sessions reclaimed', hooks?.sessionsReclaimed(back));
  }

  /** The leader's sweep: removes expired entries and marks their hosts offline, a chunk at a time, at once. */
  private async sweep(): Promise<void> {
    const hooks = this.hooks;
    while (this.lease.isLeader()) {
      const expired = await this.directory.sweepExpired();
      if (expired.length === 0) return;
      await Promise.all(expired.map((e) => hooks?.sessionExpired(e.hostId, e.holder)));
    }
  }

  private background(what: string, work: Promise<void> | undefined): void {
    work?.catch((err: unknown) => this.logger.warn(`${what}: not handled`, { error: String(err) }));
  }

  private every(ms: number, fn: () => Promise<void>): void {
    let running = false;
    const t = setInterval(() => {
      if (running) return;
      running = true;
      fn()
        .catch((err: unknown) => this.logger.warn('cluster tick failed', { error: String(err) }))
        .finally(() => {
          running = false;
        });
    }, ms);
    t.unref();
    this.timers.push(t);
  }
}
