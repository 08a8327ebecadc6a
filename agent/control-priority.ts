/**
 * Control before data on the agent's own event loop. The lanes keep exec results and reports ahead of data
 * on the wire, but on a busy host the agent's loop is full of data work (reading pushers, batching,
 * spooling, sending records), and each of the dozen awaits of an exec (ledger, spawn, exit, spool, send)
 * waits a full turn of it. While control work (an exec, a manifest apply) runs, data work that can wait is
 * held: ingest sockets are not read and the data lane sends nothing. Nothing is dropped: pushers are told
 * "accepted" later, and records stay spooled. The hold is capped, so a long script never starves data.
 */
/** Data is held at most this long per stretch of control work (measured from its first begin). */
export const CONTROL_HOLD_MAX_MS = 250;

export class ControlPriority {
  private active = 0;
  /** Set while holding: it fires at the cap. */
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: (() => void)[] = [];

  /** `maxMs`: the cap of one hold; default CONTROL_HOLD_MAX_MS. */
  constructor(private readonly maxMs = CONTROL_HOLD_MAX_MS) {}

  /** Calls `fn` when the hold starts and when it ends (work done or cap reached). */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** True while data work should wait. */
  get holding(): boolean {
    return this.timer !== undefined;
  }

  /** Control work starts; call the returned function (once is enough) when it is done. */
  begin(): () => void {
    this.active += 1;
    if (this.active === 1) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.changed();
      }, this.maxMs);
      this.timer.unref();
      this.changed();
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.active -= 1;
      if (this.active > 0) return;
      const wasHeld = this.timer !== undefined;
      clearTimeout(this.timer);
      this.timer = undefined;
      if (wasHeld) this.changed();
    };
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }
}
