/**
 * The state store's records and its one interface. Records are plain JSON-able objects with ISO time
 * strings, so the API can serve them as they are; every implementation passes one conformance suite.
 */
import type { RolloutRecord } from './rollout-record.js';

export type { RolloutRecord } from './rollout-record.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export const SYNC_STATES = ['Synced', 'OutOfSync', 'Progressing', 'Failed', 'Unknown'] as const;
export type SyncState = (typeof SYNC_STATES)[number];

export const AGENT_STATUSES = ['pending', 'approved', 'revoked'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

/** An enrolled agent's credential record; only a hash of the credential is ever stored. */
export interface AgentRecord {
  agentId: string;
  name: string;
  credentialHash: string;
  status: AgentStatus;
  enrolledAt: string;
  updatedAt: string;
}

export const REVISION_STATUSES = ['accepted', 'rejected'] as const;
export type RevisionStatus = (typeof REVISION_STATUSES)[number];

/** One error of a rejected revision, located in the spec tree. */
export interface RevisionError {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

/** A commit the Source saw, and what the spec loader made of it. */
export interface RevisionRecord {
  sha: string;
  author: string;
  authoredAt: string;
  message: string;
  seenAt: string;
  status: RevisionStatus;
  errors: RevisionError[];
}

/** A host as the controller knows it, with its sync state. */
export interface HostRecord {
  hostId: string;
  name: string;
  ips: string[];
  cloudId: number;
  os?: string;
  agentVersion?: string;
  labels: Record<string, string>;
  facts?: Record<string, string | number | boolean>;
  /** Kept from the first write: later upserts do not move it. */
  firstSeen: string;
  lastSeen: string;
  connected: boolean;
  syncState: SyncState;
  revision?: string;
  desiredHash?: string;
  reportedHash?: string;
  lastReportAt?: string;
  retry?: { attempts: number; nextAt: string };
}

/** The state of one manifest item (`Kind/name`) on one host. */
export interface ResourceStatus {
  hostId: string;
  key: string;
  kind: string;
  name: string;
  hash: string;
  state: SyncState;
  message?: string;
  observedHash?: string;
  updatedAt: string;
}

export const DRIFT_KINDS = ['corrective', 'intentional'] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

/** One host's record and the whole set of its resource statuses, written together (`putHostStates`). */
export interface HostStateWrite {
  host: HostRecord;
  statuses: ResourceStatus[];
}

/** A difference found between what Git says and what a host has. */
export interface DriftRecord {
  id: string;
  hostId: string;
  key: string;
  kind: DriftKind;
  revision: string;
  detectedAt: string;
  healed: boolean;
  healedAt?: string;
  detail: string;
  expectedHash?: string;
  observedHash?: string;
}

/** `skipped`: a remediation decided not to run (cooldown, budget, concurrency) or only dry-ran. */
export const EXECUTION_STATUSES = ['running', 'succeeded', 'failed', 'timedOut', 'skipped'] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

export const EXECUTION_DECISIONS = ['ran', 'cooldown', 'budget', 'concurrency', 'dryRun'] as const;
export type ExecutionDecisionKind = (typeof EXECUTION_DECISIONS)[number];

/** Why a remediation ran or did not: the event, the rule (name + item hash), the revision, the decision. */
export interface ExecutionDecision {
  name: string;
  itemHash: string;
  revision: string;
  decision: ExecutionDecisionKind;
  event: { type: string; time: string; resource?: string; fields: Record<string, unknown> };
  /** Why it did not run (skips), or what it would have run (dry run). */
  detail?: string;
}

/** One script run on one host; `id` is the task id, shared by the hosts of one fan-out. */
export interface ExecutionRecord {
  id: string;
  hostId: string;
  reason: string;
  resource?: string;
  command: string;
  status: ExecutionStatus;
  exitCode: number | null;
  signal: string | null;
  stdoutTail: string;
  stderrTail: string;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  timedOut: boolean;
  killed: boolean;
  requestedBy?: string;
  /** On a remediation's record: the chain that led to it (a skipped decision has status `skipped`). */
  remediation?: ExecutionDecision;
}

/** One change made through the API, with who made it. */
export interface AuditRecord {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  /** The HTTP status the call ended with (403 for a denied call); absent on records from before it existed. */
  status?: number;
  detail?: JsonValue;
}

export interface AuditQuery extends PageOptions {
  /** Only records of this token name. */
  actor?: string;
  /** ISO time: only records at or after it. */
  since?: string;
}

export const TOKEN_ROLES = ['viewer', 'operator', 'admin'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

/**
 * A named API token. Only the sha256 of the secret is stored: the secret is 256 random bits, so a fast
 * hash is already infeasible to reverse, and a slow KDF would only slow every request. A token with an
 * `appCode` also answers GSE's `bk_app_code`/`bk_app_secret` pair (the secret is the token).
 */
export interface TokenRecord {
  name: string;
  role: TokenRole;
  /** sha256 hex of the secret. */
  hash: string;
  createdAt: string;
  /** Name of the token that created it. */
  createdBy: string;
  revokedAt?: string;
  /** Refreshed at most once a minute, so it is cheap. */
  lastUsedAt?: string;
  /** The BlueKing `bk_app_code` this token answers to (with the token as `bk_app_secret`); unique among live tokens. */
  appCode?: string;
}

/** Pagination of every `list*`: `limit` defaults to 100 and is capped at 1000; cursors are opaque. */
export interface PageOptions {
  limit?: number;
  cursor?: string;
}

/** One page of a listing; `nextCursor` is absent on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface HostQuery extends PageOptions {
  syncState?: SyncState;
  /** Every label listed must be present with this value (matchLabels). */
  labels?: Record<string, string>;
}

export interface ResourceStatusQuery extends PageOptions {
  hostId?: string;
  key?: string;
  state?: SyncState;
}

export interface DriftQuery extends PageOptions {
  hostId?: string;
  key?: string;
  /** ISO time: only records detected at or after it. */
  since?: string;
  healed?: boolean;
}

export interface ExecutionQuery extends PageOptions {
  /** One task id: its record on every host. */
  id?: string;
  hostId?: string;
  resource?: string;
  /** ISO time: only executions started at or after it. */
  since?: string;
  status?: ExecutionStatus;
}

/** How much history of one kind to keep; an absent bound does not limit. */
export interface RetentionRule {
  maxCount?: number;
  maxAgeMs?: number;
}

export interface RetentionPolicy {
  executions?: RetentionRule;
  drift?: RetentionRule;
}

/** How many records `applyRetention` deleted, per kind. */
export interface RetentionResult {
  executions: number;
  drift: number;
}

/** What the fleet hub needs to authenticate agents; the store satisfies it structurally. */
export interface AgentRegistry {
  getAgent(agentId: string): Promise<AgentRecord | undefined>;
  /** Inserts or replaces the agent's record. */
  putAgent(record: AgentRecord): Promise<void>;
  /** Every agent, ordered by id. */
  listAgents(): Promise<AgentRecord[]>;
}

/** The controller's durable state; all time strings are ISO 8601. */
export interface Store extends AgentRegistry {
  /** Inserts or replaces a revision (by sha). */
  putRevision(record: RevisionRecord): Promise<void>;
  getRevision(sha: string): Promise<RevisionRecord | undefined>;
  /** Revisions, newest `seenAt` first. */
  listRevisions(options?: PageOptions): Promise<Page<RevisionRecord>>;
  /** The rejected revision seen last, if any. */
  getLastRejectedRevision(): Promise<RevisionRecord | undefined>;
  setAppliedRevision(sha: string): Promise<void>;
  /** The sha of the revision being reconciled, if one was set. */
  getAppliedRevision(): Promise<string | undefined>;

  /** Inserts or replaces a host; `firstSeen` stays as first written. */
  upsertHost(record: HostRecord): Promise<void>;
  getHost(hostId: string): Promise<HostRecord | undefined>;
  /** Hosts ordered by id. */
  listHosts(query?: HostQuery): Promise<Page<HostRecord>>;
  /**
   * Deletes a host and its resource statuses (its drift and executions stay, as history); false when the
   * host was unknown.
   */
  deleteHost(hostId: string): Promise<boolean>;
  /** Every sync state with its host count (zeros included). */
  countHostsBySyncState(): Promise<Record<SyncState, number>>;

  /** Replaces the whole set of resource statuses of one host. */
  putResourceStatuses(hostId: string, statuses: ResourceStatus[]): Promise<void>;
  /**
   * `upsertHost` and `putResourceStatuses` for many hosts in one write (one SQLite transaction, one Redis
   * MULTI), with the same rules per host; every record is checked first, so a bad one stores none.
   */
  putHostStates(writes: HostStateWrite[]): Promise<void>;
  /** Statuses ordered by host id, then key. */
  listResourceStatuses(query?: ResourceStatusQuery): Promise<Page<ResourceStatus>>;

  /** Records drift once per id; a re-sent record only ever turns `healed` on. */
  putDrift(record: DriftRecord): Promise<void>;
  /** `putDrift` for many records in one write, with the same rule per record; a bad record stores none. */
  putDrifts(records: DriftRecord[]): Promise<void>;
  /** Marks a drift record healed (the first `healedAt` stays); false when the id is unknown. */
  markDriftHealed(id: string, at: string): Promise<boolean>;
  /** Drift, newest `detectedAt` first. */
  listDrift(query?: DriftQuery): Promise<Page<DriftRecord>>;

  /** Inserts or replaces by (id, hostId); a late `running` record never replaces a finished one. */
  putExecution(record: ExecutionRecord): Promise<void>;
  /** `putExecution` for many records in one write (an exec fan-out), with the same rule per record. */
  putExecutions(records: ExecutionRecord[]): Promise<void>;
  getExecution(id: string, hostId: string): Promise<ExecutionRecord | undefined>;
  /** Executions, newest `startedAt` first. */
  listExecutions(query?: ExecutionQuery): Promise<Page<ExecutionRecord>>;

  /** Appends an audit record (a re-sent id replaces the record, it is not duplicated). */
  appendAudit(record: AuditRecord): Promise<void>;
  /** Audit records, newest `at` first, optionally of one actor and since a time. */
  listAudit(query?: AuditQuery): Promise<Page<AuditRecord>>;

  /** Inserts or replaces a token (by name). */
  putToken(record: TokenRecord): Promise<void>;
  getToken(name: string): Promise<TokenRecord | undefined>;
  /** The token whose secret hashes to `hash` (revoked ones included: the caller checks `revokedAt`). */
  findTokenByHash(hash: string): Promise<TokenRecord | undefined>;
  /** Every token, revoked ones included, ordered by name. */
  listTokens(): Promise<TokenRecord[]>;
  /** Sets `revokedAt` (the first one stays); false when the name is unknown. */
  revokeToken(name: string, at: string): Promise<boolean>;
  /** Records a use of the token; a no-op for an unknown name. */
  markTokenUsed(name: string, at: string): Promise<void>;

  /**
   * A JSON value other parts keep (rollouts, stream_to ids, high-water marks). With `guard`, a value that
   * fails it throws CorruptRecordError; without, the caller vouches for `T`.
   */
  getState<T extends JsonValue = JsonValue>(
    key: string,
    guard?: (value: JsonValue) => value is T,
  ): Promise<T | undefined>;
  setState(key: string, value: JsonValue): Promise<void>;

  /** Inserts or replaces a rollout (by id). */
  putRollout(record: RolloutRecord): Promise<void>;
  getRollout(id: string): Promise<RolloutRecord | undefined>;
  /** Every rollout, by name, then generation. */
  listRollouts(): Promise<RolloutRecord[]>;

  /** Deletes executions and drift beyond the policy's age and count, measured at `now`. */
  applyRetention(policy: RetentionPolicy, now: Date): Promise<RetentionResult>;

  /** Releases the database; the store is unusable afterwards. */
  close(): Promise<void>;
}
