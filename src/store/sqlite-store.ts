/** The embedded store (the default): one SQLite file in the state dir, WAL, prepared statements. */

import { chmod, open } from 'node:fs/promises';
import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import Database from 'better-sqlite3';
import { CorruptRecordError, InvalidRecordError, StoreClosedError, StoreConnectError } from './errors.js';
import { sinceMs } from './paging.js';
import {
  parseAgent,
  parseAudit,
  parseDrift,
  parseExecution,
  parseHost,
  parseResourceStatus,
  parseRevision,
  parseToken,
} from './records.js';
import { compareRollouts, parseRollout, type RolloutRecord } from './rollout-record.js';
import { checkRetentionPolicy, emptyCounts, parseState, stateJson } from './shared.js';
import { equalities, listPage, retainRows } from './sqlite-queries.js';
import { migrate } from './sqlite-schema.js';
import {
  AGENTS,
  AUDIT,
  DRIFT,
  EXECUTIONS,
  fromRow,
  HOSTS,
  RESOURCE_STATUSES,
  REVISIONS,
  type SqlRow,
  type SqlValue,
  type TableSpec,
  TOKENS,
  toRow,
  upsertSql,
} from './sqlite-tables.js';
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

/** How long a write waits for another process's lock on the same file before failing. */
const BUSY_TIMEOUT_MS = 5_000;
const APPLIED_REVISION = 'appliedRevision';
/** State keys of rollouts: the prefix, then the rollout id; END bounds the prefix range. */
const ROLLOUT_KEY_PREFIX = 'rollouts:';
const ROLLOUT_KEY_END = 'rollouts;';

/** A rollout read back from the state table; a bad one is a CorruptRecordError. */
function readRollout(key: string, text: unknown): RolloutRecord {
  try {
    return parseRollout(JSON.parse(String(text)));
  } catch (cause) {
    throw new CorruptRecordError(`state(${key})`, { cause });
  }
}

const HOST_UPSERT_SQL = upsertSql(HOSTS, { keep: ['firstSeen'] });
const STATUS_UPSERT_SQL = upsertSql(RESOURCE_STATUSES);

// A re-sent drift record never duplicates nor un-heals; it may only turn `healed` on.
const DRIFT_UPSERT_SQL = upsertSql(DRIFT, {
  set: 'healed = 1, healedAt = COALESCE(excluded.healedAt, drift.healedAt)',
  where: 'excluded.healed = 1 AND drift.healed = 0',
});

/** A host's statuses as rows, each checked to belong to `hostId`; `path` names the list in errors. */
function statusRows(hostId: string, statuses: ResourceStatus[], path: string): SqlRow[] {
  return statuses.map((s, i) => {
    const status = parseResourceStatus(s, `${path}[${i}]`);
    if (status.hostId !== hostId) throw new InvalidRecordError(`${path}[${i}].hostId`, `must be ${hostId}`);
    return toRow(RESOURCE_STATUSES, status);
  });
}

/** The database holds agent credential hashes, tokens' audit and every execution's output: owner only. */
const DB_FILE_MODE = 0o600;

/**
 * Creates the database file 0600 before SQLite does (SQLite would use 0644 less the umask) and tightens an
 * existing file to 0600. Its directory is the controller's to create 0700 (never chmod-ed from here).
 */
async function createPrivate(path: string): Promise<void> {
  const fh = await open(path, 'a', DB_FILE_MODE);
  try {
    await fh.chmod(DB_FILE_MODE);
  } finally {
    await fh.close();
  }
}

/** A Store on a SQLite file; create it with `SqliteStore.open`. */
export class SqliteStore implements Store {
  private readonly statements = new Map<string, Statement>();
  private closed = false;

  private constructor(private readonly db: SqliteDatabase) {}

  /** Opens (creating when absent) the database file at `path`, switches it to WAL and migrates its schema. */
  static async open(path: string): Promise<SqliteStore> {
    let db: SqliteDatabase;
    try {
      await createPrivate(path);
      db = new Database(path);
    } catch (cause) {
      throw new StoreConnectError(path, { cause });
    }
    try {
      db.pragma('journal_mode = WAL');
      // SQLite gives -wal and -shm the database file's mode; set it explicitly all the same.
      for (const side of [`${path}-wal`, `${path}-shm`])
        await chmod(side, DB_FILE_MODE).catch(() => undefined);
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      migrate(db, path);
    } catch (err) {
      db.close();
      throw err;
    }
    return new SqliteStore(db);
  }

