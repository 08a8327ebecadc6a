/**
 * Host lifecycle: deleting a host (its credential revoked through the hub's revoke, so it cannot return
 * without an operator; its history kept) and dropping hosts silent past `--host-retention` from the views.
 */
import { AgentNotFoundError } from '../fleet/errors.js';

/** What a host deletion did. */
export interface HostRemoval {
  hostId: string;
  /** The agent's credential was revoked (false when no agent record held this id). */
  revoked: boolean;
}

/** The parts a deletion acts on. */
export interface HostRemovalDeps {
  /** The hub's revoke: the credential stops working and a live session is closed. */
  revoke(agentId: string): Promise<unknown>;
  /** The reconciler's forgetHost: out of memory and the store, history kept. */
  forgetHost(hostId: string): Promise<boolean>;
}

/**
 * Deletes a host: revokes its agent first (so it cannot reconnect in between), then drops it from the
 * fleet views. Whether a connected host may be deleted is the caller's decision (the API asks for force).
 */
export async function removeHost(deps: HostRemovalDeps, hostId: string): Promise<HostRemoval> {
  let revoked = true;
  try {
    await deps.revoke(hostId);
  } catch (err) {
    if (!(err instanceof AgentNotFoundError)) throw err;
    revoked = false;
  }
  await deps.forgetHost(hostId);
  return { hostId, revoked };
}

/** A host as the retention sweep sees it. */
export interface RetainedHost {
  hostId: string;
  connected: boolean;
  /** ISO time it was last heard from. */
  lastSeen: string;
}

/** The hosts not connected and not seen for longer than `retentionMs` at `nowMs`. Pure. */
export function hostsPastRetention(
  hosts: readonly RetainedHost[],
  nowMs: number,
  retentionMs: number,
): string[] {
  return hosts
    .filter((h) => !h.connected && nowMs - Date.parse(h.lastSeen) > retentionMs)
    .map((h) => h.hostId);
}
