/**
 * The API's port over plain objects, and the API served from it on 127.0.0.1:0: the HTTP layer (routing,
 * auth, roles, audit, error mapping, params, envelopes, headers) tested in milliseconds without a controller.
 * It records the queries the routes pass on, so a test can assert what reached the controller.
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FleetHostView } from '../../src/api/gse/status.js';
import type { ApiConfig, ApiPort, DataSpecs, RolloutView, StatusParts } from '../../src/api/port.js';
import { buildApiHandler } from '../../src/api/routes/index.js';
import type { ControllerLifecycle } from '../../src/controller/controller.js';
import type { DryRunAnswer } from '../../src/controller/dry-runs.js';
import type { ExecRequest, ExecStarted } from '../../src/controller/exec-service.js';
import { LiveFeed } from '../../src/controller/live-feed.js';
import type { PreviewOutcome } from '../../src/controller/preview-service.js';
import { type AgentRecord, type HostState, hashCredential, type SessionInfo } from '../../src/fleet/index.js';
import type { HostManifest } from '../../src/protocol/manifest.js';
import type { ItemReport } from '../../src/protocol/messages.js';
import type {
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
  SyncState,
  TokenRecord,
} from '../../src/store/types.js';

export const ADMIN = 'admin-secret-for-tests';
export const VIEWER = 'viewer-secret-for-tests';
export const T0 = Date.parse('2024-05-01T00:00:00.000Z');

const ZERO_SYNC: Record<SyncState, number> = {
  Synced: 0,
  OutOfSync: 0,
  Progressing: 0,
  Failed: 0,
  Unknown: 0,
};

/** A host record with defaults. */
export function host(hostId: string, extra: Partial<HostRecord> = {}): HostRecord {
  return {
    hostId,
    name: hostId,
    ips: ['10.0.0.1'],
    cloudId: 0,
    labels: {},
    firstSeen: new Date(T0).toISOString(),
    lastSeen: new Date(T0).toISOString(),
    connected: true,
    syncState: 'Synced',
    ...extra,
  };
}

/** A live session for `agentId`. */
export function session(agentId: string): SessionInfo {
  return {
    agentId,
    facts: { name: agentId, ips: ['10.0.0.1'], cloudId: 0, os: 'linux', agentVersion: '0.1.0', labels: {} },
    connectedAt: new Date(T0).toISOString(),
    lastSeen: new Date(T0).toISOString(),
    remoteAddress: '127.0.0.1',
    status: 'Connected',
    manifestHash: '',
    spoolHighWater: 0,
  };
}

/** A finished execution of `taskId` on `hostId`. */
export function execution(
  taskId: string,
  hostId: string,
  status: ExecutionRecord['status'],
): ExecutionRecord {
  return {
    id: taskId,
    hostId,
    reason: 'adhoc',
    command: 'true',
    status,
    exitCode: status === 'succeeded' ? 0 : 1,
    signal: null,
    stdoutTail: '',
    stderrTail: '',
    startedAt: new Date(T0).toISOString(),
    timedOut: false,
    killed: false,
  };
}

function pageOf<T>(items: T[], q: PageOptions): Page<T> {
  return { items: items.slice(0, q.limit ?? 100) };
}

/** The port over arrays and maps; every field is public so a test arranges and inspects it directly. */
export class MemoryPort implements ApiPort {
  config: ApiConfig = { adminToken: ADMIN, viewerToken: VIEWER, branch: 'main' };
  readonly errors: Array<{ message: string; fields?: Record<string, unknown> }> = [];
  readonly logger = {
    error: (message: string, fields?: Record<string, unknown>) => {
      this.errors.push({ message, fields });
    },
  };
  state: ControllerLifecycle = 'running';
  revisionId: string | undefined = 'abc123';
  hosts = new Map<string, HostRecord>();
  sessions = new Map<string, SessionInfo>();
  resources: ResourceStatus[] = [];
  revisions: RevisionRecord[] = [];
  applied: RevisionRecord | undefined;
  lastRejected: RevisionRecord | undefined;
  specs: DataSpecs = { Route: [], StreamTarget: [] };
  fleet: FleetHostView[] = [];
  /** What fetchNow answers, or the error it throws. */
  head: { sha: string } | undefined | Error = { sha: 'abc123' };
  /** Every query the routes passed on, by method. */
  readonly queries = {
    hosts: [] as HostQuery[],
    resources: [] as ResourceStatusQuery[],
    drift: [] as DriftQuery[],
    executions: [] as ExecutionQuery[],
    revisions: [] as PageOptions[],
  };
  readonly synced: Array<string[] | undefined> = [];

