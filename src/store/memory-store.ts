/**
 * A Store held in this process's memory, for tests: no file, no server, every call settles in
 * microseconds, so the reconciler and the API can be exercised in milliseconds. It validates records as
 * the SQLite and Redis stores do (the same parsers), keeps their idempotency rules and orders, and passes
 * the same conformance suite. Nothing survives the process: never a production store.
 */
import { InvalidRecordError, StoreClosedError } from './errors.js';
import { listPage, type Ordering, sortByOrdering } from './memory-order.js';
import { sinceMs, timeMs } from './paging.js';
import {
  parseAgent,
  parseAudit,
  parseDrift,
  parseExecution,
  parseHost,
  parseRevision,
  parseToken,
} from './records.js';
import { compareRollouts, parseRollout, type RolloutRecord } from './rollout-record.js';
import {
  checkRetentionPolicy,
  emptyCounts,
  parseState,
  retentionCutoffMs,
  stateJson,
  statusesByKey,
} from './shared.js';
import type {
  AgentRecord,
  AuditQuery,
  AuditRecord,
  DriftQuery,
  DriftRecord,
  ExecutionQuery,
  ExecutionRecord,
  HostQuery,
  HostRecord,
  HostStateWrite,
  JsonValue,
  Page,
  PageOptions,
  ResourceStatus,
  ResourceStatusQuery,
  RetentionPolicy,
  RetentionResult,
  RetentionRule,
  RevisionRecord,
  Store,
  SyncState,
  TokenRecord,
} from './types.js';
import { isTime } from './validate.js';

/**
 * One data location: every MemoryStore opened on the same data sees the same records, as two SQLite
 * handles on one file do (and a store closed and opened again finds them).
 */
export class MemoryStoreData {
  readonly agents = new Map<string, AgentRecord>();
  readonly revisions = new Map<string, RevisionRecord>();
  appliedRevision: string | undefined;
  readonly hosts = new Map<string, HostRecord>();
  /** hostId -> key -> status. */
  readonly statuses = new Map<string, Map<string, ResourceStatus>>();
  readonly drift = new Map<string, DriftRecord>();
  /** `${id}\0${hostId}` (ids never hold NUL) -> execution. */
  readonly executions = new Map<string, ExecutionRecord>();
  readonly audit = new Map<string, AuditRecord>();
  readonly tokens = new Map<string, TokenRecord>();
  /** State values as JSON text, so a caller never shares an object with the store. */
  readonly state = new Map<string, string>();
  /** Rollouts by id, as JSON text. */
  readonly rollouts = new Map<string, string>();
}

// The listings' orders and cursor names, as the SQLite tables define them.
const REVISIONS: Ordering<RevisionRecord> = {
  listing: 'revisions',
  descending: true,
  columns: ['number', 'text'],
  position: (r) => [timeMs(r.seenAt), r.sha],
};
const HOSTS: Ordering<HostRecord> = {
  listing: 'hosts',
  descending: false,
  columns: ['text'],
  position: (h) => [h.hostId],
};
const STATUSES: Ordering<ResourceStatus> = {
  listing: 'resource_statuses',
  descending: false,
  columns: ['text', 'text'],
  position: (s) => [s.hostId, s.key],
};
const DRIFT: Ordering<DriftRecord> = {
  listing: 'drift',
  descending: true,
  columns: ['number', 'text'],
  position: (d) => [timeMs(d.detectedAt), d.id],
};
const EXECUTIONS: Ordering<ExecutionRecord> = {
  listing: 'executions',
  descending: true,
  columns: ['number', 'text', 'text'],
  position: (e) => [timeMs(e.startedAt), e.hostId, e.id],
};
const AUDIT: Ordering<AuditRecord> = {
  listing: 'audit',
  descending: true,
  columns: ['number', 'text'],
  position: (a) => [timeMs(a.at), a.id],
};

/** A copy the caller may change without changing the store (records hold arrays and objects). */
function copy<T>(value: T): T {
  return structuredClone(value);
}

function copyPage<T>(page: Page<T>): Page<T> {
  return page.nextCursor === undefined
    ? { items: page.items.map(copy) }
    : { items: page.items.map(copy), nextCursor: page.nextCursor };
}

