/**
 * Batch writes on Redis: many hosts' records and statuses in one MULTI, many drift records in another.
 * One pipeline reads the current versions, one MULTI writes; a record another writer changed in between is
 * handed back, and the store redoes it alone with its optimistic update.
 */
import type { Redis } from 'ioredis';
import { encodeRecord, type RedisLayout } from './redis-kinds.js';
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
 * Writes every host (keeping its stored `firstSeen`) with its whole status set, in one MULTI. Returns the
 * hosts whose record changed under us between the read and the write (their statuses are written).
 */
export async function writeHostStates(
  client: Redis,
  keys: RedisLayout,
  writes: CheckedHostWrite[],
): Promise<HostRecord[]> {
  if (writes.length === 0) return [];
  const hostKeys = writes.map((w) => keys.hosts.recordPrefix + w.host.hostId);
  const current = await readVersions(client, hostKeys, 'read hosts');
  const tx = client.multi();
  const upsertAt: number[] = [];
  let commands = 0;
  writes.forEach(({ host, statuses }, i) => {
    const key = hostKeys[i] as string;
    const [json, version] = current[i] ?? [null, null];
    const stored = json == null ? undefined : decodeRecord(keys.hosts, json, key);
    const record = { ...host, firstSeen: stored?.firstSeen ?? host.firstSeen };
    tx.gseUpsert(key, typeof version === 'string' ? version : '0', ...encodeRecord(keys.hosts, record));
    upsertAt.push(commands++);
    const kind = keys.statuses;
    for (const status of statuses.values()) {
      tx.gseUpsert(kind.recordPrefix + kind.id(status), '*', ...encodeRecord(kind, status));
      commands++;
    }
    const keep = [...statuses.values()].map(kind.id);
    tx.gsePrune(keys.statusesBy('hostId', host.hostId), kind.recordPrefix, ...keep);
    commands++;
  });
  const results = await replies(tx, 'host states');
  return writes.filter((_, i) => Number(results[upsertAt[i] as number]) < 0).map((w) => w.host);
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