  /** The cached prepared statement for `sql`. */
  private readonly prepare = (sql: string): Statement => {
    if (this.closed) throw new StoreClosedError();
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  };

  private one<T extends object>(spec: TableSpec<T>, where: string, ...params: SqlValue[]): T | undefined {
    const row: unknown = this.prepare(`SELECT * FROM ${spec.table} WHERE ${where}`).get(...params);
    return row === undefined ? undefined : fromRow(spec, row);
  }

  async getAgent(agentId: string): Promise<AgentRecord | undefined> {
    return this.one(AGENTS, 'agentId = ?', agentId);
  }

  async putAgent(record: AgentRecord): Promise<void> {
    this.prepare(upsertSql(AGENTS)).run(toRow(AGENTS, parseAgent(record)));
  }

  async listAgents(): Promise<AgentRecord[]> {
    const rows: unknown[] = this.prepare('SELECT * FROM agents ORDER BY agentId').all();
    return rows.map((row) => fromRow(AGENTS, row));
  }

  async putRevision(record: RevisionRecord): Promise<void> {
    this.prepare(upsertSql(REVISIONS)).run(toRow(REVISIONS, parseRevision(record)));
  }

  async getRevision(sha: string): Promise<RevisionRecord | undefined> {
    return this.one(REVISIONS, 'sha = ?', sha);
  }

  async listRevisions(options: PageOptions = {}): Promise<Page<RevisionRecord>> {
    return listPage(this.prepare, REVISIONS, [], [], options);
  }

  async getLastRejectedRevision(): Promise<RevisionRecord | undefined> {
    const row: unknown = this.prepare(
      "SELECT * FROM revisions WHERE status = 'rejected' ORDER BY seenMs DESC, sha DESC LIMIT 1",
    ).get();
    return row === undefined ? undefined : fromRow(REVISIONS, row);
  }

  async setAppliedRevision(sha: string): Promise<void> {
    this.prepare(
      'INSERT INTO pointers (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    ).run(APPLIED_REVISION, sha);
  }

  async getAppliedRevision(): Promise<string | undefined> {
    const row: unknown = this.prepare('SELECT value FROM pointers WHERE name = ?')
      .pluck()
      .get(APPLIED_REVISION);
    if (row === undefined) return undefined;
    if (typeof row !== 'string') throw new CorruptRecordError(`pointers(${APPLIED_REVISION})`);
    return row;
  }

  async upsertHost(record: HostRecord): Promise<void> {
    const host = parseHost(record);
    this.transaction(() => this.writeHost(host));
  }

  async putHostStates(writes: HostStateWrite[]): Promise<void> {
    const parsed = writes.map((w, i) => {
      const host = parseHost(w.host, `writes[${i}].host`);
      return { host, rows: statusRows(host.hostId, w.statuses, `writes[${i}].statuses`) };
    });
    if (parsed.length === 0) return;
    this.transaction(() => {
      for (const { host, rows } of parsed) {
        this.writeHost(host);
        this.writeStatuses(host.hostId, rows);
      }
    });
  }

  async getHost(hostId: string): Promise<HostRecord | undefined> {
    return this.one(HOSTS, 'hostId = ?', hostId);
  }

  async listHosts(query: HostQuery = {}): Promise<Page<HostRecord>> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (query.syncState !== undefined) {
      where.push('syncState = ?');
      params.push(query.syncState);
    }
    for (const [key, value] of Object.entries(query.labels ?? {})) {
      where.push(
        'EXISTS (SELECT 1 FROM host_labels l WHERE l.hostId = hosts.hostId AND l.key = ? AND l.value = ?)',
      );
      params.push(key, value);
    }
    return listPage(this.prepare, HOSTS, where, params, query);
  }

  async deleteHost(hostId: string): Promise<boolean> {
    return this.transaction(() => {
      this.prepare('DELETE FROM resource_statuses WHERE hostId = ?').run(hostId);
      this.prepare('DELETE FROM host_labels WHERE hostId = ?').run(hostId);
      return this.prepare('DELETE FROM hosts WHERE hostId = ?').run(hostId).changes > 0;
    });
  }

