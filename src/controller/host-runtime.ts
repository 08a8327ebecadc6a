/** What the controller keeps in memory about one host, and how a runtime starts (pure). */
import type { HostFacts, HostManifest } from '../protocol/manifest.js';
import type { ItemReport } from '../protocol/messages.js';
import type { HostRecord } from '../store/types.js';
import type { PlanError } from './plan.js';
import type { SelectableHost } from './select.js';
import type { SyncState } from './sync-state.js';

/** A host's retry schedule after a failed apply (epoch ms). */
export interface RetrySchedule {
  attempts: number;
  nextAt: number;
}

export interface HostRuntime {
  facts: HostFacts;
  connected: boolean;
  /** Connected, but its heartbeat is overdue: state Unknown until it is heard from again. */
  silent?: boolean;
  firstSeen: string;
  lastSeen: string;
  desired?: HostManifest;
  /** The host as selectors see it under the current revision (kept for the data path's per-record matching). */
  selectable?: SelectableHost;
  planErrors: PlanError[];
  /** Manifests sent and not yet superseded, by hash, so a report can be matched to what the host holds. */
  sent: Map<string, HostManifest>;
  sentHash?: string;
  sentAt?: number;
  reportedHash?: string;
  /**
   * The manifest hash the agent's hello said it holds, in this session. When that is the desired manifest,
   * the re-verify a reconnect asks for goes out as an empty delta on it, not the whole manifest again.
   */
  helloHash?: string;
  reportedRevision?: string;
  lastReportAt?: string;
  items: ItemReport[];
  /**
   * The manifest hash of the last report since this controller started: `items` says how each resource of
   * that manifest is. Undefined until a report arrives.
   */
  itemsHash?: string;
  retry?: RetrySchedule;
  /**
   * Why the desired manifest could not be sent (the hub refused it: too large for a frame, or the session
   * is gone). The host is Failed with this reason until a send succeeds; never Synced or Progressing.
   */
  sendError?: string;
  syncState: SyncState;
  /** Why the host's agent version is not what Git says (a rollout has not reached it, or undo), if so. */
  versionLag?: string;
}

/** A host the store knew before a restart: not connected (Unknown) until its agent returns. */
export function restoredRuntime(h: HostRecord): HostRuntime {
  return {
    facts: {
      id: h.hostId,
      name: h.name,
      ips: h.ips,
      cloudId: h.cloudId,
      os: h.os,
      agentVersion: h.agentVersion,
      labels: h.labels,
      facts: h.facts,
    },
    connected: false,
    firstSeen: h.firstSeen,
    lastSeen: h.lastSeen,
    planErrors: [],
    sent: new Map(),
    items: [],
    syncState: 'Unknown',
    reportedHash: h.reportedHash,
    reportedRevision: h.revision,
    lastReportAt: h.lastReportAt,
  };
}

/** A host first seen by this controller when its agent connects (`stored`: what the store kept, if any). */
export function connectedRuntime(
  facts: HostFacts,
  stored: HostRecord | undefined,
  nowIso: string,
): HostRuntime {
  return {
    facts,
    connected: true,
    firstSeen: stored?.firstSeen ?? nowIso,
    lastSeen: nowIso,
    planErrors: [],
    sent: new Map(),
    items: [],
    syncState: 'Unknown',
    reportedHash: stored?.reportedHash,
    reportedRevision: stored?.revision,
  };
}
