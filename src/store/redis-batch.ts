/**
 * Batch writes on Redis, each one pipeline of atomic per-record scripts with nothing read first: many
 * hosts' records and statuses, many drift records.
 */
import type { Redis } from 'ioredis';
import { encodeRecord, indexEntries, type RedisLayout } from './redis-kinds.js';
import { replies } from './redis-scan.js';
import type { DriftRecord, HostRecord, ResourceStatus } from './types.js';

/** A checked host write: its record and its statuses by key. */
export interface CheckedHostWrite {
  host: HostRecord;
  statuses: Map<string, ResourceStatus>;
}

/**
 * Writes every host (keeping its stored `firstSeen`) with its whole status set: one script per host, which
 * writes its record and statuses and deletes its statuses not in the set atomically, all in one pipeline.
 * Nothing is read first: the host's record is this replica's to write (the session guard), so the latest
 * write wins, as for the statuses.
 */
export async function writeHostStates(
  client: Redis,
  keys: RedisLayout,
  writes: CheckedHostWrite[],
): Promise<void> {
  if (writes.length === 0) return;
  const batch = client.pipeline();
  const kind = keys.statuses;
  for (const { host, statuses } of writes) {
    const { firstSeen, ...rest } = host;
    const args: string[] = [];
    for (const status of statuses.values()) {
      args.push(kind.id(status), JSON.stringify(status), indexEntries(kind, status));
    }
    batch.gseHostState(
      keys.hosts.recordPrefix + host.hostId,
      keys.statusesBy('hostId', host.hostId),
      JSON.stringify(rest),
      indexEntries(keys.hosts, host),
      firstSeen,
      kind.recordPrefix,
      ...args,
    );
  }
  await replies(batch, 'host states');
}

/**
 * Stores each drift record once per id: one pipeline of inserts that each write only where no record is
 * stored yet. Returns the re-sent records that may turn a stored one healed, for the store's optimistic
 * update (a re-sent record that is not healed changes nothing).
 */
export async function writeDrifts(
  client: Redis,
  keys: RedisLayout,
  records: DriftRecord[],
): Promise<DriftRecord[]> {
  if (records.length === 0) return [];
  const kind = keys.drift;
  const batch = client.pipeline();
  for (const drift of records)
    batch.gseUpsert(kind.recordPrefix + kind.id(drift), '0', ...encodeRecord(kind, drift));
  const results = await replies(batch, 'drift');
  return records.filter((drift, i) => drift.healed && Number(results[i]) < 0);
}

/** What to store for `drift` given the stored record: itself when new, a heal, or nothing. */
export function driftAfter(stored: DriftRecord | undefined, drift: DriftRecord): DriftRecord | undefined {
  if (!stored) return drift;
  if (!drift.healed || stored.healed) return undefined;
  return { ...stored, healed: true, healedAt: drift.healedAt ?? stored.healedAt };
}
