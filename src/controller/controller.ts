/**
 * The controller process: Git source -> spec loader -> reconciler -> fleet hub, with the store, the
 * router, the HTTP API and the timers. It owns the lifecycle; each part does one job.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  Cluster,
  ClusterRollouts,
  guardedStore,
  hostWriteGuard,
  RemoteRolloutView,
  Replica,
} from '../cluster/index.js';
import { FleetHub, type SessionInfo } from '../fleet/index.js';
import { applyProcessOverrides, StoredProcessOverrides } from '../gse-task/overrides.js';
import { GseWriter, type RevisionOutcome } from '../gse-write/writer.js';
import { checkCallbackUrl, Notifier } from '../notify/notifier.js';
import type { Outcome } from '../notify/outcome.js';
import { TaskCallbacks } from '../notify/task-callbacks.js';
import type { PostFn } from '../notify/worker.js';
import type { HostFacts } from '../protocol/manifest.js';
import type { DataMessage, EventMessage, ExecMessage, SpooledMessage } from '../protocol/messages.js';
import type { RouterStats } from '../routing/router.js';
import { createSecretResolver } from '../routing/secrets.js';
import { GitSource } from '../source/git-source.js';
import type { SourceRevision } from '../source/revision.js';
import type { Revision } from '../spec/types.js';
import { openStore } from '../store/index.js';
import type { RolloutRecord } from '../store/rollout-record.js';
import type { Store } from '../store/types.js';
import { rolloutApi } from './api-port-rollouts.js';
import { DataPath } from './data-path.js';
import { DryRuns } from './dry-runs.js';
import { ExecService } from './exec-service.js';
import { type HostRemoval, hostsPastRetention, removeHost } from './host-removal.js';
import { LiveFeed, SAMPLE_INTERVAL_MS } from './live-feed.js';
import type { Logger } from './logger.js';
import { LostRemediation, type Outcomes, type SweptHost } from './lost-remediation.js';
import { ControllerMetrics, type MetricsView } from './metrics.js';
import {
  driftOutcomes,
  executionOutcome,
  remediationOutcome,
  revisionRejectedOutcome,
  rolloutPausedOutcome,
} from './notify-hooks.js';
import { type CompiledControllerOptions, ControllerOptionsError } from './options.js';
import { ProcessHolds } from './process-holds.js';
import { Reconciler } from './reconciler.js';
import { RevisionIngestor } from './revisions.js';
import { RolloutManager } from './rollouts.js';
import { selectorMatches } from './select.js';

export type ControllerLifecycle = 'starting' | 'running' | 'draining' | 'stopped' | 'failed';

export const RETENTION_INTERVAL_MS = 10 * 60_000;
/**
 * Pending connections the kernel queues for accept (it caps this at net.core.somaxconn, 4096 on current
 * kernels). Node's default is 511: in a reconnect storm the kernel drops the SYNs past it and each of those
 * agents waits out a SYN retransmit (1 s, then 3 s). Measured, 10,000 bare ws clients in 5 processes: all
 * connected in 7.4 s at 511, 4.3 s at 4096 (bench reconnect-storm's floor).
 */
export const LISTEN_BACKLOG = 4096;

/** The HTTP side, built by the API module from the controller (kept apart so this file has no routes). */
export type RequestHandlerFactory = (
  controller: Controller,
) => (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;

export interface ControllerDeps {
  logger: Logger;
  /** Builds the HTTP request handler (the API and dashboard). */
  api: RequestHandlerFactory;
  now?: () => number;
  /**
   * The store; default: `openStore` on the state dir (SQLite) or `--redis-url`. Tests pass an in-memory
   * one. The controller owns it either way: `stop()` closes it.
   */
  store?: Store;
  /** Builds the fleet hub on the controller's server; default `FleetHub.create`. */
  createHub?: typeof FleetHub.create;
  /** Builds the Git source; default `GitSource.create`. */
  createSource?: typeof GitSource.create;
  /** Sends notification POSTs; default Node's fetch. */
  notifyPost?: PostFn;
  /** Retry delays of notifications; default 1 s doubling to 5 min. */
  notifyBackoff?: import('../kernel/backoff.js').BackoffPolicy;
  /** Where controller-decided remediation outcomes go besides the store (callbacks); default nowhere. */
  outcomes?: Outcomes;
}

export class ControllerStateError extends Error {
  readonly code = 'bad_transition';
  constructor(
    readonly state: ControllerLifecycle,
    wanted: string,
  ) {
    super(`cannot ${wanted} a controller that is ${state}`);
    this.name = 'ControllerStateError';
  }
}

/** Reads a TLS file, naming the flag when it cannot (a missing key must not surface as a stack trace). */
async function readTlsFile(flag: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new ControllerOptionsError(flag, `cannot read ${file}: ${(err as Error).message}`);
  }
}

