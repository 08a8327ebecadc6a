/**
 * Dry runs in flight: a `dryRun` sent to an agent and the report that answers it (`dryRunOf`). The answer is
 * handed to whoever asked and never reaches the reconciler: it says what an apply would do, not the host's
 * state. An agent that does not answer in time (or an older one that refuses the message) times out.
 */
import { randomUUID } from 'node:crypto';
import type { HostManifest } from '../protocol/manifest.js';
import type { DryRunMessage, ReportMessage } from '../protocol/messages.js';

/** How long a dry run waits for an agent by default. */
export const DEFAULT_DRY_RUN_TIMEOUT_MS = 30_000;

export interface DryRunsDeps {
  /** Sends to a connected agent; false when it is not connected. */
  send(agentId: string, msg: DryRunMessage): boolean;
  /** Default a new UUID. */
  newId?(): string;
}

/** One host's answer: the report, or why there is none. */
export type DryRunAnswer =
  | { hostId: string; ok: true; report: ReportMessage }
  | { hostId: string; ok: false; error: 'offline' | 'timeout' | 'send failed'; message: string };

interface Pending {
  hostId: string;
  resolve(answer: DryRunAnswer): void;
  timer: NodeJS.Timeout;
}

export class DryRuns {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly deps: DryRunsDeps) {}

  /** Asks `hostId` what applying `manifest` would change; resolves with its answer or why there is none. */
  ask(hostId: string, manifest: HostManifest, timeoutMs = DEFAULT_DRY_RUN_TIMEOUT_MS): Promise<DryRunAnswer> {
    const id = this.deps.newId?.() ?? randomUUID();
    return new Promise<DryRunAnswer>((resolve) => {
      let sent: boolean;
      try {
        sent = this.deps.send(hostId, { v: 1, type: 'dryRun', id, manifest });
      } catch (err) {
        resolve({ hostId, ok: false, error: 'send failed', message: String(err) });
        return;
      }
      if (!sent) {
        resolve({ hostId, ok: false, error: 'offline', message: 'not connected' });
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({
          hostId,
          ok: false,
          error: 'timeout',
          message: `no answer within ${timeoutMs} ms (an agent older than dry runs does not answer)`,
        });
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { hostId, resolve, timer });
    });
  }

  /** A report carrying `dryRunOf` arrived from `agentId`; true when it answered a dry run of that host. */
  answer(agentId: string, report: ReportMessage): boolean {
    const id = report.dryRunOf;
    const p = id === undefined ? undefined : this.pending.get(id);
    // Another host's id, or one already timed out: dropped (acked, since re-sending cannot help).
    if (!p || p.hostId !== agentId || id === undefined) return false;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve({ hostId: agentId, ok: true, report });
    return true;
  }

  /** Ends every dry run in flight as timed out (controller stop). */
  close(): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve({ hostId: p.hostId, ok: false, error: 'timeout', message: 'the controller is stopping' });
      this.pending.delete(id);
    }
  }
}
