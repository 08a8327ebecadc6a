/**
 * Validators of every record kind. The store runs them on the way in (InvalidRecordError) and on data read
 * back from a database (wrapped in CorruptRecordError), and they return clean copies without extra fields.
 */
import { InvalidRecordError } from './errors.js';
import {
  AGENT_STATUSES,
  type AgentRecord,
  type AuditRecord,
  DRIFT_KINDS,
  type DriftRecord,
  EXECUTION_DECISIONS,
  EXECUTION_STATUSES,
  type ExecutionDecision,
  type ExecutionRecord,
  type HostRecord,
  REVISION_STATUSES,
  type ResourceStatus,
  type RevisionError,
  type RevisionRecord,
  SYNC_STATES,
  TOKEN_ROLES,
  type TokenRecord,
} from './types.js';
import { compact, FieldReader, isJsonValue } from './validate.js';

/** Reads an AgentRecord. */
export function parseAgent(value: unknown, path = 'agent'): AgentRecord {
  const f = FieldReader.of(value, path);
  return {
    agentId: f.id('agentId'),
    name: f.str('name'),
    credentialHash: f.str('credentialHash'),
    status: f.oneOf('status', AGENT_STATUSES),
    enrolledAt: f.time('enrolledAt'),
    updatedAt: f.time('updatedAt'),
  };
}

function parseRevisionError(value: unknown, path: string): RevisionError {
  const f = FieldReader.of(value, path);
  return {
    file: f.str('file'),
    line: f.int('line'),
    col: f.int('col'),
    path: f.str('path'),
    message: f.str('message'),
  };
}

/** Reads a RevisionRecord. */
export function parseRevision(value: unknown, path = 'revision'): RevisionRecord {
  const f = FieldReader.of(value, path);
  return {
    sha: f.id('sha'),
    author: f.str('author'),
    authoredAt: f.time('authoredAt'),
    message: f.str('message'),
    seenAt: f.time('seenAt'),
    status: f.oneOf('status', REVISION_STATUSES),
    errors: f.array('errors', parseRevisionError),
  };
}

function parseFact(item: unknown, path: string): string | number | boolean {
  if (typeof item === 'string' || typeof item === 'boolean') return item;
  if (typeof item === 'number' && Number.isFinite(item)) return item;
  throw new InvalidRecordError(path, 'must be a string, number or boolean');
}

/** Reads a HostRecord. */
export function parseHost(value: unknown, path = 'host'): HostRecord {
  const f = FieldReader.of(value, path);
  return compact({
    hostId: f.id('hostId'),
    name: f.str('name'),
    ips: f.strArray('ips'),
    cloudId: f.int('cloudId'),
    os: f.optStr('os'),
    agentVersion: f.optStr('agentVersion'),
    labels: f.strMap('labels'),
    facts: f.optObject('facts', () => f.map('facts', parseFact)),
    firstSeen: f.time('firstSeen'),
    lastSeen: f.time('lastSeen'),
    connected: f.bool('connected'),
    syncState: f.oneOf('syncState', SYNC_STATES),
    revision: f.optStr('revision'),
    desiredHash: f.optStr('desiredHash'),
    reportedHash: f.optStr('reportedHash'),
    lastReportAt: f.optTime('lastReportAt'),
    retry: f.optObject('retry', (r) => ({ attempts: r.int('attempts'), nextAt: r.time('nextAt') })),
  });
}

/** Reads a ResourceStatus. */
export function parseResourceStatus(value: unknown, path = 'resourceStatus'): ResourceStatus {
  const f = FieldReader.of(value, path);
  return compact({
    hostId: f.id('hostId'),
    key: f.id('key'),
    kind: f.str('kind'),
    name: f.str('name'),
    hash: f.str('hash'),
    state: f.oneOf('state', SYNC_STATES),
    message: f.optStr('message'),
    observedHash: f.optStr('observedHash'),
    updatedAt: f.time('updatedAt'),
  });
}

/** Reads a DriftRecord. */
export function parseDrift(value: unknown, path = 'drift'): DriftRecord {
  const f = FieldReader.of(value, path);
  return compact({
    id: f.id('id'),
    hostId: f.id('hostId'),
    key: f.id('key'),
    kind: f.oneOf('kind', DRIFT_KINDS),
    revision: f.str('revision'),
    detectedAt: f.time('detectedAt'),
    healed: f.bool('healed'),
    healedAt: f.optTime('healedAt'),
    detail: f.str('detail'),
    expectedHash: f.optStr('expectedHash'),
    observedHash: f.optStr('observedHash'),
  });
}

/** Reads an ExecutionRecord. */
export function parseExecution(value: unknown, path = 'execution'): ExecutionRecord {
  const f = FieldReader.of(value, path);
  return compact({
    id: f.id('id'),
    hostId: f.id('hostId'),
    reason: f.str('reason'),
    resource: f.optStr('resource'),
    command: f.str('command'),
    status: f.oneOf('status', EXECUTION_STATUSES),
    exitCode: f.intOrNull('exitCode'),
    signal: f.strOrNull('signal'),
    stdoutTail: f.str('stdoutTail'),
    stderrTail: f.str('stderrTail'),
    startedAt: f.time('startedAt'),
    finishedAt: f.optTime('finishedAt'),
    durationMs: f.optNum('durationMs'),
    timedOut: f.bool('timedOut'),
    killed: f.bool('killed'),
    requestedBy: f.optStr('requestedBy'),
    remediation: f.optObject('remediation', readDecision),
  });
}

function readDecision(f: FieldReader): ExecutionDecision {
  return compact({
    name: f.str('name'),
    itemHash: f.str('itemHash'),
    revision: f.str('revision'),
    decision: f.oneOf('decision', EXECUTION_DECISIONS),
    event: f.object('event', (e) =>
      compact({
        type: e.str('type'),
        time: e.str('time'),
        resource: e.optStr('resource'),
        fields: e.map('fields', (v, path) => {
          if (!isJsonValue(v)) throw new InvalidRecordError(path, 'must be JSON data');
          return v;
        }),
      }),
    ),
    detail: f.optStr('detail'),
  });
}

/** Reads an AuditRecord. */
export function parseAudit(value: unknown, path = 'audit'): AuditRecord {
  const f = FieldReader.of(value, path);
  return compact({
    id: f.id('id'),
    at: f.time('at'),
    actor: f.str('actor'),
    action: f.str('action'),
    target: f.str('target'),
    status: f.optInt('status'),
    detail: f.optJson('detail'),
  });
}

/** Reads a TokenRecord. */
export function parseToken(value: unknown, path = 'token'): TokenRecord {
  const f = FieldReader.of(value, path);
  const hash = f.str('hash');
  if (!/^[0-9a-f]{64}$/.test(hash))
    throw new InvalidRecordError(`${path}.hash`, 'must be a sha256 hex digest');
  return compact({
    name: f.id('name'),
    role: f.oneOf('role', TOKEN_ROLES),
    hash,
    createdAt: f.time('createdAt'),
    createdBy: f.str('createdBy'),
    revokedAt: f.optTime('revokedAt'),
    lastUsedAt: f.optTime('lastUsedAt'),
    appCode: f.optStr('appCode'),
  });
}