const executionKey = (id: string, hostId: string) => `${id}\u0000${hostId}`;

/** A kind of history retention applies to: where its records are kept and how they are keyed. */
interface History<T> {
  map: Map<string, T>;
  keyOf(record: T): string;
  ordering: Ordering<T>;
}

/** Deletes what `rule` no longer keeps (age first, then count, newest kept); how many it deleted. */
function retain<T>(history: History<T>, rule: RetentionRule | undefined, now: Date): number {
  if (!rule) return 0;
  const { map, keyOf, ordering } = history;
  let deleted = 0;
  const cutoff = retentionCutoffMs(rule, now);
  if (cutoff !== undefined) {
    // The first sort column of every history listing is its time in ms.
    for (const [key, record] of map) {
      const [time] = ordering.position(record);
      if (typeof time === 'number' && time < cutoff && map.delete(key)) deleted++;
    }
  }
  if (rule.maxCount !== undefined) {
    for (const record of sortByOrdering(map.values(), ordering).slice(rule.maxCount)) {
      if (map.delete(keyOf(record))) deleted++;
    }
  }
  return deleted;
}

/** A Store in memory; `MemoryStore.open()` for a fresh one, or pass a MemoryStoreData to share one. */
export class MemoryStore implements Store {
  private closed = false;

  private constructor(private readonly data: MemoryStoreData) {}

  /** Opens a store on `data` (default: new, empty data). */
  static open(data: MemoryStoreData = new MemoryStoreData()): MemoryStore {
    return new MemoryStore(data);
  }

  /** The data, open (every call but `close` throws StoreClosedError once closed). */
  private get db(): MemoryStoreData {
    if (this.closed) throw new StoreClosedError();
    return this.data;
  }

  async getAgent(agentId: string): Promise<AgentRecord | undefined> {
    return copy(this.db.agents.get(agentId));
  }

  async putAgent(record: AgentRecord): Promise<void> {
    const agent = parseAgent(record);
    this.db.agents.set(agent.agentId, agent);
  }

  async listAgents(): Promise<AgentRecord[]> {
    return sortByOrdering(this.db.agents.values(), {
      listing: 'agents',
      descending: false,
      columns: ['text'],
      position: (a) => [a.agentId],
    }).map(copy);
  }

  async putRevision(record: RevisionRecord): Promise<void> {
    const revision = parseRevision(record);
    this.db.revisions.set(revision.sha, revision);
  }

  async getRevision(sha: string): Promise<RevisionRecord | undefined> {
    return copy(this.db.revisions.get(sha));
  }

  async listRevisions(options: PageOptions = {}): Promise<Page<RevisionRecord>> {
    return copyPage(listPage(this.db.revisions.values(), REVISIONS, () => true, options));
  }

  async getLastRejectedRevision(): Promise<RevisionRecord | undefined> {
    const rejected = [...this.db.revisions.values()].filter((r) => r.status === 'rejected');
    return copy(sortByOrdering(rejected, REVISIONS)[0]);
  }

  async setAppliedRevision(sha: string): Promise<void> {
    this.db.appliedRevision = sha;
  }

  async getAppliedRevision(): Promise<string | undefined> {
    return this.db.appliedRevision;
  }

  async upsertHost(record: HostRecord): Promise<void> {
    this.writeHost(parseHost(record));
  }

  async putHostStates(writes: HostStateWrite[]): Promise<void> {
    // Every record is checked before any is written, as the SQLite transaction does.
    const parsed = writes.map((w, i) => {
      const host = parseHost(w.host, `writes[${i}].host`);
      return { host, byKey: statusesByKey(host.hostId, w.statuses, `writes[${i}].statuses`) };
    });
    for (const { host, byKey } of parsed) {
      this.writeHost(host);
      this.writeStatuses(host.hostId, byKey);
    }
  }

  private writeHost(host: HostRecord): void {
    const firstSeen = this.db.hosts.get(host.hostId)?.firstSeen ?? host.firstSeen;
    this.db.hosts.set(host.hostId, { ...host, firstSeen });
  }

