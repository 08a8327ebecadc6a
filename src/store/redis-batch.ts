/**
 * Batch writes on Redis: many hosts' records and statuses in one pipeline of per-host scripts; many drift
 * records in one MULTI, after one pipeline read their current versions (a record another writer changed
 * in between is handed back, and the store redoes it alone with its optimistic update).
 */
import type { Redis } from 'ioredis';
import { encodeRecord, indexEntries, type RedisLayout } from './redis-kinds.js';
import { decodeRecord, replies } from './redis-scan.js';
import type { DriftRecord, HostRecord, ResourceStatus } from './types.js';

/** A checked host write: its record and its statuses by key. */
export interface CheckedHostWrite {
  host: HostRecord;
  statuses: Map<string, ResourceStatus>;
}

/** The current `data` and `ver` of each key, in one pipeline. */
async function readVersions(client: Redis, keys: string[], what: string): Promise<Array<[unknown, unknown]>> {
  const read = client.pipeline();
  for (const key of keys) read.hmget(key, 'data', 'ver');
  return (await replies(read, what)) as Array<[unknown, unknown]>;
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
 * Stores each drift record once per id (a re-sent one may only turn `healed` on), in one MULTI. Returns the
 * records whose stored version changed between the read and the write.
 */
export async function writeDrifts(
  client: Redis,
  keys: RedisLayout,
  records: DriftRecord[],
): Promise<DriftRecord[]> {
  if (records.length === 0) return [];
  const kind = keys.drift;
  const recordKeys = records.map((r) => kind.recordPrefix + kind.id(r));
  const current = await readVersions(client, recordKeys, 'read drift');
  const tx = client.multi();
  const written: DriftRecord[] = [];
  records.forEach((drift, i) => {
    const key = recordKeys[i] as string;
    const [json, version] = current[i] ?? [null, null];
    const stored = json == null ? undefined : decodeRecord(kind, json, key);
    const next = driftAfter(stored, drift);
    if (next === undefined) return;
    tx.gseUpsert(key, typeof version === 'string' ? version : '0', ...encodeRecord(kind, next));
    written.push(drift);
  });
  if (written.length === 0) return [];
  const results = await replies(tx, 'drift');
  return written.filter((_, j) => Number(results[j]) < 0);
}

/** What to store for `drift` given the stored record: itself when new, a heal, or nothing. */
export function driftAfter(stored: DriftRecord | undefined, drift: DriftRecord): DriftRecord | undefined {
  if (!stored) return drift;
  if (!drift.healed || stored.healed) return undefined;
  return { ...stored, healed: true, healedAt: drift.healedAt ?? stored.healedAt };
}
