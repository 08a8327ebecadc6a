/**
 * How each record kind maps to a SQLite table: scalar fields are columns of the same name, structured
 * fields are JSON text, booleans are 0/1, and listings sort by a millisecond column plus the key.
 */
import { CorruptRecordError, InvalidRecordError } from './errors.js';
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
import type {
  AgentRecord,
  AuditRecord,
  DriftRecord,
  ExecutionRecord,
  HostRecord,
  ResourceStatus,
  RevisionRecord,
  TokenRecord,
} from './types.js';

export type SqlValue = string | number | null;
export type SqlRow = Record<string, SqlValue>;

/** One sort column of a listing; `numeric` columns go back into cursors as decimal strings. */
export interface SortColumn {
  col: string;
  numeric?: boolean;
}

export interface TableSpec<T extends object> {
  table: string;
  /** The record's fields, each a column of the same name. */
  columns: readonly (keyof T & string)[];
  key: readonly (keyof T & string)[];
  json?: readonly (keyof T & string)[];
  bool?: readonly (keyof T & string)[];
  /** Required fields whose value may be null (kept as null on the way back). */
  nullable?: readonly (keyof T & string)[];
  /** Columns computed from the record (sort keys). */
  derived?: (record: T) => SqlRow;
  /** Listing order, and whether it is newest first. */
  order: readonly SortColumn[];
  descending: boolean;
  parse: (value: unknown, path: string) => T;
}

/** The row to bind for `record` (named parameters). */
export function toRow<T extends object>(spec: TableSpec<T>, record: T): SqlRow {
  const row: SqlRow = {};
  for (const col of spec.columns) {
    const value: unknown = record[col];
    // A JSON column keeps a null value as the text 'null'; SQL NULL means the field is absent.
    if (value === undefined) row[col] = null;
    else if (spec.json?.includes(col)) row[col] = JSON.stringify(value);
    else if (value === null) row[col] = null;
    else if (spec.bool?.includes(col)) row[col] = value === true ? 1 : 0;
    else if (typeof value === 'string' || typeof value === 'number') row[col] = value;
    else throw new InvalidRecordError(`${spec.table}.${col}`, 'must be a string or number');
  }
  return { ...row, ...spec.derived?.(record) };
}

/** The record stored in `row`; throws CorruptRecordError when it is not one. */
export function fromRow<T extends object>(spec: TableSpec<T>, row: unknown): T {
  if (typeof row !== 'object' || row === null) throw new CorruptRecordError(spec.table);
  const raw = new Map<string, unknown>(Object.entries(row));
  const where = `${spec.table}(${spec.key.map((k) => String(raw.get(k))).join(', ')})`;
  try {
    const out: Record<string, unknown> = {};
    for (const col of spec.columns) {
      const value = raw.get(col);
      if (value === null || value === undefined) {
        if (spec.nullable?.includes(col)) out[col] = null;
      } else if (spec.json?.includes(col) && typeof value === 'string') out[col] = JSON.parse(value);
      else if (spec.bool?.includes(col) && (value === 0 || value === 1)) out[col] = value === 1;
      else out[col] = value;
    }
    return spec.parse(out, spec.table);
  } catch (cause) {
    throw new CorruptRecordError(where, { cause });
  }
}

/** The listing position (sort columns) of a raw row, as cursor strings. */
export function rowPosition<T extends object>(spec: TableSpec<T>, row: unknown): string[] {
  const raw =
    typeof row === 'object' && row !== null ? new Map<string, unknown>(Object.entries(row)) : new Map();
  return spec.order.map(({ col }) => String(raw.get(col)));
}

export const AGENTS: TableSpec<AgentRecord> = {
  table: 'agents',
  columns: ['agentId', 'name', 'credentialHash', 'status', 'enrolledAt', 'updatedAt'],
  key: ['agentId'],
  order: [{ col: 'agentId' }],
  descending: false,
  parse: parseAgent,
};

export const REVISIONS: TableSpec<RevisionRecord> = {
  table: 'revisions',
  columns: ['sha', 'author', 'authoredAt', 'message', 'seenAt', 'status', 'errors'],
  key: ['sha'],
  json: ['errors'],
  derived: (r) => ({ seenMs: Date.parse(r.seenAt) }),
  order: [{ col: 'seenMs', numeric: true }, { col: 'sha' }],
  descending: true,
  parse: parseRevision,
};