  async countHostsBySyncState(): Promise<Record<SyncState, number>> {
    const counts = emptyCounts();
    const rows: unknown[] = this.prepare('SELECT syncState, COUNT(*) AS n FROM hosts GROUP BY syncState')
      .raw()
      .all();
    for (const row of rows) {
      const [state, n] = Array.isArray(row) ? row : [];
      const known = SYNC_STATES.find((s) => s === state);
      if (known === undefined || typeof n !== 'number')
        throw new CorruptRecordError(`hosts.syncState(${state})`);
      counts[known] = n;
    }
    return counts;
  }

  async putResourceStatuses(hostId: string, statuses: ResourceStatus[]): Promise<void> {
    const rows = statusRows(hostId, statuses, 'statuses');
    this.transaction(() => this.writeStatuses(hostId, rows));
  }

  async listResourceStatuses(query: ResourceStatusQuery = {}): Promise<Page<ResourceStatus>> {
    const [where, params] = equalities({ hostId: query.hostId, key: query.key, state: query.state });
    return listPage(this.prepare, RESOURCE_STATUSES, where, params, query);
  }

  async putDrift(record: DriftRecord): Promise<void> {
    this.prepare(DRIFT_UPSERT_SQL).run(toRow(DRIFT, parseDrift(record)));
  }

  async putDrifts(records: DriftRecord[]): Promise<void> {
    const rows = records.map((r, i) => toRow(DRIFT, parseDrift(r, `records[${i}]`)));
    if (rows.length === 0) return;
    const statement = this.prepare(DRIFT_UPSERT_SQL);
    this.transaction(() => {
      for (const row of rows) statement.run(row);
    });
  }

  async markDriftHealed(id: string, at: string): Promise<boolean> {
    if (!isTime(at)) throw new InvalidRecordError('healedAt', 'must be an ISO 8601 time');
    const result = this.prepare(
      'UPDATE drift SET healedAt = CASE WHEN healed = 1 AND healedAt IS NOT NULL THEN healedAt ELSE ? END, ' +
        'healed = 1 WHERE id = ?',
    ).run(at, id);
    return result.changes > 0;
  }

  async listDrift(query: DriftQuery = {}): Promise<Page<DriftRecord>> {
    const healed = query.healed === undefined ? undefined : query.healed ? 1 : 0;
    const [where, params] = equalities({ hostId: query.hostId, key: query.key, healed });
    const since = sinceMs(query.since);
    if (since !== undefined) {
      where.push('detectedMs >= ?');
      params.push(since);
    }
    return listPage(this.prepare, DRIFT, where, params, query);
  }

  async putExecution(record: ExecutionRecord): Promise<void> {
    const where = "NOT (excluded.status = 'running' AND executions.status <> 'running')";
    this.prepare(upsertSql(EXECUTIONS, { where })).run(toRow(EXECUTIONS, parseExecution(record)));
  }

  async putExecutions(records: ExecutionRecord[]): Promise<void> {
    const rows = records.map((r) => toRow(EXECUTIONS, parseExecution(r)));
    const where = "NOT (excluded.status = 'running' AND executions.status <> 'running')";
    const statement = this.prepare(upsertSql(EXECUTIONS, { where }));
    this.transaction(() => {
      for (const row of rows) statement.run(row);
    });
  }

  async getExecution(id: string, hostId: string): Promise<ExecutionRecord | undefined> {
    return this.one(EXECUTIONS, 'id = ? AND hostId = ?', id, hostId);
  }

  async listExecutions(query: ExecutionQuery = {}): Promise<Page<ExecutionRecord>> {
    const filters = { id: query.id, hostId: query.hostId, resource: query.resource, status: query.status };
    const [where, params] = equalities(filters);
    const since = sinceMs(query.since);
    if (since !== undefined) {
      where.push('startedMs >= ?');
      params.push(since);
    }
    return listPage(this.prepare, EXECUTIONS, where, params, query);
  }

  async appendAudit(record: AuditRecord): Promise<void> {
    this.prepare(upsertSql(AUDIT)).run(toRow(AUDIT, parseAudit(record)));
  }

  async listAudit(query: AuditQuery = {}): Promise<Page<AuditRecord>> {
    const [where, params] = equalities({ actor: query.actor });
    const since = sinceMs(query.since);
    if (since !== undefined) {
      where.push('atMs >= ?');
      params.push(since);
    }
    return listPage(this.prepare, AUDIT, where, params, query);
  }

  async putToken(record: TokenRecord): Promise<void> {
    this.prepare(upsertSql(TOKENS)).run(toRow(TOKENS, parseToken(record)));
  }

