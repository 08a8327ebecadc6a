/** How far a host (and each of its resources) is from Git: pure rules over what the controller knows. */
import type { HostManifest } from '../protocol/manifest.js';
import type { ItemReport } from '../protocol/messages.js';

import type { SyncState } from '../store/types.js';

export { SYNC_STATES, type SyncState } from '../store/types.js';

export interface HostObservation {
  connected: boolean;
  desired: HostManifest | undefined;
  /** Hash of the manifest last sent to the host and not yet reported on. */
  sentHash?: string;
  /** The host's last report. */
  reportedHash?: string;
  items: ItemReport[];
  /** Resources the planner could not render for this host. */
  planErrors: number;
  /** The last attempt to send the desired manifest failed (the hub refused or threw). */
  sendFailed?: boolean;
  /** The agent runs another version than Git says (a Synced host is OutOfSync then). */
  versionLag?: boolean;
}

/** One resource's state from the host's report about it. */
export function itemSyncState(
  desiredHash: string,
  report: ItemReport | undefined,
  connected: boolean,
): SyncState {
  if (!connected) return 'Unknown';
  if (!report || report.hash !== desiredHash) return 'Progressing';
  switch (report.state) {
    case 'ok':
    case 'changed':
      return 'Synced';
    case 'failed':
      return 'Failed';
    case 'drifted':
      return 'OutOfSync';
    case 'pending':
      return 'Progressing';
  }
}

/**
 * The host's state: Unknown when not connected; Failed when a resource cannot be planned or failed to
 * apply, or its manifest could not be sent; Progressing while the manifest sent is not yet reported; OutOfSync when the host holds another
 * manifest (nothing sent yet) or drifted without healing; else Synced.
 */
export function hostSyncState(obs: HostObservation): SyncState {
  if (!obs.connected) return 'Unknown';
  if (obs.planErrors > 0) return 'Failed';
  const desiredHash = obs.desired?.hash;
  // A host never sent its manifest is not Synced or Progressing, whatever it reported before.
  if (obs.sendFailed && obs.reportedHash !== desiredHash) return 'Failed';
  if (desiredHash === undefined) return 'Progressing';
  if (obs.reportedHash !== desiredHash) return obs.sentHash === desiredHash ? 'Progressing' : 'OutOfSync';
  const byKey = new Map(obs.items.map((r) => [`${r.kind}/${r.name}`, r]));
  let state: SyncState = 'Synced';
  for (const item of obs.desired?.items ?? []) {
    const s = itemSyncState(item.hash, byKey.get(`${item.kind}/${item.name}`), true);
    if (s === 'Failed') return 'Failed';
    if (s === 'OutOfSync') state = 'OutOfSync';
    else if (s === 'Progressing' && state === 'Synced') state = 'Progressing';
  }
  return state === 'Synced' && obs.versionLag ? 'OutOfSync' : state;
}

/** What `hostSyncState` needs of a host the reconciler holds (a silent host counts as not connected). */
export function hostObservation(host: {
  connected: boolean;
  silent?: boolean;
  desired?: HostManifest;
  sentHash?: string;
  reportedHash?: string;
  items: ItemReport[];
  planErrors: readonly unknown[];
  sendError?: string;
  versionLag?: string;
}): HostObservation {
  return {
    connected: host.connected && !host.silent,
    desired: host.desired,
    sentHash: host.sentHash,
    reportedHash: host.reportedHash,
    items: host.items,
    planErrors: host.planErrors.length,
    sendFailed: host.sendError !== undefined,
    versionLag: host.versionLag !== undefined,
  };
}