export const HOSTS: TableSpec<HostRecord> = {
  table: 'hosts',
  columns: [
    'hostId',
    'name',
    'ips',
    'cloudId',
    'os',
    'agentVersion',
    'labels',
    'facts',
    'firstSeen',
    'lastSeen',
    'connected',
    'syncState',
    'revision',
    'desiredHash',
    'reportedHash',
    'lastReportAt',
    'retry',
  ],
  key: ['hostId'],
  json: ['ips', 'labels', 'facts', 'retry'],
  bool: ['connected'],
  order: [{ col: 'hostId' }],
  descending: false,
  parse: parseHost,
};

export const RESOURCE_STATUSES: TableSpec<ResourceStatus> = {
  table: 'resource_statuses',
  columns: ['hostId', 'key', 'kind', 'name', 'hash', 'state', 'message', 'observedHash', 'updatedAt'],
  key: ['hostId', 'key'],
  order: [{ col: 'hostId' }, { col: 'key' }],
  descending: false,
  parse: parseResourceStatus,
};

export const DRIFT: TableSpec<DriftRecord> = {
  table: 'drift',
  columns: [
    'id',
    'hostId',
    'key',
    'kind',
    'revision',
    'detectedAt',
    'healed',
    'healedAt',
    'detail',
    'expectedHash',
    'observedHash',
  ],
  key: ['id'],
  bool: ['healed'],
  derived: (r) => ({ detectedMs: Date.parse(r.detectedAt) }),
  order: [{ col: 'detectedMs', numeric: true }, { col: 'id' }],
  descending: true,
  parse: parseDrift,
};

export const EXECUTIONS: TableSpec<ExecutionRecord> = {
  table: 'executions',
  columns: [
    'id',
    'hostId',
    'reason',
    'resource',
    'command',
    'status',
    'exitCode',
    'signal',
    'stdoutTail',
    'stderrTail',
    'startedAt',
    'finishedAt',
    'durationMs',
    'timedOut',
    'killed',
    'requestedBy',
    'remediation',
  ],
  key: ['id', 'hostId'],
  json: ['remediation'],
  bool: ['timedOut', 'killed'],
  nullable: ['exitCode', 'signal'],
  derived: (r) => ({ startedMs: Date.parse(r.startedAt) }),
  order: [{ col: 'startedMs', numeric: true }, { col: 'hostId' }, { col: 'id' }],
  descending: true,
  parse: parseExecution,
};

export const AUDIT: TableSpec<AuditRecord> = {
  table: 'audit',
  columns: ['id', 'at', 'actor', 'action', 'target', 'status', 'detail'],
  key: ['id'],
  json: ['detail'],
  derived: (r) => ({ atMs: Date.parse(r.at) }),
  order: [{ col: 'atMs', numeric: true }, { col: 'id' }],
  descending: true,
  parse: parseAudit,
};

export const TOKENS: TableSpec<TokenRecord> = {
  table: 'tokens',
  columns: ['name', 'role', 'hash', 'createdAt', 'createdBy', 'revokedAt', 'lastUsedAt', 'appCode'],
  key: ['name'],
  order: [{ col: 'name' }],
  descending: false,
  parse: parseToken,
};

/** Every column a row of `spec` has; derived columns are the sort columns that are not record fields. */
export function allColumns<T extends object>(spec: TableSpec<T>): string[] {
  const derived = spec.order.map((o) => o.col).filter((c) => !spec.columns.some((col) => col === c));
  return [...spec.columns, ...derived];
}

/**
 * `INSERT ... ON CONFLICT (key) DO UPDATE`: by default of every column but the key and `keep`; `set`
 * replaces that clause and `where` guards the update.
 */
export function upsertSql<T extends object>(
  spec: TableSpec<T>,
  options: { keep?: readonly string[]; set?: string; where?: string } = {},
): string {
  const cols = allColumns(spec);
  const updated = cols.filter((c) => !spec.key.some((k) => k === c) && !options.keep?.includes(c));
  const set = options.set ?? updated.map((c) => `${c} = excluded.${c}`).join(', ');
  return (
    `INSERT INTO ${spec.table} (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')}) ` +
    `ON CONFLICT (${spec.key.join(', ')}) DO UPDATE SET ${set}${options.where ? ` WHERE ${options.where}` : ''}`
  );
}
