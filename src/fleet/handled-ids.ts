/**
 * Which agent message ids the controller already handled, so a replayed or re-sent id is acked again but
 * not handled twice. Bounded: the oldest ids are forgotten first (a Map iterates in insertion order).
 *
 * An id is remembered only after its handler made the message durable, so acking a replay loses nothing.
 * Ids live per hub (not per session), so they survive a reconnect: the agent re-sends what was not acked
 * before the connection dropped, and an id whose ack was lost is acked without running its handler again.
 * They do not survive a controller restart, nor eviction; then a re-sent message is handled again, which
 * the handlers tolerate (reports are level-triggered state, results are keyed by task and host, records
 * carry a `rid` for consumers to dedupe).
 */

/** Ids remembered per hub; about 100 bytes each. */
export const MAX_HANDLED_IDS = 100_000;

/** How a message with a known id is to be treated. */
export type Seen = 'new' | 'handled' | { running: Promise<boolean> };

export class HandledIds {
  private readonly done = new Map<string, true>();
  private readonly running = new Map<string, Promise<boolean>>();

  constructor(private readonly max = MAX_HANDLED_IDS) {}

  /** Handled ids currently remembered. */
  get size(): number {
    return this.done.size;
  }

  /** Whether `agentId`'s message `id` is new, handled, or being handled (by this or an older session). */
  check(agentId: string, id: string): Seen {
    const k = key(agentId, id);
    if (this.done.has(k)) return 'handled';
    const running = this.running.get(k);
    return running ? { running } : 'new';
  }

  /** Marks the id as being handled until `handling` settles; it is remembered when it resolved true. */
  track(agentId: string, id: string, handling: Promise<boolean>): void {
    const k = key(agentId, id);
    this.running.set(k, handling);
    handling.then(
      (ok) => {
        this.running.delete(k);
        if (ok) this.remember(k);
      },
      () => this.running.delete(k),
    );
  }

  private remember(k: string): void {
    this.done.delete(k);
    this.done.set(k, true);
    if (this.done.size > this.max) {
      const oldest = this.done.keys().next().value as string;
      this.done.delete(oldest);
    }
  }
}

/** Agent ids cannot hold NUL (AGENT_ID_PATTERN), so the key is unambiguous. */
function key(agentId: string, id: string): string {
  return `${agentId}\u0000${id}`;
}
