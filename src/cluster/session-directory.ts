/**
 * The session directory: which replica holds each agent's session, with a TTL. The holder claims an entry
 * when an agent connects, refreshes its entries every third of the lease and drops them when the session
 * ends; the leader sweeps entries nobody refreshed (their replica died), so those hosts turn Unknown.
 */
import type { Redis } from 'ioredis';
import type { ClusterKeys } from './keys.js';

/** Ids per script call, so one call never holds Redis for long. */
const CHUNK = 1_000;

export class SessionDirectory {
  private readonly held = new Set<string>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: ClusterKeys,
    /** This replica's id, as entries name their holder. */
    readonly me: string,
    /** How long an entry lives without a refresh (the lease). */
    private readonly ttlMs: number,
  ) {}

  /** True when this replica holds the host's session. */
  holdsLocally(hostId: string): boolean {
    return this.held.has(hostId);
  }

  /** Records that this replica holds the host's session (an agent connected here). */
  async claim(hostId: string): Promise<void> {
    this.held.add(hostId);
    await this.redis.gseClaim(
      this.keys.holders,
      this.keys.sessionExpiry,
      this.me,
      String(this.ttlMs),
      hostId,
    );
  }

  /** Drops this replica's entry for the host (its session ended); another replica's entry is left alone. */
  async release(hostId: string): Promise<void> {
    this.held.delete(hostId);
    await this.redis.gseRelease(this.keys.holders, this.keys.sessionExpiry, this.me, hostId);
  }

  /**
   * Refreshes every entry this replica holds. `lost`: hosts another replica took meanwhile (their agent
   * reconnected there), no longer held here; `back`: entries the leader swept while this replica was silent
   * (paused, cut off), claimed again since their sessions are still here.
   */
  async refresh(): Promise<{ lost: string[]; back: string[] }> {
    const lost: string[] = [];
    const back: string[] = [];
    const ids = [...this.held];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const flat = await this.redis.gseRefresh(
        this.keys.holders,
        this.keys.sessionExpiry,
        this.me,
        String(this.ttlMs),
        ...chunk,
      );
      for (let j = 0; j + 1 < flat.length; j += 2)
        (flat[j + 1] === 'lost' ? lost : back).push(flat[j] as string);
    }
    for (const id of lost) this.held.delete(id);
    return { lost, back };
  }

  /** The replica holding each host's session now (entries past their TTL count as none). */
  async holders(hostIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < hostIds.length; i += CHUNK) {
      const chunk = hostIds.slice(i, i + CHUNK);
      const replies = await this.redis.gseHolders(this.keys.holders, this.keys.sessionExpiry, ...chunk);
      chunk.forEach((id, j) => {
        const holder = replies[j];
        if (holder) out.set(id, holder);
      });
    }
    return out;
  }

  /** The replica holding the host's session, or undefined. */
  async holderOf(hostId: string): Promise<string | undefined> {
    if (this.held.has(hostId)) return this.me;
    return (await this.holders([hostId])).get(hostId);
  }

  /** Removes the entries past their TTL (the leader's job); answers each with the replica that held it. */
  async sweepExpired(limit = CHUNK): Promise<Array<{ hostId: string; holder: string }>> {
    const flat = await this.redis.gseSweep(this.keys.holders, this.keys.sessionExpiry, String(limit));
    const out: Array<{ hostId: string; holder: string }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      out.push({ hostId: flat[i] as string, holder: flat[i + 1] as string });
    return out;
  }
}