/** An HTTPS server when the options carry a certificate, else plain HTTP; the API and the hub share it. */
async function createListener(options: CompiledControllerOptions): Promise<Server | HttpsServer> {
  if (!options.tls) return createServer();
  const [cert, key] = await Promise.all([
    readTlsFile('--tls-cert', options.tls.certFile),
    readTlsFile('--tls-key', options.tls.keyFile),
  ]);
  try {
    return createHttpsServer({ cert, key, minVersion: 'TLSv1.2' });
  } catch (err) {
    throw new ControllerOptionsError(
      '--tls-cert',
      `${options.tls.certFile} / ${options.tls.keyFile}: not a usable PEM certificate and matching key: ${(err as Error).message}`,
    );
  }
}

export class Controller {
  private state: ControllerLifecycle = 'starting';
  private revisionQueue: Promise<void> = Promise.resolve();
  private readonly timers: NodeJS.Timeout[] = [];
  readonly metrics: ControllerMetrics;
  /** Changes as they happen, for the dashboard's event stream (GET /api/v1/events). */
  readonly live: LiveFeed;
  readonly reconciler: Reconciler;
  /** AgentVersion rollouts (persisted in the store; resumed at start). */
  readonly rollouts: RolloutManager;
  readonly exec: ExecService;
  readonly ingestor: RevisionIngestor;
  readonly data: DataPath;
  /** agent.lost / agent.start and the agent.lost Remediations, driven by the heartbeat sweep. */
  readonly lost: LostRemediation;
  /** `gsectl sync --dry-run`: dry runs sent to agents, waiting for their answers. */
  readonly dryRuns: DryRuns;
  /** With --redis: this controller as one replica of a cluster (leader or follower); else undefined. */
  readonly replica: Replica | undefined;
  hub!: FleetHub;
  source!: GitSource;
  /** Signed outcome notifications (Notification kind) and their on-disk queue. */
  notifier!: Notifier;
  /** Exec tasks waiting to post their one result callback. */
  taskCallbacks!: TaskCallbacks;
  /** Desired state set by GSE process operations (stop, delegate, undelegate), laid over every plan. */
  /** GSE process operations' desired state: Git's ProcessOverrides over the store's (process-holds.ts). */
  overrides: ProcessHolds | undefined;
  /** GSE data-route writes as commits (--gse-write-back); undefined when off. */
  gseWriter: GseWriter | undefined;
  private readonly revisionListeners = new Set<(outcome: RevisionOutcome) => void>();
  readonly startedAt: string;
  /** Builds the Git source (again, after a deposed replica closed it). */
  private openSource!: () => Promise<GitSource>;

