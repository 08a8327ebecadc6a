/**
 * The shared store, for several controller replicas: a hash per record and lex-ordered sorted sets per
 * listing and filter, kept in step by Lua scripts; read-modify-write goes through optimistic versions.
 */
import { Redis } from 'ioredis';
import {
  CorruptRecordError,
  InvalidRecordError,
  StoreClosedError,
  StoreConflictError,
  StoreConnectError,
} from './errors.js';
import { KeyQueue } from './key-queue.js';
import { sinceTimeKey } from './paging.js';
import {
  parseAgent,
  parseAudit,
  parseDrift,
  parseExecution,
  parseHost,
  parseRevision,
  parseToken,
} from './records.js';
import { checkHostWrites, driftAfter, writeDrifts, writeHostStates } from './redis-batch.js';
import { encodeRecord, executionId, type RedisKind, type RedisLayout, redisLayout } from './redis-kinds.js';
import {
  decodeRecord,
  type Filter,
  fetchRecords,
  fieldFilters,
  listByFilters,
  replies,
  retainIndex,
  scanIndex,
} from './redis-scan.js';
import { defineScripts } from './redis-scripts.js';
import { compareRollouts, parseRollout, type RolloutRecord } from './rollout-record.js';
import { checkRetentionPolicy, emptyCounts, parseState, stateJson, statusesByKey } from './shared.js';
import {
  type AgentRecord,
  type AuditQuery,
  type AuditRecord,
  type DriftQuery,
  type DriftRecord,
  type ExecutionQuery,
  type ExecutionRecord,
  type HostQuery,
  type HostRecord,
  type HostStateWrite,
  type JsonValue,
  type Page,
  type PageOptions,
  type ResourceStatus,
  type ResourceStatusQuery,
  type RetentionPolicy,
  type RetentionResult,
  type RevisionRecord,
  type Store,
  SYNC_STATES,
  type SyncState,
  type TokenRecord,
} from './types.js';
import { isTime } from './validate.js';

/** Key prefix when none is given. */
export const DEFAULT_REDIS_PREFIX = 'gse:';
/** Optimistic updates retried this many times against concurrent writers before StoreConflictError. */
const MAX_UPDATE_ATTEMPTS = 10;

export interface RedisStoreOptions {
  /** Prepended to every key; default `gse:`. */
  prefix?: string;
  /** Told of connection errors while the client reconnects; default: ignored (failed commands reject). */
  onConnectionError?: (err: Error) => void;
}

/** A Store on Redis; create it with `RedisStore.open`. */
export class RedisStore implements Store {
  private closed = false;
  private readonly queue = new KeyQueue();

  private constructor(
    private readonly redis: Redis,
    private readonly keys: RedisLayout,
  ) {}

  /** Connects to `url` (redis://...) and returns a store under `prefix` (default `gse:`). */
  static async open(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
    const redis = new Redis(url, { lazyConnect: true });
    // Without a listener ioredis prints every reconnect failure; the commands that fail still reject.
    redis.on('error', options.onConnectionError ?? (() => {}));
    defineScripts(redis);
    try {
      await redis.connect();
    } catch (cause) {
      redis.disconnect();
      throw new StoreConnectError(redactUrl(url), { cause });
    }
    return new RedisStore(redis, redisLayout(options.prefix ?? DEFAULT_REDIS_PREFIX));
  }

  private get client(): Redis {
    if (this.closed) throw new StoreClosedError();
    return this.redis;
  }

  private async get<T>(kind: RedisKind<T>, id: string): Promise<T | undefined> {
    const key = kind.recordPrefix + id;
    const json = await this.client.hget(key, 'data');
    return json === null ? undefined : decodeRecord(kind, json, key);
  }

  private async put<T>(kind: RedisKind<T>, record: T): Promise<void> {
    await this.client.gseUpsert(kind.recordPrefix + kind.id(record), '*', ...encodeRecord(kind, record));
  }

