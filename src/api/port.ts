/**
 * What the HTTP API needs of the controller, and nothing more: the routes see this port, never the
 * controller's fields, so they can be built over plain objects in a test (src/controller/api-port.ts is the
 * real implementation). Methods delegate; the decisions about status codes and JSON shapes stay in the routes.
 */
import type { ControllerLifecycle } from '../controller/controller.js';
import type { DryRunAnswer } from '../controller/dry-runs.js';
import type { ExecRequest, ExecStarted } from '../controller/exec-service.js';
import type { HostRemoval } from '../controller/host-removal.js';
import type { LiveFeedView } from '../controller/live-feed.js';
import type { PlanError } from '../controller/plan.js';
import type { PreviewOutcome } from '../controller/preview-service.js';
import type { AgentRecord, HostState, HubStats, SessionInfo } from '../fleet/index.js';
import type { GseTaskPort } from '../gse-task/port.js';
import type { GseWriter } from '../gse-write/writer.js';
import type { HostManifest } from '../protocol/manifest.js';
import type { ItemReport } from '../protocol/messages.js';
import type { RolloutHostState, RolloutHostView } from '../rollout/plan.js';
import type { RouterStats } from '../routing/router.js';
import type { TargetHealth } from '../routing/types.js';
import type { SourceStats } from '../source/git-source.js';
import type { Revision } from '../spec/types.js';
import type { RolloutRecord } from '../store/rollout-record.js';
import type {
  AuditQuery,
  AuditRecord,
  DriftQuery,
  DriftRecord,
  ExecutionQuery,
  ExecutionRecord,
  HostQuery,
  HostRecord,
  Page,
  PageOptions,
  ResourceStatus,
  ResourceStatusQuery,
  RevisionRecord,
  Store,
  SyncState,
} from '../store/types.js';
import type { ApiLogger } from './app.js';
import type { TokenLookup } from './auth.js';
import type { FleetHostView } from './gse/status.js';

/** The serve flags the API reads. */
export interface ApiConfig {
  /** The admin bearer token (`--admin-token`). */
  adminToken: string;
  /** The read-only bearer token (`--viewer-token`), if any. */
  viewerToken?: string;
  /** When set, /metrics needs it as a bearer token; unset, /metrics is public. */
  metricsToken?: string;
  /** HMAC secret or token of the Git webhook; unset, unsigned hooks are taken. */
  webhookSecret?: string;
  /** The branch the controller follows (pushes to other branches are ignored). */
  branch: string;
  /** Absolute path of `--artifact-dir`, whose files GET /api/v1/artifacts/:file serves; unset, none. */
  artifactDir?: string;
}

/** Everything GET /api/v1/status reports, before the API shapes it. */
export interface StatusParts {
  lifecycle: ControllerLifecycle;
  startedAt: string;
  applied: RevisionRecord | undefined;
  lastRejected: RevisionRecord | undefined;
  bySyncState: Record<SyncState, number>;
  /** Agent sessions open now. */
  connected: number;
  source: SourceStats;
  hub: HubStats;
  targets: TargetHealth[];
}

/** The Route and StreamTarget specs of the applied revision (empty before the first one). */
export type DataSpecs = Pick<Revision['byKind'], 'Route' | 'StreamTarget'>;

/** The named-token half of the store: the token routes and the authenticator use it. */
export type ApiTokenStore = TokenLookup & Pick<Store, 'putToken' | 'getToken' | 'listTokens' | 'revokeToken'>;

/** The audit log. */
export interface ApiAuditLog {
  append(record: AuditRecord): Promise<void>;
  list(query: AuditQuery): Promise<Page<AuditRecord>>;
}

/** Ad-hoc exec: start a task, hear its results. */
export interface ApiExec {
  start(req: ExecRequest): Promise<ExecStarted>;
  /** Calls `listener` with each result of the task; returns the unsubscribe function. */
  subscribe(taskId: string, listener: (record: ExecutionRecord) => void): () => void;
}

/** Approve, revoke and reset answer with the agent's record; the routes strip its credential hash. */
export interface ApiAgents {
  list(): Promise<AgentRecord[]>;
  stateOf(agentId: string): HostState;
  approve(agentId: string): Promise<AgentRecord>;
  revoke(agentId: string): Promise<AgentRecord>;
  /** Throws AgentNotFoundError (404) or AgentStateError (409). */
  reset(agentId: string): Promise<AgentRecord>;
  /** True when `agentId` is approved and `credential` is its own (compared timing-safe, as at the handshake). */
  verifyCredential(agentId: string, credential: string): Promise<boolean>;
}