  async getToken(name: string): Promise<TokenRecord | undefined> {
    return this.one(TOKENS, 'name = ?', name);
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    return this.one(TOKENS, 'hash = ?', hash);
  }

  async listTokens(): Promise<TokenRecord[]> {
    const rows: unknown[] = this.prepare('SELECT * FROM tokens ORDER BY name').all();
    return rows.map((row) => fromRow(TOKENS, row));
  }

  async revokeToken(name: string, at: string): Promise<boolean> {
    if (!isTime(at)) throw new InvalidRecordError('revokedAt', 'must be an ISO 8601 time');
    const result = this.prepare('UPDATE tokens SET revokedAt = COALESCE(revokedAt, ?) WHERE name = ?').run(
      at,
      name,
    );
    return result.changes > 0;
  }

  async markTokenUsed(name: string, at: string): Promise<void> {
    if (!isTime(at)) throw new InvalidRecordError('lastUsedAt', 'must be an ISO 8601 time');
    this.prepare('UPDATE tokens SET lastUsedAt = ? WHERE name = ?').run(at, name);
  }

  async getState<T extends JsonValue = JsonValue>(
    key: string,
    guard?: (value: JsonValue) => value is T,
  ): Promise<T | undefined> {
    const text: unknown = this.prepare('SELECT value FROM state WHERE key = ?').pluck().get(key);
    return text === undefined ? undefined : parseState(key, text, guard);
  }

  async setState(key: string, value: JsonValue): Promise<void> {
    this.prepare(
      'INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ).run(key, stateJson(key, value));
  }

  // Rollouts are few and read whole: they live in the state table under ROLLOUT_KEY_PREFIX (no migration).
  async putRollout(record: RolloutRecord): Promise<void> {
    const value = JSON.stringify(parseRollout(record));
    this.prepare(
      'INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ).run(`${ROLLOUT_KEY_PREFIX}${record.id}`, value);
  }

  async getRollout(id: string): Promise<RolloutRecord | undefined> {
    const key = `${ROLLOUT_KEY_PREFIX}${id}`;
    const text: unknown = this.prepare('SELECT value FROM state WHERE key = ?').pluck().get(key);
    return text === undefined ? undefined : readRollout(key, text);
  }

  async listRollouts(): Promise<RolloutRecord[]> {
    const rows = this.prepare('SELECT key, value FROM state WHERE key >= ? AND key < ?').all(
      ROLLOUT_KEY_PREFIX,
      ROLLOUT_KEY_END,
    ) as Array<{ key: string; value: unknown }>;
    return rows.map((r) => readRollout(r.key, r.value)).sort(compareRollouts);
  }

  async applyRetention(policy: RetentionPolicy, now: Date): Promise<RetentionResult> {
    checkRetentionPolicy(policy);
    return this.transaction(() => ({
      executions: retainRows(this.prepare, EXECUTIONS, policy.executions, now),
      drift: retainRows(this.prepare, DRIFT, policy.drift, now),
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.statements.clear();
    this.db.close();
  }

  /** The host row and its label index (rewritten only when the labels changed); call inside a transaction. */
  private writeHost(host: HostRecord): void {
    const row = toRow(HOSTS, host);
    const before: unknown = this.prepare('SELECT labels FROM hosts WHERE hostId = ?')
      .pluck()
      .get(host.hostId);
    this.prepare(HOST_UPSERT_SQL).run(row);
    if (before === row.labels) return;
    this.prepare('DELETE FROM host_labels WHERE hostId = ?').run(host.hostId);
    const insert = this.prepare('INSERT INTO host_labels (hostId, key, value) VALUES (?, ?, ?)');
    for (const [key, value] of Object.entries(host.labels)) insert.run(host.hostId, key, value);
  }

  /**
   * Makes the host's status rows exactly `rows`: upserts them in place (most keys stay from one write to the
   * next) and deletes the others; call inside a transaction.
   */
  private writeStatuses(hostId: string, rows: SqlRow[]): void {
    const upsert = this.prepare(STATUS_UPSERT_SQL);
    for (const row of rows) upsert.run(row);
    this.prepare(
      'DELETE FROM resource_statuses WHERE hostId = ? AND key NOT IN (SELECT value FROM json_each(?))',
    ).run(hostId, JSON.stringify(rows.map((r) => r.key)));
  }

  private transaction<R>(work: () => R): R {
    if (this.closed) throw new StoreClosedError();
    return this.db.transaction(work)();
  }
}