  /**
   * Read-modify-write of one record: `decide` returns what to store, or undefined to leave it. Queued per
   * record in this process; versions settle races with other replicas.
   */
  private update<T>(kind: RedisKind<T>, id: string, decide: (current: T | undefined) => T | undefined) {
    const key = kind.recordPrefix + id;
    return this.queue.run(key, async () => {
      for (let attempt = 1; attempt <= MAX_UPDATE_ATTEMPTS; attempt++) {
        const [json, version] = await this.client.hmget(key, 'data', 'ver');
        const next = decide(json == null ? undefined : decodeRecord(kind, json, key));
        if (next === undefined) return;
        if ((await this.client.gseUpsert(key, version ?? '0', ...encodeRecord(kind, next))) >= 0) return;
      }
      throw new StoreConflictError(key, MAX_UPDATE_ATTEMPTS);
    });
  }

  async getAgent(agentId: string): Promise<AgentRecord | undefined> {
    return this.get(this.keys.agents, agentId);
  }

  async putAgent(record: AgentRecord): Promise<void> {
    await this.put(this.keys.agents, parseAgent(record));
  }

  async listAgents(): Promise<AgentRecord[]> {
    const kind = this.keys.agents;
    const ids = await this.client.zrange(kind.all, 0, -1);
    const records = await fetchRecords(this.client, kind, ids.map(kind.idOfMember));
    return records.filter((r): r is AgentRecord => r !== undefined);
  }

  async putRevision(record: RevisionRecord): Promise<void> {
    await this.put(this.keys.revisions, parseRevision(record));
  }

  async getRevision(sha: string): Promise<RevisionRecord | undefined> {
    return this.get(this.keys.revisions, sha);
  }

  async listRevisions(options: PageOptions = {}): Promise<Page<RevisionRecord>> {
    return scanIndex(this.client, this.keys.revisions, this.keys.revisions.all, options);
  }

  async getLastRejectedRevision(): Promise<RevisionRecord | undefined> {
    const page = await scanIndex(this.client, this.keys.revisions, this.keys.revisionsByStatus('rejected'), {
      limit: 1,
    });
    return page.items[0];
  }

  async setAppliedRevision(sha: string): Promise<void> {
    await this.client.set(this.keys.appliedRevision, sha);
  }

  async getAppliedRevision(): Promise<string | undefined> {
    return (await this.client.get(this.keys.appliedRevision)) ?? undefined;
  }

  async upsertHost(record: HostRecord): Promise<void> {
    const host = parseHost(record);
    await this.update(this.keys.hosts, host.hostId, (current) => ({
      ...host,
      firstSeen: current?.firstSeen ?? host.firstSeen,
    }));
  }

  async putHostStates(writes: HostStateWrite[]): Promise<void> {
    await writeHostStates(this.client, this.keys, checkHostWrites(writes));
  }

  async getHost(hostId: string): Promise<HostRecord | undefined> {
    return this.get(this.keys.hosts, hostId);
  }

  async listHosts(query: HostQuery = {}): Promise<Page<HostRecord>> {
    const labels = Object.entries(query.labels ?? {}).map(
      ([name, value]): Filter<HostRecord> => ({
        index: this.keys.hostsByLabel(name, value),
        test: (h) => h.labels[name] === value,
      }),
    );
    const filters = [...labels, ...fieldFilters<HostRecord>(query, this.keys.hostsBy, ['syncState'])];
    return listByFilters(this.client, this.keys.hosts, filters, query);
  }

  async deleteHost(hostId: string): Promise<boolean> {
    const statuses = this.keys.statuses;
    // One MULTI: the host record (with its index entries) and all its statuses go together.
    const tx = this.client.multi();
    tx.gseRemove(this.keys.hosts.recordPrefix + hostId);
    tx.gsePrune(this.keys.statusesBy('hostId', hostId), statuses.recordPrefix);
    const [removed] = await replies(tx, `host ${hostId}`);
    return Number(removed) === 1;
  }

  async countHostsBySyncState(): Promise<Record<SyncState, number>> {
    const batch = this.client.pipeline();
    for (const state of SYNC_STATES) batch.zcard(this.keys.hostsBy('syncState', state));
    const sizes = await replies(batch, 'hosts');
    const counts = emptyCounts();
    SYNC_STATES.forEach((state, i) => {
      counts[state] = Number(sizes[i]);
    });
    return counts;
  }

