/**
 * The leader lease on Redis: one key with a TTL holding `<fencing token>:<replica id>`, taken with a new
 * token (INCR) when free and renewed by its holder every third of the lease. What the replica believes is
 * decided by `decideLease` (pure); this only asks Redis and tells the listeners.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../kernel/logger.js';
import type { ClusterKeys } from './keys.js';
import { decideLease, type LeaseRead, type LeaseView, leadsAt, NO_LEASE } from './lease-decision.js';

export interface LeaseListener {
  /** This replica now leads with `token`; calls are made in order, while the lease goes on renewing. */
  elected(token: number): Promise<void>;
  /** This replica no longer leads (lost the lease, or could not renew it in time). */
  deposed(view: LeaseView): Promise<void>;
}

export interface LeaderLeaseDeps {
  redis: Redis;
  keys: ClusterKeys;
  me: string;
  leaseMs: number;
  logger: Logger;
  now(): number;
  listener: LeaseListener;
}

export class LeaderLease {
  private view: LeaseView = NO_LEASE;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private told: Promise<void> = Promise.resolve();

  constructor(private readonly deps: LeaderLeaseDeps) {}

  /** Makes the first attempt (so a lone replica leads at once), then renews every third of the lease. */
  async start(): Promise<void> {
    await this.attempt();
    this.timer = setInterval(
      () => {
        if (this.running) return;
        this.running = this.attempt().finally(() => {
          this.running = undefined;
        });
      },
      Math.max(50, Math.floor(this.deps.leaseMs / 3)),
    );
    this.timer.unref();
  }

  /** The fencing token while this replica leads, else undefined. */
  token(): number | undefined {
    return leadsAt(this.view, this.deps.now()) ? this.view.token : undefined;
  }

  /** True while this replica leads. */
  isLeader(): boolean {
    return this.token() !== undefined;
  }

  /** What this replica believes (role, holder, token). */
  current(): LeaseView {
    return this.view;
  }

  /** Stops renewing and gives the lease up, so another replica takes it at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.told;
    if (this.view.role !== 'leader') return;
    this.view = NO_LEASE;
    await this.deps.redis.gseLeaseRelease(this.deps.keys.lease, this.deps.me).catch((err: unknown) => {
      this.deps.logger.warn('lease not released; it expires on its own', { error: String(err) });
    });
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    const { redis, keys, me, leaseMs, logger } = this.deps;
    const sentAt = this.deps.now();
    let reply: LeaseRead | undefined;
    try {
      const [token, holder, ttlMs] = await redis.gseLease(keys.lease, keys.fencingToken, me, String(leaseMs));
      reply = { token: Number(token), holder, ttlMs: Number(ttlMs) };
    } catch (err) {
      logger.warn('lease attempt failed', { replica: me, error: String(err) });
    }
    const { view, change } = decideLease({ me, sentAt, now: this.deps.now(), reply, previous: this.view });
    this.view = view;
    if (change === 'elected') {
      logger.info('lease acquired: this replica leads', { replica: me, token: view.token });
      this.tell(() => this.deps.listener.elected(view.token as number));
    } else if (change === 'deposed') {
      logger.warn('lease lost: this replica follows', {
        replica: me,
        holder: view.holder,
        token: view.token,
      });
      this.tell(() => this.deps.listener.deposed(view));
    }
  }

  /**
   * Tells the listener in order, without holding up the renewals: what an election starts (a first Git
   * fetch, say) may take longer than the lease, which must be renewed meanwhile.
   */
  private tell(call: () => Promise<void>): void {
    this.told = this.told.then(call).catch((err: unknown) => {
      this.deps.logger.error('lease listener failed', { replica: this.deps.me, error: String(err) });
    });
  }

  /** Resolves once the listener heard of every change so far. */
  settled(): Promise<void> {
    return this.told;
  }
}
