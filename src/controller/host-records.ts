/** What the store is told about a host (pure): its record and its per-resource statuses. */
import type { HostRecord, ResourceStatus } from '../store/types.js';
import type { HostRuntime } from './host-runtime.js';
import { itemSyncState } from './sync-state.js';

/** The resource key under which a host's send failure is shown in its resource statuses. */
export const SEND_ERROR_KEY = 'Manifest/send';

/** The host's store record; its labels are the effective ones (HostGroups' included) once planned. */
export function hostRecord(host: HostRuntime): HostRecord {
  return {
    hostId: host.facts.id,
    name: host.facts.name,
    ips: host.facts.ips,
    cloudId: host.facts.cloudId,
    os: host.facts.os,
    agentVersion: host.facts.agentVersion,
    labels: host.desired?.labels ?? host.facts.labels,
    facts: host.facts.facts,
    firstSeen: host.firstSeen,
    lastSeen: host.lastSeen,
    connected: host.connected,
    syncState: host.syncState,
    revision: host.reportedRevision,
    desiredHash: host.desired?.hash,
    reportedHash: host.reportedHash,
    lastReportAt: host.lastReportAt,
    retry: host.retry
      ? { attempts: host.retry.attempts, nextAt: new Date(host.retry.nextAt).toISOString() }
      : undefined,
  };
}

/**
 * One status per desired item (from the host's last report), plus a Failed `Manifest/send` while a
 * connected host's manifest cannot be sent, plus a Failed status per resource the planner could not render.
 */
export function resourceStatuses(host: HostRuntime, nowIso: string): ResourceStatus[] {
  const reported = new Map(host.items.map((i) => [`${i.kind}/${i.name}`, i]));
  const statuses: ResourceStatus[] = (host.desired?.items ?? []).map((item) => {
    const key = `${item.kind}/${item.name}`;
    const r = reported.get(key);
    const state = itemSyncState(item.hash, r, host.connected);
    // An AgentVersion item is Synced only once the agent runs Git's version.
    const lagging = item.kind === 'AgentVersion' && state === 'Synced' && host.versionLag !== undefined;
    return {
      hostId: host.facts.id,
      key,
      kind: item.kind,
      name: item.name,
      hash: item.hash,
      state: lagging ? 'OutOfSync' : state,
      message: lagging ? host.versionLag : r?.message,
      observedHash: r?.observedHash,
      updatedAt: nowIso,
    };
  });
  if (host.sendError !== undefined && host.connected) {
    statuses.push({
      hostId: host.facts.id,
      key: SEND_ERROR_KEY,
      kind: 'Manifest',
      name: 'send',
      hash: host.desired?.hash ?? '',
      state: 'Failed',
      message: host.sendError,
      updatedAt: nowIso,
    });
  }
  for (const e of host.planErrors) {
    const [kind = '', name = ''] = e.resource.split('/');
    statuses.push({
      hostId: host.facts.id,
      key: e.resource,
      kind,
      name,
      hash: '',
      state: 'Failed',
      message: e.message,
      updatedAt: nowIso,
    });
  }
  return statuses;
}