  async putResourceStatuses(hostId: string, statuses: ResourceStatus[]): Promise<void> {
    const kind = this.keys.statuses;
    const byKey = statusesByKey(hostId, statuses, 'statuses');
    // One MULTI: the host's new set is written and the rest of its old set deleted, all or nothing.
    const tx = this.client.multi();
    for (const status of byKey.values()) {
      tx.gseUpsert(kind.recordPrefix + kind.id(status), '*', ...encodeRecord(kind, status));
    }
    const keep = [...byKey.values()].map(kind.id);
    tx.gsePrune(this.keys.statusesBy('hostId', hostId), kind.recordPrefix, ...keep);
    await replies(tx, `statuses of ${hostId}`);
  }

  async listResourceStatuses(query: ResourceStatusQuery = {}): Promise<Page<ResourceStatus>> {
    const filters = fieldFilters<ResourceStatus>(query, this.keys.statusesBy, ['hostId', 'key', 'state']);
    return listByFilters(this.client, this.keys.statuses, filters, query);
  }

  async putDrift(record: DriftRecord): Promise<void> {
    const drift = parseDrift(record);
    await this.update(this.keys.drift, drift.id, (current) => driftAfter(current, drift));
  }

  async putDrifts(records: DriftRecord[]): Promise<void> {
    const drifts = records.map((r, i) => parseDrift(r, `records[${i}]`));
    const resent = await writeDrifts(this.client, this.keys, drifts);
    for (const drift of resent) await this.putDrift(drift);
  }

  async markDriftHealed(id: string, at: string): Promise<boolean> {
    if (!isTime(at)) throw new InvalidRecordError('healedAt', 'must be an ISO 8601 time');
    let found = false;
    await this.update(this.keys.drift, id, (current) => {
      found = current !== undefined;
      if (!current || (current.healed && current.healedAt !== undefined)) return undefined;
      return { ...current, healed: true, healedAt: at };
    });
    return found;
  }

  async listDrift(query: DriftQuery = {}): Promise<Page<DriftRecord>> {
    const filters = fieldFilters<DriftRecord>(query, this.keys.driftBy, ['hostId', 'key', 'healed']);
    return listByFilters(this.client, this.keys.drift, filters, {
      ...query,
      from: sinceTimeKey(query.since),
    });
  }

  async putExecution(record: ExecutionRecord): Promise<void> {
    const execution = parseExecution(record);
    await this.update(this.keys.executions, executionId(execution.id, execution.hostId), (current) =>
      current && current.status !== 'running' && execution.status === 'running' ? undefined : execution,
    );
  }

  /** One pipeline reads every record, one writes them; a record another writer changed in between is redone alone. */
  async putExecutions(records: ExecutionRecord[]): Promise<void> {
    const executions = records.map((r) => parseExecution(r));
    if (executions.length === 0) return;
    const kind = this.keys.executions;
    const keys = executions.map((e) => kind.recordPrefix + executionId(e.id, e.hostId));
    const read = this.client.pipeline();
    for (const key of keys) read.hmget(key, 'data', 'ver');
    const current = (await replies(read, 'read executions')) as Array<[string | null, string | null]>;
    const write = this.client.pipeline();
    const written: ExecutionRecord[] = [];
    executions.forEach((execution, i) => {
      const [json, version] = current[i] ?? [null, null];
      const key = keys[i] as string;
      const existing = json == null ? undefined : decodeRecord(kind, json, key);
      if (existing && existing.status !== 'running' && execution.status === 'running') return;
      write.gseUpsert(key, version ?? '0', ...encodeRecord(kind, execution));
      written.push(execution);
    });
    if (written.length === 0) return;
    const results = await replies(write, 'write executions');
    await Promise.all(
      results.map((r, j) => (Number(r) >= 0 ? undefined : this.putExecution(written[j] as ExecutionRecord))),
    );
  }

  async getExecution(id: string, hostId: string): Promise<ExecutionRecord | undefined> {
    return this.get(this.keys.executions, executionId(id, hostId));
  }

