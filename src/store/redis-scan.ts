/**
 * Reading records through lex-ordered indexes: fetch records by id, page through an index (newest first or
 * by id) applying the filters the index does not cover, and delete by index member (retention).
 */
import type { ChainableCommander, Redis } from 'ioredis';
import { CorruptRecordError, StoreConflictError } from './errors.js';
import { decodeCursor, pageLimit, toPage } from './paging.js';
import type { RedisKind } from './redis-kinds.js';
import { retentionCutoffMs } from './shared.js';
import type { Page, PageOptions, RetentionRule } from './types.js';
import { MAX_TIME_MS, MIN_TIME_MS } from './validate.js';

/** Members read from an index per round trip at least (a filtered listing may need several). */
const MIN_SCAN_CHUNK = 100;
/** Records fetched or deleted per pipeline. */
export const BATCH_SIZE = 500;

/** Runs a pipeline or MULTI and returns its replies, throwing the first command error. */
export async function replies(batch: ChainableCommander, what: string): Promise<unknown[]> {
  const results = await batch.exec();
  if (results === null) throw new StoreConflictError(what, 1);
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/** The record stored as `json` under `key`; throws CorruptRecordError when it is not one. */
export function decodeRecord<T>(kind: RedisKind<T>, json: unknown, key: string): T {
  try {
    if (typeof json !== 'string') throw new TypeError(`expected a string, got ${typeof json}`);
    return kind.parse(JSON.parse(json), kind.name);
  } catch (cause) {
    throw new CorruptRecordError(key, { cause });
  }
}

/** The records with these ids, undefined where absent. */
export async function fetchRecords<T>(
  client: Redis,
  kind: RedisKind<T>,
  ids: string[],
): Promise<(T | undefined)[]> {
  const out: (T | undefined)[] = [];
  for (let i = 0; i < ids.length; i += BATCH_SIZE) {
    const keys = ids.slice(i, i + BATCH_SIZE).map((id) => kind.recordPrefix + id);
    const batch = client.pipeline();
    for (const key of keys) batch.hget(key, 'data');
    const values = await replies(batch, kind.name);
    values.forEach((json, j) => {
      out.push(json === null ? undefined : decodeRecord(kind, json, keys[j] ?? kind.name));
    });
  }
  return out;
}

/** Of several candidate indexes for one query, the one with the fewest members. */
export async function smallestIndex(client: Redis, candidates: [string, ...string[]]): Promise<string> {
  if (candidates.length === 1) return candidates[0];
  const batch = client.pipeline();
  for (const key of candidates) batch.zcard(key);
  const sizes = await replies(batch, 'zcard');
  let best = 0;
  sizes.forEach((size, i) => {
    if (Number(size) < Number(sizes[best])) best = i;
  });
  return candidates[best] ?? candidates[0];
}

export interface ScanOptions<T> extends PageOptions {
  /** Lowest member to include (a time key for `since`), for newest-first kinds. */
  from?: string;
  /** The filters the index does not cover; the stored record is the truth. */
  match?: (record: T) => boolean;
}

/** One page of `kind` read through `index` in the kind's order. */
export async function scanIndex<T>(
  client: Redis,
  kind: RedisKind<T>,
  index: string,
  options: ScanOptions<T>,
): Promise<Page<T>> {
  const limit = pageLimit(options.limit);
  const chunk = Math.max(limit + 1, MIN_SCAN_CHUNK);
  const found: { member: string; record: T }[] = [];
  const [after] = options.cursor === undefined ? [] : decodeCursor(kind.name, options.cursor, 1);
  let bound = after === undefined ? undefined : `(${after}`;
  for (;;) {
    const members = kind.descending
      ? await client.zrevrangebylex(
          index,
          bound ?? '+',
          options.from ? `[${options.from}` : '-',
          'LIMIT',
          0,
          chunk,
        )
      : await client.zrangebylex(index, bound ?? '-', '+', 'LIMIT', 0, chunk);
    const records = await fetchRecords(client, kind, members.map(kind.idOfMember));
    for (const [i, record] of records.entries()) {
      const member = members[i];
      // A record deleted between the two reads is skipped; a filter the index misses is checked here.
      if (record === undefined || member === undefined || (options.match && !options.match(record))) continue;
      found.push({ member, record });
      if (found.length > limit) break;
    }
    const last = members.at(-1);
    if (found.length > limit || members.length < chunk || last === undefined) break;
    bound = `(${last}`;
  }
  return toPage(
    found,
    limit,
    kind.name,
    (f) => [f.member],
    (f) => f.record,
  );
}

/** Deletes the records behind these members of `index` (and the members); how many records existed. */
export async function removeMembers<T>(
  client: Redis,
  kind: RedisKind<T>,
  index: string,
  members: string[],
): Promise<number> {
  let removed = 0;
  for (let i = 0; i < members.length; i += BATCH_SIZE) {
    const batch = client.pipeline();
    for (const member of members.slice(i, i + BATCH_SIZE)) {
      batch.gseRemove(kind.recordPrefix + kind.idOfMember(member));
      // An index member without a record (should not happen) must not stall retention.
      batch.zrem(index, member);
    }
    const values = await replies(batch, kind.name);
    values.forEach((value, j) => {
      if (j % 2 === 0) removed += Number(value);
    });
  }
  return removed;
}

/** Deletes the records of `kind` beyond `rule` (age first, then count, newest kept); how many it deleted. */
export async function retainIndex<T>(
  client: Redis,
  kind: RedisKind<T>,
  rule: RetentionRule | undefined,
  now: Date,
): Promise<number> {
  if (!rule) return 0;
  let deleted = 0;
  const cutoff = retentionCutoffMs(rule, now);
  if (cutoff !== undefined && cutoff > MIN_TIME_MS) {
    // Time keys only span years 0000-9999; a cutoff past them takes everything.
    const below = cutoff > MAX_TIME_MS ? '+' : `(${new Date(cutoff).toISOString()}`;
    for (;;) {
      const members = await client.zrangebylex(kind.all, '-', below, 'LIMIT', 0, BATCH_SIZE);
      if (members.length === 0) break;
      deleted += await removeMembers(client, kind, kind.all, members);
    }
  }
  if (rule.maxCount !== undefined) {
    for (;;) {
      const excess = (await client.zcard(kind.all)) - rule.maxCount;
      if (excess <= 0) break;
      // All scores are 0, so rank order is member order: oldest first.
      const members = await client.zrange(kind.all, 0, Math.min(excess, BATCH_SIZE) - 1);
      deleted += await removeMembers(client, kind, kind.all, members);
    }
  }
  return deleted;
}

/** One equality filter: the index of the records it keeps, and the test a record must pass. */
export interface Filter<T> {
  index: string;
  test: (record: T) => boolean;
}

/** One filter per field given in `query`: the index of records with that value, and the test itself. */
export function fieldFilters<T>(
  query: Partial<Record<keyof T, unknown>>,
  index: (field: string, value: string) => string,
  fields: readonly (keyof T & string)[],
): Filter<T>[] {
  return fields.flatMap((field) => {
    const value = query[field];
    return value === undefined
      ? []
      : [{ index: index(field, String(value)), test: (r: T) => r[field] === value }];
  });
}

/** A page of `kind` read through the smallest index among the filters', every filter checked on the record. */
export async function listByFilters<T>(
  client: Redis,
  kind: RedisKind<T>,
  filters: Filter<T>[],
  options: ScanOptions<T>,
): Promise<Page<T>> {
  const [first, ...rest] = filters.map((f) => f.index);
  const index = first === undefined ? kind.all : await smallestIndex(client, [first, ...rest]);
  return scanIndex(client, kind, index, { ...options, match: (r) => filters.every((f) => f.test(r)) });
}