  private constructor(
    readonly options: CompiledControllerOptions,
    readonly store: Store,
    readonly server: Server | HttpsServer,
    private readonly deps: ControllerDeps & { now: () => number },
    cluster?: Cluster,
  ) {
    this.startedAt = new Date(deps.now()).toISOString();
    this.metrics = new ControllerMetrics(() => this.metricsView());
    this.live = new LiveFeed({
      hostStates: () => this.reconciler.hostStates(),
      recordTotals: () => recordTotals(this.data.current?.stats()),
      targets: () =>
        (this.data.current?.health() ?? []).map((t) => ({
          name: t.name,
          state: t.state,
          connected: t.connected,
          spoolDepth: t.spoolDepth,
        })),
      now: deps.now,
      onListenerError: (err) => deps.logger.error('live event listener failed', { error: String(err) }),
    });
    const hubPort = { send: (id: string, msg: Parameters<FleetHub['send']>[1]) => this.hub.send(id, msg) };
    // In a cluster, host writes are the holding replica's and leader-only state is fenced (src/cluster).
    const partsStore = cluster
      ? guardedStore(store, {
          mayWrite: hostWriteGuard(cluster.directory, (id) => this.hub.session(id) !== undefined),
          putHostStates: (writes) => cluster.writeHostStates(writes),
          fenced: cluster.fenced,
          prefix: cluster.keys.prefix,
        })
      : store;
    const rolloutDeps = {
      store: partsStore,
      now: deps.now,
      onPaused: (r: RolloutRecord) => this.notify(rolloutPausedOutcome(r)),
      onSaved: (r: RolloutRecord) => this.live.rollout(r),
    };
    // In a cluster the rollouts see every replica's hosts: those held elsewhere as their holder stored them.
    const rolloutView = cluster ? new RemoteRolloutView({ store, directory: cluster.directory }) : undefined;
    this.rollouts =
      cluster && rolloutView
        ? new ClusterRollouts(
            rolloutDeps,
            () => cluster.lease.isLeader(),
            (names) =>
              rolloutView.refresh(names).catch((err: unknown) => {
                deps.logger.warn('remote hosts not read before starting rollouts', { error: String(err) });
              }),
          )
        : new RolloutManager(rolloutDeps);
    this.reconciler = new Reconciler({
      store: partsStore,
      hub: hubPort,
      metrics: this.metrics,
      logger: deps.logger,
      now: deps.now,
      newId: randomUUID,
      rollouts: this.rollouts,
      onDrift: async (records) => {
        this.live.drift(records);
        for (const o of driftOutcomes(records)) await this.notify(o);
      },
      onHostsWritten: (writes) => this.live.hostsWritten(writes),
      // ProcessOverride holds (Git) and GSE process operations' stored ones, opened in create().
      overrideDesired: (m) => applyProcessOverrides(m, this.overrides?.forHost(m.hostId) ?? []),
      ...(rolloutView && {
        remoteRolloutHosts: rolloutView,
        onRolloutHostChanged: () => this.replica?.rolloutHostChanged(),
      }),
    });
    this.exec = new ExecService({
      store,
      hub: {
        send: (id, msg) =>
          msg.type === 'exec' && this.replica ? this.replica.execSend(id, msg) : this.hub.send(id, msg),
      },
      connectedHosts: () => this.replica?.execHosts() ?? this.connectedHosts(),
      manifestOf: (id) => this.reconciler.desiredFor(id),
      logger: deps.logger,
      metrics: this.metrics,
      now: deps.now,
      newId: randomUUID,
      hooks: {
        checkCallback: (url) => {
          checkCallbackUrl(url);
          this.notifier.checkCallbacksEnabled();
        },
        started: (task) => this.taskCallbacks.track(task),
        recorded: async (rec) => {
          if (rec.durationMs !== undefined)
            this.metrics.execSeconds.observe(
              { reason: rec.reason.split(':')[0] ?? rec.reason, result: rec.status },
              rec.durationMs / 1000,
            );
          this.live.execution(rec);
          await this.notify(executionOutcome(rec));
          const decided = remediationOutcome(rec);
          if (decided) await this.notify(decided);
          await this.taskCallbacks.result(rec);
          await this.replica?.cluster.publishResult(rec.id, rec.hostId);
        },
      },
    });
    this.dryRuns = new DryRuns({ send: (id, msg) => this.hub.send(id, msg) });
    this.ingestor = new RevisionIngestor({
      store,
      now: deps.now,
      requireSignature: options.verifySignatures,
      secrets: { env: options.secretEnv, dir: options.secretDir },
      limits: { maxSpecFileBytes: options.maxSpecFileBytes, maxRevisionBytes: options.maxRevisionBytes },
    });
    this.lost = new LostRemediation({
      store: partsStore,
      exec: this.exec,
      hosts: () => this.sweptHosts(),
      revision: () => this.reconciler.current,
      runnerOf: async (name) =>
        this.hub
          .sessions()
          .find((s) => s.status === 'Connected' && (s.agentId === name || s.facts.name === name))?.agentId ??
        (await this.replica?.remoteHostNamed(name)),
      routeEvent: (host, event) =>
        this.data.ingest(
          { v: 1, type: 'event', id: randomUUID(), event },
          { id: host.hostId, name: host.name, ip: host.ips[0] ?? '', cloudId: host.cloudId },
        ),
      outcomes: deps.outcomes ?? {
        remediation: async (rec) => {
          const o = remediationOutcome(rec);
          if (o) await this.notify(o);
        },
        webhook: (url, body) => this.notifier.webhook(url, { type: 'remediation.webhook', ...body }),
      },
      logger: deps.logger,
      now: deps.now,
      startedAt: deps.now(),
    });
    this.data = new DataPath({
      stateDir: options.stateDir,
      logger: deps.logger,
      labelsOf: (id) => this.reconciler.selectableFor(id)?.labels ?? {},
      agentLabelsOf: (id) =>
        this.reconciler.selectableFor(id)?.agentLabels ?? this.hub?.session(id)?.facts.labels ?? {},
      secrets: { env: options.secretEnv, dir: options.secretDir },
    });
    this.replica =
      cluster && rolloutView ? new Replica(cluster, this.replicaParts(store, rolloutView)) : undefined;
  }