  lifecycle = () => this.state;
  currentRevisionId = () => this.revisionId;
  statusParts = async (): Promise<StatusParts> => {
    const bySyncState = { ...ZERO_SYNC };
    for (const h of this.hosts.values()) bySyncState[h.syncState] += 1;
    return {
      lifecycle: this.state,
      startedAt: new Date(T0).toISOString(),
      applied: this.applied,
      lastRejected: this.lastRejected,
      bySyncState,
      connected: this.sessions.size,
      source: {
        state: 'running',
        fetches: 1,
        fetchErrors: 0,
        consecutiveFailures: 0,
        lastFetchMs: 5,
        lastFetchAt: T0,
        headSha: 'abc123',
      },
      hub: {
        connected: this.sessions.size,
        handshaking: 0,
        framesIn: 0,
        framesRejected: {},
        authFailures: 0,
        handlerErrors: 0,
        messagesHandled: 0,
        acksSent: 0,
        idsAcked: 0,
        replaysIgnored: 0,
        inFlight: 0,
        queued: 0,
        pausedSessions: 0,
        sessionsReplaced: 0,
        duplicateSessionsRefused: 0,
        handshakesRejected: 0,
        badFrameCloses: 0,
      },
      targets: [],
    };
  };
  metricsText = async () => ({ contentType: 'text/plain; version=0.0.4', text: 'gse_up 1\n' });

  getHost = async (id: string) => this.hosts.get(id);
  listHosts = async (q: HostQuery) => {
    this.queries.hosts.push(q);
    return pageOf([...this.hosts.values()], q);
  };
  hostIds = () => [...this.hosts.keys()];
  session = (id: string) => this.sessions.get(id);
  /** Desired manifests and last reports by host, for the diff routes. */
  manifests = new Map<string, HostManifest>();
  reports = new Map<string, ItemReport[]>();
  manifestFor = (id: string) => this.manifests.get(id);
  reportedItems = (id: string) => this.reports.get(id) ?? [];
  planErrorsFor = () => [];
  /** What preview answers, and the trees it was given. */
  previewAnswer: PreviewOutcome = { ok: false, errors: [] };
  readonly previewed: Array<ReadonlyMap<string, Buffer>> = [];
  preview = async (files: ReadonlyMap<string, Buffer>) => {
    this.previewed.push(files);
    return this.previewAnswer;
  };
  /** What each host's dry run answers (a missing host: timeout). */
  dryRunAnswers = new Map<string, DryRunAnswer>();
  readonly dryRuns: Array<{ hostIds: string[]; timeoutMs: number }> = [];
  dryRun = async (hostIds: string[], timeoutMs: number) => {
    this.dryRuns.push({ hostIds, timeoutMs });
    return hostIds.map(
      (id): DryRunAnswer =>
        this.dryRunAnswers.get(id) ?? { hostId: id, ok: false, error: 'timeout', message: 'no answer' },
    );
  };
  listResourceStatuses = async (q: ResourceStatusQuery) => {
    this.queries.resources.push(q);
    return pageOf(
      this.resources.filter((r) => q.hostId === undefined || r.hostId === q.hostId),
      q,
    );
  };
  /** What listDrift and listExecutions answer (first page; the queries are recorded, not applied). */
  driftRecords: DriftRecord[] = [];
  executionRecords: ExecutionRecord[] = [];
  listDrift = async (q: DriftQuery): Promise<Page<DriftRecord>> => {
    this.queries.drift.push(q);
    return pageOf(this.driftRecords, q);
  };
  listExecutions = async (q: ExecutionQuery): Promise<Page<ExecutionRecord>> => {
    this.queries.executions.push(q);
    return pageOf(this.executionRecords, q);
  };
  listRevisions = async (q: PageOptions) => {
    this.queries.revisions.push(q);
    return pageOf(this.revisions, q);
  };
  targetHealth = () => [];
  routerStats = () => undefined;
  dataSpecs = () => this.specs;
  fleetView = () => this.fleet;

  fetchNow = async () => {
    if (this.head instanceof Error) throw this.head;
    return this.head;
  };
  /** Hosts deleted through the port, in order. */
  readonly deleted: string[] = [];
  deleteHost = async (id: string) => {
    this.deleted.push(id);
    this.hosts.delete(id);
    const rec = this.agentRecords.get(id);
    if (rec) rec.status = 'revoked';
    return { hostId: id, revoked: rec !== undefined };
  };
  forceSync = async (ids?: string[]) => {
    this.synced.push(ids);
    return ids ?? this.hostIds();
  };

  /** Exec tasks started, and the listeners subscribed to each. */
  readonly execRequests: ExecRequest[] = [];
  readonly execListeners = new Map<string, Set<(r: ExecutionRecord) => void>>();
  /** Hosts the next exec task goes to. */
  execHosts: string[] = [];
  /** Hosts the next exec task names as offline (not run). */
  execOffline: string[] = [];
  /** Results delivered to the task's listeners while start() runs, before it returns. */
  execAnswersDuringStart: ExecutionRecord[] = [];
  readonly exec = {
    start: async (req: ExecRequest): Promise<ExecStarted> => {
      this.execRequests.push(req);
      const started = {
        taskId: req.taskId ?? `task-${this.execRequests.length}`,
        hosts: [...this.execHosts],
        offline: [...this.execOffline],
      };
      // A host that answers before start() returns (as a fast agent can).
      for (const rec of this.execAnswersDuringStart) this.emitResult({ ...rec, id: started.taskId });
      return started;
    },
    subscribe: (taskId: string, listener: (r: ExecutionRecord) => void) => {
      const set = this.execListeners.get(taskId) ?? new Set();
      set.add(listener);
      this.execListeners.set(taskId, set);
      return () => set.delete(listener);
    },
  };
  /** Delivers a result to the task's listeners, as the exec service does when an agent reports. */
  emitResult(rec: ExecutionRecord): void {
    for (const l of this.execListeners.get(rec.id) ?? []) l(rec);
  }