  private writeStatuses(hostId: string, byKey: Map<string, ResourceStatus>): void {
    if (byKey.size === 0) this.db.statuses.delete(hostId);
    else this.db.statuses.set(hostId, byKey);
  }

  async getHost(hostId: string): Promise<HostRecord | undefined> {
    return copy(this.db.hosts.get(hostId));
  }

  async listHosts(query: HostQuery = {}): Promise<Page<HostRecord>> {
    const labels = Object.entries(query.labels ?? {});
    const keep = (h: HostRecord) =>
      (query.syncState === undefined || h.syncState === query.syncState) &&
      labels.every(([k, v]) => Object.hasOwn(h.labels, k) && h.labels[k] === v);
    return copyPage(listPage(this.db.hosts.values(), HOSTS, keep, query));
  }

  async deleteHost(hostId: string): Promise<boolean> {
    this.db.statuses.delete(hostId);
    return this.db.hosts.delete(hostId);
  }

  async countHostsBySyncState(): Promise<Record<SyncState, number>> {
    const counts = emptyCounts();
    for (const h of this.db.hosts.values()) counts[h.syncState]++;
    return counts;
  }

  async putResourceStatuses(hostId: string, statuses: ResourceStatus[]): Promise<void> {
    // Every status is checked before any is written: a bad batch changes nothing.
    this.writeStatuses(hostId, statusesByKey(hostId, statuses, 'statuses'));
  }

  async listResourceStatuses(query: ResourceStatusQuery = {}): Promise<Page<ResourceStatus>> {
    const db = this.db;
    const hosts = query.hostId === undefined ? [...db.statuses.values()] : [db.statuses.get(query.hostId)];
    const all = hosts.flatMap((byKey) => (byKey ? [...byKey.values()] : []));
    const keep = (s: ResourceStatus) =>
      (query.key === undefined || s.key === query.key) &&
      (query.state === undefined || s.state === query.state);
    return copyPage(listPage(all, STATUSES, keep, query));
  }

  async putDrift(record: DriftRecord): Promise<void> {
    this.writeDrift(parseDrift(record));
  }

  async putDrifts(records: DriftRecord[]): Promise<void> {
    const drifts = records.map((r, i) => parseDrift(r, `records[${i}]`));
    for (const drift of drifts) this.writeDrift(drift);
  }

  private writeDrift(drift: DriftRecord): void {
    const db = this.db;
    const current = db.drift.get(drift.id);
    if (!current) {
      db.drift.set(drift.id, drift);
      return;
    }
    // A re-sent record never duplicates nor un-heals; it may only turn `healed` on.
    if (drift.healed && !current.healed) {
      const healedAt = drift.healedAt ?? current.healedAt;
      db.drift.set(drift.id, { ...current, healed: true, ...(healedAt === undefined ? {} : { healedAt }) });
    }
  }

  async markDriftHealed(id: string, at: string): Promise<boolean> {
    if (!isTime(at)) throw new InvalidRecordError('healedAt', 'must be an ISO 8601 time');
    const db = this.db;
    const current = db.drift.get(id);
    if (!current) return false;
    const healedAt = current.healed && current.healedAt !== undefined ? current.healedAt : at;
    db.drift.set(id, { ...current, healed: true, healedAt });
    return true;
  }

  async listDrift(query: DriftQuery = {}): Promise<Page<DriftRecord>> {
    const since = sinceMs(query.since);
    const keep = (d: DriftRecord) =>
      (query.hostId === undefined || d.hostId === query.hostId) &&
      (query.key === undefined || d.key === query.key) &&
      (query.healed === undefined || d.healed === query.healed) &&
      (since === undefined || timeMs(d.detectedAt) >= since);
    return copyPage(listPage(this.db.drift.values(), DRIFT, keep, query));
  }

  async putExecution(record: ExecutionRecord): Promise<void> {
    const execution = parseExecution(record);
    const db = this.db;
    const key = executionKey(execution.id, execution.hostId);
    const current = db.executions.get(key);
    // A late `running` record never replaces a finished one.
    if (current && execution.status === 'running' && current.status !== 'running') return;
    db.executions.set(key, execution);
  }