  /** Opens the store, the hub (on the API's HTTP server) and the Git source; call `start` to listen. */
  static async create(options: CompiledControllerOptions, deps: ControllerDeps): Promise<Controller> {
    await mkdir(options.stateDir, { recursive: true, mode: 0o700 });
    const store = deps.store ?? (await openStore({ stateDir: options.stateDir, redisUrl: options.redisUrl }));
    const server = await createListener(options);
    const now = deps.now ?? Date.now;
    const cluster = options.redisUrl
      ? await Cluster.open(
          { redisUrl: options.redisUrl, replicaId: options.replicaId, leaseMs: options.leaseMs },
          deps.logger,
          now,
        )
      : undefined;
    const controller = new Controller(options, store, server, { ...deps, now }, cluster);
    const logger = deps.logger;
    controller.notifier = await Notifier.open({
      dir: join(options.stateDir, 'notify', 'queue'),
      resolveSecret: createSecretResolver({
        env: process.env,
        policy: { env: options.secretEnv, dir: options.secretDir },
      }),
      callbackSecret: options.callbackSecret,
      hostMatches: (selector, hostId) => {
        const host = controller.reconciler.selectableFor(hostId);
        return host !== undefined && selectorMatches(selector, host);
      },
      now: controller.deps.now,
      newId: randomUUID,
      logger,
      maxQueued: options.notifyMaxQueued,
      backoff: deps.notifyBackoff,
      post: deps.notifyPost,
    });
    controller.overrides = new ProcessHolds({
      store: await StoredProcessOverrides.open(store, () => controller.reconciler.replanAll()),
      revision: () => controller.reconciler.current,
      writer: () => controller.gseWriter,
    });
    controller.taskCallbacks = await TaskCallbacks.open({
      dir: join(options.stateDir, 'notify', 'tasks'),
      send: (url, body) => controller.notifier.taskResult(url, body),
      getExecution: (taskId, hostId) => store.getExecution(taskId, hostId),
      now: controller.deps.now,
      logger,
    });
    server.on('request', deps.api(controller));
    const createHub = deps.createHub ?? FleetHub.create.bind(FleetHub);
    const createSource = deps.createSource ?? GitSource.create.bind(GitSource);
    controller.hub = await createHub(
      server,
      {
        bootstrapToken: options.bootstrapToken,
        autoApprove: options.autoApprove,
        heartbeatMs: options.heartbeatMs,
        maxHandshakes: options.maxHandshakes,
        helloTimeoutMs: options.helloTimeoutMs,
        ...(options.admissionRate === undefined ? {} : { admissionRate: options.admissionRate }),
      },
      {
        registry: store,
        logger: deps.logger,
        handlers: {
          onConnect: (s, ready) => controller.onConnect(s, ready),
          onDisconnect: async (id) => {
            // Released first, so the host's record may be written (nobody holds it) unless it moved on.
            await controller.replica?.cluster.directory.release(id).catch((err: unknown) => {
              logger.warn('session not released in the directory; it expires', {
                hostId: id,
                error: String(err),
              });
            });
            await controller.reconciler.hostDisconnected(id);
            await controller.taskCallbacks.hostDisconnected(id);
          },
          onMessage: (id, msg) => controller.onMessage(id, msg),
        },
      },
    );
    controller.openSource = () =>
      createSource(
        {
          repo: options.repo,
          branch: options.branch,
          path: options.path,
          stateDir: join(options.stateDir, 'source'),
          intervalMs: options.fetchIntervalMs,
          verifySignatures: options.verifySignatures,
          watchLocal: options.watchLocal,
          gnupgHome: options.gnupgHome,
          sshAllowedSignersFile: options.sshAllowedSignersFile,
        },
        // Signatures are checked for every commit since the applied revision, which survives restarts.
        { logger: deps.logger, trustedBase: () => store.getAppliedRevision() },
      );
    controller.source = await controller.openSource();
    if (options.gseWriteBack)
      controller.gseWriter = await GseWriter.create(
        {
          remoteUrl: options.gseWriteRepo ?? options.repo,
          branch: options.branch,
          specPath: options.path,
          workDir: join(options.stateDir, 'gse-write', 'repo'),
          secrets: { env: options.secretEnv, dir: options.secretDir },
          limits: { maxSpecFileBytes: options.maxSpecFileBytes, maxRevisionBytes: options.maxRevisionBytes },
        },
        {
          fetchNow: () => controller.fetchNow(),
          onRevision: (listener) => controller.onRevisionOutcome(listener),
          appliedRevision: () => controller.reconciler.current?.id,
          logger: deps.logger,
        },
      );
    return controller;
  }