  async listExecutions(query: ExecutionQuery = {}): Promise<Page<ExecutionRecord>> {
    const fields = ['id', 'hostId', 'resource', 'status'] as const;
    const filters = fieldFilters<ExecutionRecord>(query, this.keys.executionsBy, fields);
    return listByFilters(this.client, this.keys.executions, filters, {
      ...query,
      from: sinceTimeKey(query.since),
    });
  }

  async appendAudit(record: AuditRecord): Promise<void> {
    await this.put(this.keys.audit, parseAudit(record));
  }

  async listAudit(query: AuditQuery = {}): Promise<Page<AuditRecord>> {
    const filters = fieldFilters<AuditRecord>(query, this.keys.auditBy, ['actor']);
    return listByFilters(this.client, this.keys.audit, filters, {
      ...query,
      from: sinceTimeKey(query.since),
    });
  }

  async putToken(record: TokenRecord): Promise<void> {
    await this.put(this.keys.tokens, parseToken(record));
  }

  async getToken(name: string): Promise<TokenRecord | undefined> {
    return this.get(this.keys.tokens, name);
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const kind = this.keys.tokens;
    const names = await this.client.zrange(this.keys.tokensByHash(hash), 0, -1);
    const records = await fetchRecords(this.client, kind, names);
    // The record is the truth; the index only narrows the search.
    return records.find((r) => r?.hash === hash);
  }

  async listTokens(): Promise<TokenRecord[]> {
    const kind = this.keys.tokens;
    const names = await this.client.zrange(kind.all, 0, -1);
    const records = await fetchRecords(this.client, kind, names.map(kind.idOfMember));
    return records.filter((r): r is TokenRecord => r !== undefined);
  }

  async revokeToken(name: string, at: string): Promise<boolean> {
    if (!isTime(at)) throw new InvalidRecordError('revokedAt', 'must be an ISO 8601 time');
    let found = false;
    await this.update(this.keys.tokens, name, (current) => {
      found = current !== undefined;
      if (!current || current.revokedAt !== undefined) return undefined;
      return { ...current, revokedAt: at };
    });
    return found;
  }

  async markTokenUsed(name: string, at: string): Promise<void> {
    if (!isTime(at)) throw new InvalidRecordError('lastUsedAt', 'must be an ISO 8601 time');
    await this.update(this.keys.tokens, name, (current) =>
      current ? { ...current, lastUsedAt: at } : undefined,
    );
  }

  async getState<T extends JsonValue = JsonValue>(
    key: string,
    guard?: (value: JsonValue) => value is T,
  ): Promise<T | undefined> {
    const text = await this.client.get(this.keys.state(key));
    return text === null ? undefined : parseState(key, text, guard);
  }

  async setState(key: string, value: JsonValue): Promise<void> {
    await this.client.set(this.keys.state(key), stateJson(key, value));
  }

  // Rollouts are few and read whole: one hash, field = rollout id, value = its JSON.
  async putRollout(record: RolloutRecord): Promise<void> {
    await this.client.hset(this.keys.rollouts, record.id, JSON.stringify(parseRollout(record)));
  }

  async getRollout(id: string): Promise<RolloutRecord | undefined> {
    const text = await this.client.hget(this.keys.rollouts, id);
    return text === null ? undefined : readRollout(this.keys.rollouts, id, text);
  }

  async listRollouts(): Promise<RolloutRecord[]> {
    const all = await this.client.hgetall(this.keys.rollouts);
    return Object.entries(all)
      .map(([id, text]) => readRollout(this.keys.rollouts, id, text))
      .sort(compareRollouts);
  }

  async applyRetention(policy: RetentionPolicy, now: Date): Promise<RetentionResult> {
    checkRetentionPolicy(policy);
    return {
      executions: await retainIndex(this.client, this.keys.executions, policy.executions, now),
      drift: await retainIndex(this.client, this.keys.drift, policy.drift, now),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.redis.quit();
  }
}

/** The URL without its password, fit for an error message. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'redis (unparsable url)';
  }
}

/** A rollout read back from Redis; a bad one is a CorruptRecordError. */
function readRollout(key: string, id: string, text: string): RolloutRecord {
  try {
    return parseRollout(JSON.parse(text));
  } catch (cause) {
    throw new CorruptRecordError(`${key}[${id}]`, { cause });
  }
}