/** A rollout with where its hosts stand. */
export interface RolloutView {
  rollout: RolloutRecord;
  /** Batches reached, of `batches`. */
  batch: number;
  batches: number;
  counts: Record<RolloutHostState, number>;
  hosts: RolloutHostView[];
  /** Why the next batch has not started, while it waits. */
  waiting?: string;
}

/** AgentVersion rollouts; actions throw errors with `status` 404 (no rollout) or 409 (not now). */
export interface ApiRollouts {
  list(): Promise<RolloutView[]>;
  get(name: string): Promise<RolloutView | undefined>;
  pause(name: string, actor: string): Promise<RolloutView>;
  resume(name: string, actor: string): Promise<RolloutView>;
  undo(name: string, actor: string): Promise<RolloutView>;
}

/** The controller as the API sees it. */
export interface ApiPort {
  readonly config: ApiConfig;
  /** `debug`, when there, hears what is not worth an audit line (artifact downloads). */
  readonly logger: ApiLogger & { debug?(message: string, fields?: Record<string, unknown>): void };

  // Status and readiness.
  lifecycle(): ControllerLifecycle;
  /** Id of the revision the reconciler holds, or undefined before the first one. */
  currentRevisionId(): string | undefined;
  statusParts(): Promise<StatusParts>;
  /** The Prometheus exposition and its content type. */
  metricsText(): Promise<{ contentType: string; text: string }>;

  // Hosts and listings.
  getHost(hostId: string): Promise<HostRecord | undefined>;
  listHosts(query: HostQuery): Promise<Page<HostRecord>>;
  /** Every host the reconciler tracks, connected or not. */
  hostIds(): string[];
  session(hostId: string): SessionInfo | undefined;
  manifestFor(hostId: string): HostManifest | undefined;
  /** What the host last reported per item (observed file content included, bounded), kept in memory. */
  reportedItems(hostId: string): ItemReport[];
  planErrorsFor(hostId: string): PlanError[];
  listResourceStatuses(query: ResourceStatusQuery): Promise<Page<ResourceStatus>>;
  listDrift(query: DriftQuery): Promise<Page<DriftRecord>>;
  listExecutions(query: ExecutionQuery): Promise<Page<ExecutionRecord>>;
  listRevisions(query: PageOptions): Promise<Page<RevisionRecord>>;
  targetHealth(): TargetHealth[];
  /** Counters of the live router, or undefined while no revision's routes are applied. */
  routerStats(): RouterStats | undefined;
  dataSpecs(): DataSpecs;
  /** The live fleet as the GSE status endpoints see it. */
  fleetView(): FleetHostView[];

  // Actions.
  /** Fetches Git now; the revision at the head of the branch, or undefined when there is none yet. */
  fetchNow(): Promise<{ sha: string } | undefined>;
  /** Re-sends manifests to `hostIds` (every host when undefined); the hosts it went to. */
  forceSync(hostIds?: string[]): Promise<string[]>;
  /** Validates a tree (posix path -> bytes) and previews it against the known hosts; changes nothing. */
  preview(files: ReadonlyMap<string, Buffer>): Promise<PreviewOutcome>;
  /** Asks each host's agent what applying its desired manifest would change (a dry run); changes nothing. */
  dryRun(hostIds: string[], timeoutMs: number): Promise<DryRunAnswer[]>;
  /** Revokes the host's agent (closing a live session) and drops the host from the views; history stays. */
  deleteHost(hostId: string): Promise<HostRemoval>;
  readonly exec: ApiExec;
  /** GSE's task calls and process operations (src/gse-task); absent, those routes answer that they are off. */
  readonly gseTasks?: GseTaskPort;
  /** GSE data-route writes committed to Git (src/gse-write); absent, those calls answer that they are off. */
  readonly gseWriter?: Pick<GseWriter, 'write'>;
  readonly agents: ApiAgents;
  readonly rollouts: ApiRollouts;
  readonly tokens: ApiTokenStore;
  readonly audit: ApiAuditLog;
  /** Changes as they happen and the plots' ring buffers (GET /api/v1/events). */
  readonly live: LiveFeedView;
}
