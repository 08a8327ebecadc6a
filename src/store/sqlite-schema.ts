/** The SQLite schema, versioned with `PRAGMA user_version`: migration i brings the file to version i + 1. */
import type { Database } from 'better-sqlite3';
import { SchemaTooNewError } from './errors.js';

const V1 = `
CREATE TABLE agents (
  agentId TEXT PRIMARY KEY, name TEXT NOT NULL, credentialHash TEXT NOT NULL, status TEXT NOT NULL,
  enrolledAt TEXT NOT NULL, updatedAt TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE revisions (
  sha TEXT PRIMARY KEY, author TEXT NOT NULL, authoredAt TEXT NOT NULL, message TEXT NOT NULL,
  seenAt TEXT NOT NULL, seenMs INTEGER NOT NULL, status TEXT NOT NULL,
  errors TEXT NOT NULL -- JSON array
);
CREATE INDEX revisions_by_time ON revisions (seenMs, sha);
CREATE INDEX revisions_by_status ON revisions (status, seenMs, sha);

CREATE TABLE pointers (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

CREATE TABLE hosts (
  hostId TEXT PRIMARY KEY, name TEXT NOT NULL,
  ips TEXT NOT NULL, -- JSON array
  cloudId INTEGER NOT NULL, os TEXT, agentVersion TEXT,
  labels TEXT NOT NULL, -- JSON object
  facts TEXT, -- JSON object
  firstSeen TEXT NOT NULL, lastSeen TEXT NOT NULL, connected INTEGER NOT NULL, syncState TEXT NOT NULL,
  revision TEXT, desiredHash TEXT, reportedHash TEXT, lastReportAt TEXT,
  retry TEXT -- JSON object
);
CREATE INDEX hosts_by_sync ON hosts (syncState, hostId);

-- The labels again, one row each, so a label selector is an indexed lookup.
CREATE TABLE host_labels (
  hostId TEXT NOT NULL REFERENCES hosts (hostId) ON DELETE CASCADE, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (hostId, key)
) WITHOUT ROWID;
CREATE INDEX host_labels_by_pair ON host_labels (key, value, hostId);

CREATE TABLE resource_statuses (
  hostId TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, hash TEXT NOT NULL,
  state TEXT NOT NULL, message TEXT, observedHash TEXT, updatedAt TEXT NOT NULL,
  PRIMARY KEY (hostId, key)
) WITHOUT ROWID;
CREATE INDEX resource_statuses_by_key ON resource_statuses (key, hostId);
CREATE INDEX resource_statuses_by_state ON resource_statuses (state, hostId, key);

CREATE TABLE drift (
  id TEXT PRIMARY KEY, hostId TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL, revision TEXT NOT NULL,
  detectedAt TEXT NOT NULL, detectedMs INTEGER NOT NULL, healed INTEGER NOT NULL, healedAt TEXT,
  detail TEXT NOT NULL, expectedHash TEXT, observedHash TEXT
);
CREATE INDEX drift_by_time ON drift (detectedMs, id);
CREATE INDEX drift_by_host ON drift (hostId, detectedMs, id);
CREATE INDEX drift_by_key ON drift (key, detectedMs, id);
CREATE INDEX drift_by_healed ON drift (healed, detectedMs, id);

CREATE TABLE executions (
  id TEXT NOT NULL, hostId TEXT NOT NULL, reason TEXT NOT NULL, resource TEXT, command TEXT NOT NULL,
  status TEXT NOT NULL, exitCode INTEGER, signal TEXT, stdoutTail TEXT NOT NULL, stderrTail TEXT NOT NULL,
  startedAt TEXT NOT NULL, startedMs INTEGER NOT NULL, finishedAt TEXT, durationMs REAL,
  timedOut INTEGER NOT NULL, killed INTEGER NOT NULL, requestedBy TEXT,
  PRIMARY KEY (id, hostId)
);
CREATE INDEX executions_by_time ON executions (startedMs, hostId, id);
CREATE INDEX executions_by_host ON executions (hostId, startedMs, id);
CREATE INDEX executions_by_resource ON executions (resource, startedMs, hostId, id);
CREATE INDEX executions_by_status ON executions (status, startedMs, hostId, id);

CREATE TABLE audit (
  id TEXT PRIMARY KEY, at TEXT NOT NULL, atMs INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT -- JSON value
);
CREATE INDEX audit_by_time ON audit (atMs, id);

CREATE TABLE state (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL -- JSON value
) WITHOUT ROWID;
`;

/** Named API tokens (hashes only), and the audit log's outcome and per-actor index. */
const V2 = `
CREATE TABLE tokens (
  name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL, createdAt TEXT NOT NULL,
  createdBy TEXT NOT NULL, revokedAt TEXT, lastUsedAt TEXT
) WITHOUT ROWID;
CREATE UNIQUE INDEX tokens_by_hash ON tokens (hash);

ALTER TABLE audit ADD COLUMN status INTEGER;
CREATE INDEX audit_by_actor ON audit (actor, atMs, id);
`;

/** A remediation's decision chain on its execution record. */
const V3 = `
ALTER TABLE executions ADD COLUMN remediation TEXT; -- JSON object
`;

/** The GSE `bk_app_code` a named token answers to. */
const V4 = `
ALTER TABLE tokens ADD COLUMN appCode TEXT;
`;

/** Every migration in order; append only, never edit a shipped one. */
const MIGRATIONS: readonly string[] = [V1, V2, V3, V4];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the file at `path` up to `target` (default SCHEMA_VERSION; tests pass a lower one to build an old
 * file); throws SchemaTooNewError for a file from a newer build.
 */
export function migrate(db: Database, path: string, target = SCHEMA_VERSION): void {
  const found = db.pragma('user_version', { simple: true });
  const current = typeof found === 'number' ? found : 0;
  if (current > SCHEMA_VERSION) throw new SchemaTooNewError(path, current, SCHEMA_VERSION);
  for (let version = current; version < Math.min(target, SCHEMA_VERSION); version++) {
    const sql = MIGRATIONS[version] ?? '';
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
