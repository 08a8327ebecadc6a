/**
 * The Redis layout of each record kind: a hash per record under `<prefix><kind>:<id>`, and lex-ordered
 * sorted sets per listing and filter. A member is the record id, prefixed by a fixed-width UTC time for
 * newest-first listings; parts are joined by NUL, which ids may not contain, so member order is the same
 * tuple order SQLite uses.
 */
import { TIME_KEY_LENGTH, timeKey } from './paging.js';
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

const SEP = '\u0000';

export interface RedisKind<T> {
  /** Listing name, carried in cursors. */
  name: string;
  /** Record keys are this prefix followed by the record id. */
  recordPrefix: string;
  /** The index every record is in (the unfiltered listing). */
  all: string;
  id(record: T): string;
  member(record: T): string;
  idOfMember(member: string): string;
  /** Every index key the record must be listed under (`all` included). */
  indexes(record: T): string[];
  descending: boolean;
  parse: (value: unknown, path: string) => T;
}

function byTime<T>(time: (record: T) => string, id: (record: T) => string) {
  return {
    id,
    member: (record: T) => `${timeKey(time(record))}${SEP}${id(record)}`,
    idOfMember: (member: string) => member.slice(TIME_KEY_LENGTH + SEP.length),
    descending: true,
  };
}

function byId<T>(id: (record: T) => string) {
  return { id, member: id, idOfMember: (member: string) => member, descending: false };
}

/** Key names and record kinds under one prefix (so several deployments can share one Redis). */
export function redisLayout(prefix: string) {
  const key = (...parts: string[]) => `${prefix}${parts.join(':')}`;
  const revisionsByStatus = (status: string) => key('revisions', 'status', status);
  const hostsBy = (field: string, value: string) => key('hosts', field, value);
  const hostsByLabel = (k: string, v: string) =>
    key('hosts', 'label', `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  // Filter indexes are named after the record field they filter on.
  const statusesBy = (field: string, value: string) => key('statuses', field, value);
  const driftBy = (field: string, value: string) => key('drifts', field, value);
  const executionsBy = (field: string, value: string) => key('executions', field, value);
  const auditBy = (field: string, value: string) => key('audits', field, value);
  const tokensByHash = (hash: string) => key('tokens', 'hash', hash);

  const agents: RedisKind<AgentRecord> = {
    name: 'agents',
    recordPrefix: key('agent', ''),
    all: key('agents'),
    ...byId((r: AgentRecord) => r.agentId),
    indexes: () => [agents.all],
    parse: parseAgent,
  };

  const revisions: RedisKind<RevisionRecord> = {
    name: 'revisions',
    recordPrefix: key('revision', ''),
    all: key('revisions'),
    ...byTime(
      (r: RevisionRecord) => r.seenAt,
      (r) => r.sha,
    ),
    indexes: (r) => [revisions.all, revisionsByStatus(r.status)],
    parse: parseRevision,
  };

  const hosts: RedisKind<HostRecord> = {
    name: 'hosts',
    recordPrefix: key('host', ''),
    all: key('hosts'),
    ...byId((r: HostRecord) => r.hostId),
    indexes: (r) => [
      hosts.all,
      hostsBy('syncState', r.syncState),
      ...Object.entries(r.labels).map(([k, v]) => hostsByLabel(k, v)),
    ],
    parse: parseHost,
  };

  const statuses: RedisKind<ResourceStatus> = {
    name: 'resource_statuses',
    recordPrefix: key('status', ''),
    all: key('statuses'),
    ...byId((r: ResourceStatus) => `${r.hostId}${SEP}${r.key}`),
    indexes: (r) => [
      statuses.all,
      statusesBy('hostId', r.hostId),
      statusesBy('key', r.key),
      statusesBy('state', r.state),
    ],
    parse: parseResourceStatus,
  };

  const drift: RedisKind<DriftRecord> = {
    name: 'drift',
    recordPrefix: key('drift', ''),
    all: key('drifts'),
    ...byTime(
      (r: DriftRecord) => r.detectedAt,
      (r) => r.id,
    ),
    indexes: (r) => [
      drift.all,
      driftBy('hostId', r.hostId),
      driftBy('key', r.key),
      driftBy('healed', String(r.healed)),
    ],
    parse: parseDrift,
  };

  const executions: RedisKind<ExecutionRecord> = {
    name: 'executions',
    recordPrefix: key('execution', ''),
    all: key('executions'),
    ...byTime(
      (r: ExecutionRecord) => r.startedAt,
      (r) => executionId(r.id, r.hostId),
    ),
    indexes: (r) => [
      executions.all,
      executionsBy('id', r.id),
      executionsBy('hostId', r.hostId),
      executionsBy('status', r.status),
      ...(r.resource === undefined ? [] : [executionsBy('resource', r.resource)]),
    ],
    parse: parseExecution,
  };

  const audit: RedisKind<AuditRecord> = {
    name: 'audit',
    recordPrefix: key('audit', ''),
    all: key('audits'),
    ...byTime(
      (r: AuditRecord) => r.at,
      (r) => r.id,
    ),
    indexes: (r) => [audit.all, auditBy('actor', r.actor)],
    parse: parseAudit,
  };

  const tokens: RedisKind<TokenRecord> = {
    name: 'tokens',
    recordPrefix: key('token', ''),
    all: key('tokens'),
    ...byId((r: TokenRecord) => r.name),
    indexes: (r) => [tokens.all, tokensByHash(r.hash)],
    parse: parseToken,
  };

  return {
    appliedRevision: key('appliedRevision'),
    state: (name: string) => key('state', name),
    rollouts: key('rollouts'),
    revisionsByStatus,
    hostsBy,
    hostsByLabel,
    statusesBy,
    driftBy,
    executionsBy,
    auditBy,
    tokensByHash,
    agents,
    revisions,
    hosts,
    statuses,
    drift,
    executions,
    audit,
    tokens,
  };
}

export type RedisLayout = ReturnType<typeof redisLayout>;

/** The record id of the execution of task `id` on `hostId`. */
export function executionId(id: string, hostId: string): string {
  return `${hostId}${SEP}${id}`;
}

/** The record's JSON and its index entries, as the upsert script takes them. */
export function encodeRecord<T>(kind: RedisKind<T>, record: T): [string, string] {
  return [JSON.stringify(record), indexEntries(kind, record)];
}

/** The record's index entries (JSON `[[index key, member], ...]`), as the scripts take them. */
export function indexEntries<T>(kind: RedisKind<T>, record: T): string {
  const member = kind.member(record);
  return JSON.stringify(kind.indexes(record).map((index) => [index, member]));
}