  async putExecutions(records: ExecutionRecord[]): Promise<void> {
    // Validate all first, so a bad record stores none (as the SQLite transaction does).
    const executions = records.map((r) => parseExecution(r));
    for (const execution of executions) await this.putExecution(execution);
  }

  async getExecution(id: string, hostId: string): Promise<ExecutionRecord | undefined> {
    return copy(this.db.executions.get(executionKey(id, hostId)));
  }

  async listExecutions(query: ExecutionQuery = {}): Promise<Page<ExecutionRecord>> {
    const since = sinceMs(query.since);
    const keep = (e: ExecutionRecord) =>
      (query.id === undefined || e.id === query.id) &&
      (query.hostId === undefined || e.hostId === query.hostId) &&
      (query.resource === undefined || e.resource === query.resource) &&
      (query.status === undefined || e.status === query.status) &&
      (since === undefined || timeMs(e.startedAt) >= since);
    return copyPage(listPage(this.db.executions.values(), EXECUTIONS, keep, query));
  }

  async appendAudit(record: AuditRecord): Promise<void> {
    const audit = copy(parseAudit(record));
    this.db.audit.set(audit.id, audit);
  }

  async listAudit(query: AuditQuery = {}): Promise<Page<AuditRecord>> {
    const since = sinceMs(query.since);
    const keep = (a: AuditRecord) =>
      (query.actor === undefined || a.actor === query.actor) &&
      (since === undefined || timeMs(a.at) >= since);
    return copyPage(listPage(this.db.audit.values(), AUDIT, keep, query));
  }

  async putToken(record: TokenRecord): Promise<void> {
    const token = parseToken(record);
    this.db.tokens.set(token.name, token);
  }

  async getToken(name: string): Promise<TokenRecord | undefined> {
    return copy(this.db.tokens.get(name));
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    return (await this.listTokens()).find((t) => t.hash === hash);
  }

  async listTokens(): Promise<TokenRecord[]> {
    return sortByOrdering(this.db.tokens.values(), {
      listing: 'tokens',
      descending: false,
      columns: ['text'],
      position: (t) => [t.name],
    }).map(copy);
  }

  async revokeToken(name: string, at: string): Promise<boolean> {
    if (!isTime(at)) throw new InvalidRecordError('revokedAt', 'must be an ISO 8601 time');
    const db = this.db;
    const current = db.tokens.get(name);
    if (!current) return false;
    db.tokens.set(name, { ...current, revokedAt: current.revokedAt ?? at });
    return true;
  }

  async markTokenUsed(name: string, at: string): Promise<void> {
    if (!isTime(at)) throw new InvalidRecordError('lastUsedAt', 'must be an ISO 8601 time');
    const db = this.db;
    const current = db.tokens.get(name);
    if (current) db.tokens.set(name, { ...current, lastUsedAt: at });
  }

  async getState<T extends JsonValue = JsonValue>(
    key: string,
    guard?: (value: JsonValue) => value is T,
  ): Promise<T | undefined> {
    const text = this.db.state.get(key);
    return text === undefined ? undefined : parseState(key, text, guard);
  }

  async setState(key: string, value: JsonValue): Promise<void> {
    const db = this.db;
    db.state.set(key, stateJson(key, value));
  }

  async putRollout(record: RolloutRecord): Promise<void> {
    const db = this.db;
    db.rollouts.set(record.id, JSON.stringify(parseRollout(record)));
  }

  async getRollout(id: string): Promise<RolloutRecord | undefined> {
    const text = this.db.rollouts.get(id);
    return text === undefined ? undefined : parseRollout(JSON.parse(text));
  }

  async listRollouts(): Promise<RolloutRecord[]> {
    return [...this.db.rollouts.values()].map((t) => parseRollout(JSON.parse(t))).sort(compareRollouts);
  }

  async applyRetention(policy: RetentionPolicy, now: Date): Promise<RetentionResult> {
    checkRetentionPolicy(policy);
    const db = this.db;
    return {
      executions: retain(
        { map: db.executions, keyOf: (e) => executionKey(e.id, e.hostId), ordering: EXECUTIONS },
        policy.executions,
        now,
      ),
      drift: retain({ map: db.drift, keyOf: (d) => d.id, ordering: DRIFT }, policy.drift, now),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
