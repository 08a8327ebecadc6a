/**
 * Batch writes on Redis, each one pipeline of atomic per-record scripts with nothing read first: many
 * hosts' records and statuses, many drift records.
 */
import type { Redis } from 'ioredis';
import { parseHost } from './records.js';
import { encodeRecord, indexEntries, type RedisLayout } from './redis-kinds.js';
import { replies } from './redis-scan.js';
import type { HostStateArgs } from './redis-scripts.js';
import { statusesByKey } from './shared.js';
import type { DriftRecord, HostRecord, HostStateWrite, ResourceStatus } from './types.js';

/** A checked host write: its record and its statuses by key. */
export interface CheckedHostWrite {
  host: HostRecord;
  statuses: Map<string, ResourceStatus>;
}

/** `writes` checked as records, each host's statuses by key (a status of another host is refused). */
export function checkHostWrites(writes: HostStateWrite[]): CheckedHostWrite[] {
  return writes.map((w, i): CheckedHostWrite => {
    const host = parseHost(w.host, `writes[${i}].host`);
    return { host, statuses: statusesByKey(host.hostId, w.statuses, `writes[${i}].statuses`) };
  });
}

/**
 * The Lua `host_state` arguments for one write (src/store/redis-scripts.ts): its record key, its status
 * set, then the host's JSON without firstSeen, index entries, firstSeen, status prefix and status triples.
 */
export function hostStateArgs(keys: RedisLayout, { host, statuses }: CheckedHostWrite): HostStateArgs {
  const { firstSeen, ...rest } = host;
  const kind = keys.statuses;
  const args: string[] = [];
  for (const status of statuses.values()) {
    args.push(kind.id(status), JSON.stringify(status), indexEntries(kind, status));
  }
  return [
    keys.hosts.recordPrefix + host.hostId,
    keys.statusesBy('hostId', host.hostId),
    JSON.stringify(rest),
    indexEntries(keys.hosts, host),
    firstSeen,
    kind.recordPrefix,
    ...args,
  ];
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
  for (const write of writes) batch.gseHostState(...hostStateArgs(keys, write));
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