  /** Listens, restores hosts from the store, and starts following Git. */
  async start(): Promise<AddressInfo> {
    if (this.state !== 'starting') throw new ControllerStateError(this.state, 'start');
    try {
      await this.rollouts.load();
      await this.reconciler.restore();
      // A follower serves the leader's revision from the start.
      await this.replica?.follow();
      await this.revisionQueue;
      this.notifier.start();
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(
          { port: this.options.port, host: this.options.host, backlog: LISTEN_BACKLOG },
          () => resolve(),
        );
      });
      this.followSource();
      // In a cluster only the leader follows Git: the source starts when this replica is elected.
      if (this.replica) await this.replica.cluster.start(this.replica.hooks());
      else await this.source.start();
      this.every(this.options.resyncIntervalMs, async () => {
        await this.reconciler.setSilent(this.hub.silentAgentIds());
        await this.replica?.checkPublished();
        if (!this.replica || this.replica.leads()) {
          await this.replica?.refreshRemoteView(this.reconciler.hostsLastSeen().map((h) => h.hostId));
          await this.lost.sweep().catch((err: unknown) => {
            this.deps.logger.error('lost-host sweep failed', { error: String(err) });
          });
        }
        // The safety net under the followers' hints: the resync's rollout step sees what they stored.
        await this.replica?.refreshRolloutView().catch((err: unknown) => {
          this.deps.logger.warn('remote hosts not read for the rollouts', { error: String(err) });
        });
        await this.reconciler.resync();
      });
      this.every(RETENTION_INTERVAL_MS, () => this.applyRetention());
      this.every(SAMPLE_INTERVAL_MS, async () => this.live.sample());
      const hostRetentionMs = this.options.hostRetentionMs;
      if (hostRetentionMs !== undefined)
        this.every(this.options.resyncIntervalMs, () => this.dropSilentHosts(hostRetentionMs));
      this.state = 'running';
      return this.server.address() as AddressInfo;
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
  }

  /** Hands the source's revisions and errors to this controller. */
  private followSource(): void {
    this.source.onRevision((rev) => this.enqueueRevision(rev));
    this.source.onError((err) => {
      this.deps.logger.warn('git fetch failed', { error: err.message });
    });
  }

  /** Stops following Git, closes agent sessions and the API, and waits for in-flight work. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'draining';
    for (const t of this.timers) clearInterval(t);
    // No new election (which would start the source) from here on; another replica may lead at once.
    await this.replica?.cluster.lease.stop();
    await this.source.close();
    await this.revisionQueue;
    // Before the hub closes every session: a shutdown is not every host going offline.
    this.taskCallbacks.stop();
    this.dryRuns.close();
    await this.hub.close();
    // After the hub: its sessions' directory entries are released as they close.
    await this.replica?.stop();
    // Host states still queued (the disconnects of the sessions just closed) go in while the cluster's
    // connections, which write them in a cluster, are open.
    await this.reconciler.stored();
    await this.replica?.cluster.stop();
    await this.data.close();
    await this.notifier.stop();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await this.reconciler.stored();
    await this.store.close();
    this.state = 'stopped';
  }

  /** The controller's logger. */
  get logger(): Logger {
    return this.deps.logger;
  }

  /** The lifecycle state. */
  get lifecycle(): ControllerLifecycle {
    return this.state;
  }

  private metricsView(): MetricsView {
    const bySyncState: Record<string, number> = {
      Synced: 0,
      OutOfSync: 0,
      Progressing: 0,
      Failed: 0,
      Unknown: 0,
    };
    for (const h of this.reconciler.hostStates())
      bySyncState[h.syncState] = (bySyncState[h.syncState] ?? 0) + 1;
    const git = this.source?.stats() ?? { fetches: 0, fetchErrors: 0, lastFetchMs: null };
    const router = this.data.current;
    const stats = router?.stats();
    const depth = new Map((router?.health() ?? []).map((t) => [t.name, t.spoolDepth]));
    const targets: MetricsView['targets'] = {};
    for (const [name, t] of Object.entries(stats?.targets ?? {}))
      targets[name] = { ...t, spoolDepth: depth.get(name) ?? 0 };
    return {
      hostsBySyncState: bySyncState,
      agentConnections: this.hub?.connectedCount ?? 0,
      git: { fetches: git.fetches, fetchErrors: git.fetchErrors, lastFetchMs: git.lastFetchMs },
      routes: stats?.routes ?? {},
      targets,
      ...(this.notifier ? { notify: this.notifier.stats() } : {}),
      ...(this.replica ? { cluster: { hostWritesRefused: this.replica.cluster.hostWritesRefused } } : {}),
    };
  }

  /** Connected hosts with the labels their manifests carry (HostGroups included). */
  connectedHosts(): HostFacts[] {
    return this.hub.sessions().map((s) => {
      const facts = factsOf(s);
      return { ...facts, labels: this.reconciler.desiredFor(s.agentId)?.labels ?? facts.labels };
    });
  }

  /** Every known host with whether its heartbeat is overdue (no session, or a silent one). */
  private sweptHosts(): SweptHost[] {
    return this.reconciler.hostsLastSeen().map((h) => {
      const session = this.hub.session(h.hostId);
      const host = this.reconciler.selectableFor(h.hostId);
      const lastSeen = session?.lastSeen ?? h.lastSeen;
      return {
        hostId: h.hostId,
        overdue: session ? session.status === 'Unknown' : !this.replica?.heldElsewhere(h.hostId),
        lastSeenMs: Date.parse(lastSeen),
        name: host?.name ?? h.hostId,
        ips: host?.ips ?? [],
        cloudId: host?.cloudId ?? 0,
        labels: this.reconciler.desiredFor(h.hostId)?.labels ?? host?.agentLabels ?? {},
      };
    });
  }

  /** Processes revisions one at a time, in the order the source yields them. */
  enqueueRevision(src: SourceRevision): Promise<void> {
    return this.enqueue(src.sha, () => this.onRevision(src));
  }

  private enqueue(sha: string, work: () => Promise<void>): Promise<void> {
    this.revisionQueue = this.revisionQueue.then(work).catch((err: unknown) => {
      this.deps.logger.error('revision processing failed', { sha, error: String(err) });
    });
    return this.revisionQueue;
  }

  private async onRevision(src: SourceRevision): Promise<void> {
    if (this.replica && !this.replica.leads()) {
      this.deps.logger.info('revision left to the leader', { sha: src.sha });
      return;
    }
    const result = await this.ingestor.ingest(src);
    this.metrics.revisions.inc({ status: result.record.status });
    if (!result.accepted) {
      this.deps.logger.warn('revision rejected; the last good revision stays in force', {
        sha: src.sha,
        errors: result.record.errors.length,
      });
      this.live.revision(result.record);
      await this.notify(revisionRejectedOutcome(result.record));
      this.emitRevision({
        sha: src.sha,
        accepted: false,
        reason: result.record.errors[0]?.message ?? 'rejected',
      });
      return;
    }
    this.deps.logger.info('revision accepted', { sha: src.sha, message: result.record.message });
    // Published first, fenced: a stale leader's revision is refused and goes nowhere, not even here.
    if (this.replica) await this.replica.cluster.publishRevision(result.revision);
    // The convergence clock starts before the apply; whether it converged is checked once hosts were re-planned.
    const applyStarted = this.deps.now();
    await this.applyRevision(result.revision);
    this.live.revision(result.record, applyStarted);
  }

  /** Reconciles to an accepted revision (this replica's own, or one the leader published). */
  private async applyRevision(revision: Revision): Promise<void> {
    this.notifier.setNotifications(revision.byKind.Notification);
    await this.reconciler.setRevision(revision);
    this.emitRevision({ sha: revision.id, accepted: true });
    // Not awaited: a target slow to connect must not hold back the hosts (ingest waits for it instead),
    // and one that cannot be opened (a secret not set here, say) is logged, its records left spooled.
    this.data.apply(revision).catch((err: unknown) => {
      this.deps.logger.error('routes not applied; records stay spooled on the agents', {
        sha: revision.id,
        error: String(err),
      });
    });
  }

  private async onConnect(session: SessionInfo, ready?: () => void): Promise<void> {
    // A claim that Redis cannot take now is made by the next refresh (the host is held here already).
    await this.replica?.cluster.directory.claim(session.agentId).catch((err: unknown) => {
      this.deps.logger.warn('session not recorded in the directory yet', {
        hostId: session.agentId,
        error: String(err),
      });
    });
    await this.reconciler.hostConnected(factsOf(session), session.manifestHash, ready);
  }

  private async onMessage(agentId: string, msg: SpooledMessage): Promise<void> {
    this.reconciler.touch(agentId);
    switch (msg.type) {
      case 'report':
        // A dry run's answer says what an apply would do: it goes to whoever asked, never into host state.
        if (msg.dryRunOf !== undefined) {
          this.dryRuns.answer(agentId, msg);
          return;
        }
        return this.reconciler.hostReported(agentId, msg);
      case 'execResult':
        // Refused and duplicate results are acked too (re-sending cannot change the answer).
        await this.exec.recordResult(agentId, msg);
        return;
      case 'event':
      case 'data':
        return this.routeData(agentId, msg);
    }
  }

  /** Data and events go to the router; until it holds them durably they are not acked (the agent keeps them). */
  private async routeData(agentId: string, msg: DataMessage | EventMessage): Promise<void> {
    const facts = this.hub.session(agentId)?.facts;
    const host = {
      id: agentId,
      name: facts?.name ?? agentId,
      ip: facts?.ips[0] ?? '',
      cloudId: facts?.cloudId ?? 0,
    };
    await this.data.ingest(msg, host);
  }

  /** Hands an outcome to the notifier; a failure to queue it is logged, never fails the caller's work. */
  private async notify(o: Outcome): Promise<void> {
    try {
      await this.notifier.outcome(o);
    } catch (err) {
      this.deps.logger.error('notification not queued', { type: o.type, host: o.host, error: String(err) });
    }
  }

  /**
   * Deletes a host (`DELETE /api/v1/hosts/:id`): revokes its agent's credential, closing a live session,
   * and drops it from the fleet views; its drift and executions stay.
   */
  deleteHost(hostId: string): Promise<HostRemoval> {
    return removeHost(
      { revoke: (id) => this.revokeAgent(id), forgetHost: (id) => this.reconciler.forgetHost(id) },
      hostId,
    );
  }

  /** A manual sync (`POST /api/v1/sync`): this replica's hosts, and in a cluster every other replica's. */
  forceSync(hostIds?: string[]): Promise<string[]> {
    return this.replica?.forceSync(hostIds) ?? this.reconciler.forceSync(hostIds);
  }

  /** Revokes an agent; in a cluster its session is closed on whichever replica holds it. */
  /** Hears each revision this controller applies or rejects (GSE write-back waits on it); returns unsubscribe. */
  onRevisionOutcome(listener: (outcome: RevisionOutcome) => void): () => void {
    this.revisionListeners.add(listener);
    return () => this.revisionListeners.delete(listener);
  }

  private emitRevision(outcome: RevisionOutcome): void {
    for (const listener of [...this.revisionListeners]) listener(outcome);
  }

  revokeAgent(agentId: string): ReturnType<FleetHub['revoke']> {
    return this.replica?.closeAgent(agentId, 'revoke') ?? this.hub.revoke(agentId);
  }

  /** Resets an agent's credential; in a cluster its session is closed on whichever replica holds it. */
  resetAgent(agentId: string): ReturnType<FleetHub['reset']> {
    return this.replica?.closeAgent(agentId, 'reset') ?? this.hub.reset(agentId);
  }

  /** Fetches Git now (webhooks); in a cluster the leader does. */
  async fetchNow(): Promise<SourceRevision | undefined> {
    if (!this.replica) return this.source.fetchNow();
    await this.replica.fetchNow();
    return undefined;
  }

  /** What the cluster needs of this controller. */
  private replicaParts(
    store: Store,
    rolloutView: RemoteRolloutView,
  ): import('../cluster/index.js').ReplicaParts {
    return {
      store,
      rolloutView,
      stepRollouts: () => this.reconciler.stepRollouts(),
      hub: {
        send: (id: string, msg: ExecMessage) => this.hub.send(id, msg),
        revoke: (id) => this.hub.revoke(id),
        reset: (id) => this.hub.reset(id),
      },
      rollouts: this.rollouts as ClusterRollouts,
      logger: this.deps.logger,
      localHosts: () => this.connectedHosts(),
      currentRevisionId: () => this.reconciler.current?.id,
      applyRevision: (revision) =>
        this.enqueue(revision.id, async () => {
          const applyStarted = this.deps.now();
          await this.applyRevision(revision);
          // The leader stored the record before it published the revision; the page here hears it too.
          const record = await store.getRevision(revision.id);
          if (record) this.live.revision(record, applyStarted);
        }),
      startLeading: async () => {
        if (this.source.getState() === 'closed' && this.state === 'running') {
          // Deposed before: a new source on the same clone (it yields the head once more).
          this.source = await this.openSource();
          this.followSource();
        }
        if (this.source.getState() === 'created') await this.source.start();
        else if (this.source.revision) await this.enqueueRevision(this.source.revision);
      },
      forceSyncLocal: (ids) => this.reconciler.forceSync(ids),
      rolloutLocal: (action, name, actor) => rolloutApi(this.rollouts, this.reconciler)[action](name, actor),
      // Claimed again by the refresh that found them swept; the leader may have stored them offline
      // meanwhile, so their state is written again, all in one pass (in the background of the refresh).
      sessionsReclaimed: (ids) => this.reconciler.rewriteHosts(ids.filter((id) => this.hub.session(id))),
      fetchLocal: () => this.source.fetchNow(),
      // Only the leader follows Git: a deposed one stops fetching until it is elected again.
      stopLeading: () => this.source.close(),
      deliverResult: async (rec) => {
        this.exec.deliver(rec);
        await this.taskCallbacks.result(rec);
      },
    };
  }

  /** Drops hosts not seen for `retentionMs` from the fleet views (not revoked: an agent that returns is back). */
  private async dropSilentHosts(retentionMs: number): Promise<void> {
    const silent = hostsPastRetention(this.reconciler.hostsLastSeen(), this.deps.now(), retentionMs);
    for (const hostId of silent) {
      if (this.hub.session(hostId)) continue;
      await this.reconciler.forgetHost(hostId);
      this.deps.logger.info('host dropped after retention', { hostId, retentionMs });
    }
  }

  private async applyRetention(): Promise<void> {
    const rule = { maxCount: this.options.retentionMaxCount, maxAgeMs: this.options.retentionMaxAgeMs };
    await this.store.applyRetention({ executions: rule, drift: rule }, new Date(this.deps.now()));
  }

  private every(ms: number, fn: () => Promise<void>): void {
    let running = false;
    const t = setInterval(() => {
      if (running) return;
      running = true;
      fn()
        .catch((err: unknown) => this.deps.logger.error('periodic task failed', { error: String(err) }))
        .finally(() => {
          running = false;
        });
    }, ms);
    t.unref();
    this.timers.push(t);
  }
}

/** Host facts from a session's hello. */
export function factsOf(s: SessionInfo): HostFacts {
  return {
    id: s.agentId,
    name: s.facts.name,
    ips: s.facts.ips,
    cloudId: s.facts.cloudId,
    os: s.facts.os,
    agentVersion: s.facts.agentVersion,
    labels: s.facts.labels,
    facts: s.facts.facts,
  };
}

/** Records into and out of the router so far (every route's channel in, every target's deliveries out). */
function recordTotals(stats: RouterStats | undefined): { in: number; out: number } | undefined {
  if (!stats) return undefined;
  let recordsIn = 0;
  let recordsOut = 0;
  for (const r of Object.values(stats.routes)) recordsIn += r.in;
  for (const t of Object.values(stats.targets)) recordsOut += t.out;
  return { in: recordsIn, out: recordsOut };
}