  /** Rollouts the routes see; actions here only record what was asked. */
  rolloutViews = new Map<string, RolloutView>();
  rolloutActions: string[] = [];
  readonly rollouts = {
    list: async () => [...this.rolloutViews.values()],
    get: async (name: string) => this.rolloutViews.get(name),
    pause: async (name: string, actor: string) => this.rolloutAct('pause', name, actor),
    resume: async (name: string, actor: string) => this.rolloutAct('resume', name, actor),
    undo: async (name: string, actor: string) => this.rolloutAct('undo', name, actor),
  };
  private rolloutAct(action: string, name: string, actor: string): RolloutView {
    const v = this.rolloutViews.get(name);
    if (!v) throw Object.assign(new Error(`no rollout "${name}"`), { status: 404 });
    this.rolloutActions.push(`${action} ${name} by ${actor}`);
    return v;
  }

  /** Totals the live feed's sampler reads (undefined: no router yet). */
  recordTotals: { in: number; out: number } | undefined;
  /** The clock of the live feed. */
  liveNow = T0;
  /** A real feed over this port's hosts: tests publish into it and read GET /api/v1/events. */
  readonly live = new LiveFeed({
    hostStates: () => [...this.hosts.values()],
    recordTotals: () => this.recordTotals,
    targets: () => [],
    now: () => this.liveNow,
    onListenerError: (err) => this.logger.error('live listener failed', { err: String(err) }),
  });

  agentRecords = new Map<string, AgentRecord>();
  /** What `reset` throws next, if anything. */
  resetError: Error | undefined;
  readonly agents = {
    list: async () => [...this.agentRecords.values()],
    stateOf: (id: string): HostState => (this.sessions.has(id) ? 'Connected' : 'Disconnected'),
    approve: async (id: string) => this.setAgent(id, 'approved'),
    revoke: async (id: string) => this.setAgent(id, 'revoked'),
    reset: async (id: string) => {
      if (this.resetError) throw this.resetError;
      return this.setAgent(id, 'pending');
    },
    verifyCredential: async (id: string, credential: string) => {
      const rec = this.agentRecords.get(id);
      return rec?.status === 'approved' && rec.credentialHash === hashCredential(credential);
    },
  };
  private setAgent(id: string, status: AgentRecord['status']): AgentRecord {
    const rec = this.agentRecords.get(id);
    if (!rec) throw new Error(`test: no agent ${id}`);
    rec.status = status;
    return rec;
  }

  tokenRecords: TokenRecord[] = [];
  readonly tokens = {
    findTokenByHash: async (hash: string) => this.tokenRecords.find((t) => t.hash === hash),
    markTokenUsed: async (name: string, at: string) => {
      const t = this.tokenRecords.find((x) => x.name === name);
      if (t) t.lastUsedAt = at;
    },
    putToken: async (rec: TokenRecord) => {
      this.tokenRecords = [...this.tokenRecords.filter((t) => t.name !== rec.name), rec];
    },
    getToken: async (name: string) => this.tokenRecords.find((t) => t.name === name),
    listTokens: async () => [...this.tokenRecords],
    revokeToken: async (name: string, at: string) => {
      const t = this.tokenRecords.find((x) => x.name === name);
      if (!t) return false;
      t.revokedAt ??= at;
      return true;
    },
  };

  auditRecords: AuditRecord[] = [];
  /** When set, appending an audit record fails with it. */
  auditError: Error | undefined;
  readonly audit = {
    append: async (r: AuditRecord) => {
      if (this.auditError) throw this.auditError;
      this.auditRecords.push(r);
    },
    list: async (q: PageOptions) => pageOf(this.auditRecords, q),
  };
}

export interface ServedApi {
  url: string;
  /** fetch with the given bearer token (none when undefined). */
  call(path: string, init?: { method?: string; token?: string; body?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

/** Serves the API over `port` on 127.0.0.1:0, with a fixed clock and sequential audit ids. */
export async function serveApi(port: ApiPort): Promise<ServedApi> {
  let id = 0;
  const server: Server = createServer(buildApiHandler(port, { now: () => T0, newId: () => `audit-${++id}` }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    call: (path, init = {}) =>
      fetch(`${url}${path}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: {
          ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }),
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body:
          init.body === undefined
            ? undefined
            : typeof init.body === 'string'
              ? init.body
              : JSON.stringify(init.body),
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
