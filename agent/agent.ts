/**
 * One agent: the session with the controller composed with the local engine. The parts each do one job:
 * `handshake.ts` (hello, credential, refusals), `manifest-state.ts` (the held manifest: apply, drift
 * reactions, reports), `exec-tasks.ts` (scripts once per task id), `outbox.ts` (everything owed the
 * controller, spooled in a control and a data lane until acked), `control-priority.ts` (control work before
 * data work); the engine converges, watches drift and processes, and remediation reacts to events.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ERROR_CODES } from '../src/protocol/codes.js';
import type { HostManifest, ManifestProcessWatch } from '../src/protocol/manifest.js';
import type {
  AgentFacts,
  ControllerToAgent,
  DataRecord,
  HostEvent,
  SpooledMessage,
  WelcomeMessage,
} from '../src/protocol/messages.js';
import { AgentConnection } from './connection.js';
import { ControlPriority } from './control-priority.js';
import {
  agentStartEvent,
  type Clock,
  type ConvergeDeps,
  DriftWatcher,
  errorText,
  HostCheckMonitor,
  hostChecks,
  hostDetectIo,
  type Logger,
  OwedOnChanges,
  OwnershipLedger,
  openPrivateStateDir,
  ProcessMonitor,
  type ProcScanner,
  probeWatches,
  putFile,
  runScript,
  type SharedFileWatcher,
  TaskLedger,
} from './engine/index.js';
import { ExecTasks } from './exec-tasks.js';
import { Handshake } from './handshake.js';
import { readIdentity } from './identity.js';
import { IngestServer, ingestSocketPath } from './ingest.js';
import { withRecordHosts } from './ingest-record.js';
import { ManifestFiles } from './manifest-files.js';
import { configFiles, ManifestState } from './manifest-state.js';
import { Outbox } from './outbox.js';
import { RemediationRunner } from './remediation.js';
import { RemediationBudgets } from './remediation-budgets.js';
import { launcherlessUpgrader, type Upgrader, type UpgraderFactory } from './upgrade/upgrader.js';

export interface AgentConfig {
  /** The controller's agent URL (artifact downloads resolve against it). */
  controllerUrl: string;
  /** Every controller URL to connect to, in turn (`--controller URL1,URL2`); default [controllerUrl]. */
  controllerUrls?: readonly string[];
  /** PEM of the CA pinned for a wss:// controller (`--ca`). */
  ca?: string | Buffer;
  /** The bootstrap token, for enrollment (and re-enrollment after the state dir is lost). */
  bootstrapToken?: string;
  /** Agent id on first enrollment; later the id in the state dir wins. Default: the host name. */
  agentId?: string;
  stateDir: string;
  /** `--root`: prefix of every managed path; '' is the real `/`. */
  root: string;
  facts: AgentFacts;
  /** Local data intake on `<stateDir>/ingest.sock`, plus HTTP on 127.0.0.1 when `httpPort` is set; `false`: off. */
  ingest?: { httpPort?: number } | false;
}

/** Parts many agents in one process share (simulate): one file watcher, one /proc scanner. */
export interface AgentShared {
  files: SharedFileWatcher;
  scanner: ProcScanner;
}

export interface AgentDeps {
  clock: Clock;
  logger: Logger;
  shared: AgentShared;
  sleep(ms: number): Promise<void>;
  random(): number;
  /** Variables added to the minimal environment scripts run with (default none; never process.env). */
  baseEnv?: Record<string, string>;
  /** The agent's upgrader (agent/upgrade/upgrader.ts); default: one that says it has no launcher. */
  upgrader?: UpgraderFactory;
  /** Called when the controller refused the agent for good (revoked, bad bootstrap token). */
  onFatal?(reason: string): void;
}

export type AgentLifecycle = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

/** Wait before re-sending a message the controller failed to store. */
const HANDLER_RETRY_DELAY_MS = 2_000;

/** The parts `Agent.create` opens from the state dir. */
interface AgentParts {
  handshake: Handshake;
  files: ManifestFiles;
  held: HostManifest | undefined;
  outbox: Outbox;
  ledger: TaskLedger;
  ownership: OwnershipLedger;
  owed: OwedOnChanges;
  priority: ControlPriority;
  budgets: RemediationBudgets;
}

export class Agent {
  private heartbeat: NodeJS.Timeout | undefined;
  private applyQueue: Promise<void> = Promise.resolve();
  private state: AgentLifecycle = 'starting';
  private readonly handshake: Handshake;
  private readonly files: ManifestFiles;
  private readonly manifests: ManifestState;
  private readonly tasks: ExecTasks;
  private readonly outbox: Outbox;
  private readonly ledger: TaskLedger;
  private readonly ownership: OwnershipLedger;
  private readonly owed: OwedOnChanges;
  private readonly priority: ControlPriority;
  private readonly connection: AgentConnection;
  private readonly drift: DriftWatcher;
  private readonly procs: ProcessMonitor;
  private readonly checks: HostCheckMonitor;
  private readonly remediation: RemediationRunner;
  private ingest: IngestServer | undefined;
  private readonly upgrader: Upgrader;
  /** Directories of managed files swept of a dead run's temp files (once each per process). */
  private readonly tempsSwept = new Set<string>();
  /** Reports this process spooled while the upgrader waits for one to be acked (health). */
  private readonly reportIds = new Set<string>();

  private constructor(
    private readonly config: AgentConfig,
    private readonly deps: AgentDeps,
    parts: AgentParts,
  ) {
    ({
      handshake: this.handshake,
      files: this.files,
      outbox: this.outbox,
      ledger: this.ledger,
      ownership: this.ownership,
      owed: this.owed,
      priority: this.priority,
    } = parts);
    this.priority.onChange(() => {
      this.ingest?.onPriorityChanged();
      if (!this.priority.holding) this.background('send', this.outbox.flush());
    });
    this.tasks = new ExecTasks({
      ledger: this.ledger,
      clock: deps.clock,
      logger: deps.logger,
      scriptDir: config.stateDir,
      baseEnv: deps.baseEnv,
      send: (msg) => this.send(msg),
    });
    this.upgrader = (deps.upgrader ?? launcherlessUpgrader)({
      running: config.facts.agentVersion,
      controllerUrl: config.controllerUrl,
      ...(config.ca ? { ca: config.ca } : {}),
      credentials: () => this.handshake.credentials,
      report: async (item) => this.enqueue(() => this.manifests.updateItem(item)),
      clock: deps.clock,
      logger: deps.logger,
    });
    this.manifests = new ManifestState(
      {
        files: this.files,
        versionReports: (manifest) => this.upgrader.versionReports(manifest),
        convergeDeps: () => this.convergeDeps(),
        guardFiles: (files) => this.drift.setItems(files),
        watch: (manifest) => this.watch(manifest),
        send: (msg) => this.send(msg),
      },
      parts.held,
    );
    this.connection = new AgentConnection(
      { urls: config.controllerUrls ?? [config.controllerUrl], ca: config.ca },
      {
        onOpen: () => this.sendHello(),
        onMessage: (msg) => this.onMessage(msg),
        onBadFrame: (m) => deps.logger.warn('bad frame from controller', { error: m }),
        onClose: (code, reason) => this.onClose(code, reason),
        onError: (m) => deps.logger.warn('cannot connect to the controller', { error: m }),
        onReconnect: (a) => deps.logger.info('reconnecting to the controller', { ...a }),
      },
      { sleep: deps.sleep, random: deps.random },
    );
    this.drift = new DriftWatcher({
      root: config.root,
      clock: deps.clock,
      logger: deps.logger,
      files: deps.shared.files,
      stateDir: config.stateDir,
      onDrift: (r) => this.enqueue(() => this.manifests.onDrift(r)),
      onResolved: (key) => this.enqueue(() => this.manifests.onResolved(key)),
    });
    this.procs = new ProcessMonitor({
      clock: deps.clock,
      logger: deps.logger,
      root: config.root,
      stateDir: config.stateDir,
      scanner: deps.shared.scanner,
      baseEnv: deps.baseEnv,
      onEvent: (e) => this.background('host event', this.onHostEvent(e)),
    });
    // Host checks run their commands as scripts run, but not through the task ledger: a probe is not a task.
    this.checks = new HostCheckMonitor({
      ...hostDetectIo,
      clock: deps.clock,
      logger: deps.logger,
      root: config.root,
      run: (spec) =>
        runScript(spec, { clock: deps.clock, baseEnv: deps.baseEnv, scriptDir: config.stateDir }),
      onEvent: (e) => this.background('host event', this.onHostEvent(e)),
      onStatus: (report) => this.enqueue(() => this.manifests.updateItem(report)),
    });
    this.remediation = new RemediationRunner({
      clock: deps.clock,
      budgets: parts.budgets,
      run: (spec) => this.tasks.run(spec),
      emit: (msg) => this.send(msg),
    });
  }

  /** Opens the state dir (identity, spool, task ledger, ownership, last manifest). */
  static async create(config: AgentConfig, deps: AgentDeps): Promise<Agent> {
    await openPrivateStateDir(config.stateDir);
    const identity = (await readIdentity(config.stateDir)) ?? {
      agentId: config.agentId ?? config.facts.name,
    };
    const priority = new ControlPriority();
    const files = new ManifestFiles(config.stateDir);
    const [outbox, ledger, ownership, owed, held, budgets] = await Promise.all([
      Outbox.open(config.stateDir, { logger: deps.logger, dataHeld: () => priority.holding }),
      TaskLedger.open(join(config.stateDir, 'tasks.log')),
      OwnershipLedger.open(join(config.stateDir, 'owned.json')),
      OwedOnChanges.open(join(config.stateDir, 'onchange-owed.json')),
      files.readCurrent(),
      RemediationBudgets.open(join(config.stateDir, 'remediation-budgets.json')),
    ]);
    const handshake = new Handshake(config, identity);
    return new Agent(config, deps, {
      handshake,
      files,
      held,
      outbox,
      ledger,
      ownership,
      owed,
      priority,
      budgets,
    });
  }

  get agentId(): string {
    return this.handshake.agentId;
  }

  get lifecycle(): AgentLifecycle {
    return this.state;
  }

  /** Why the controller last refused this agent, if it did. */
  get refusal(): string | undefined {
    return this.handshake.refusal;
  }

  /** The local data intake (`ingest.sock`, optional HTTP), once started. */
  get dataIngest(): IngestServer | undefined {
    return this.ingest;
  }

  /** The manifest applied last. */
  get currentManifest(): HostManifest | undefined {
    return this.manifests.current;
  }

  /** Starts watching what the held manifest manages and connects to the controller. */
  async start(): Promise<void> {
    if (this.config.ingest !== false) {
      this.ingest = await IngestServer.start(
        { socketPath: ingestSocketPath(this.config.stateDir), httpPort: this.config.ingest?.httpPort },
        {
          // Only data counts: reports and results waiting must not stop a collector, nor the reverse.
          sink: { append: (msg) => this.send(msg), backlog: () => this.outbox.size('data') },
          agentId: () => this.handshake.agentId,
          clock: this.deps.clock,
          logger: this.deps.logger,
          held: () => this.priority.holding,
          // A pushed custom event is accepted once spooled; the Remediations it triggers run after.
          raiseEvent: async (event) => {
            await this.recordEvent(event);
            this.background('host event', this.remediation.onEvent(event));
          },
        },
      );
    }
    const pending = await this.files.readPending();
    const held = this.manifests.current;
    if (held) this.watch(held);
    if (pending) {
      // The last run died while applying this manifest: finish the apply before anything else.
      this.enqueue(() => this.manifests.apply(pending));
    } else if (held && (await this.upgrader.mustReapply())) {
      // An upgrade left something to report (this version is new, or the one before was rolled back).
      this.enqueue(() => this.manifests.apply(held));
    } else if (held) {
      // The held manifest was fully applied by an earlier run: what differs now was edited while the agent
      // was down, and is drift like any other. A restart forgot every item's report: they are rebuilt by
      // reading first (queued ahead of that drift), and sent whole once the drift is handled, so the
      // controller's view of every item is this run's, not a report that names only the item that changed.
      this.enqueue(() => this.manifests.restore());
      await this.drift.armAll(true);
      this.enqueue(() => this.manifests.reportHeld());
    }
    this.drift.start();
    this.procs.start();
    this.checks.start();
    await this.send({
      v: 1,
      type: 'event',
      id: randomUUID(),
      event: agentStartEvent(this.deps.clock, {
        agentVersion: this.config.facts.agentVersion,
        pid: process.pid,
      }),
    });
    await this.tasks.reportInterrupted();
    this.state = 'running';
    this.connection.start();
  }

  /** Disconnects and closes everything; what is spooled stays for the next start. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopping';
    clearInterval(this.heartbeat);
    await this.ingest?.close();
    await this.connection.stop();
    // Checks first: a status a last probe hands on is queued before the queue is drained.
    await this.checks.stop();
    await this.applyQueue;
    await this.procs.stop();
    await this.drift.close();
    await this.ledger.close();
    await this.outbox.close();
    this.state = 'stopped';
  }

  private sendHello(): void {
    this.connection.send(this.handshake.hello(this.manifests.current?.hash ?? '', this.outbox.highWater()));
  }

  /** Decides whether to reconnect after the socket closed. */
  private onClose(code: number, reason: string): boolean {
    this.outbox.disconnect();
    clearInterval(this.heartbeat);
    if (code >= 4000) this.deps.logger.warn('controller closed the session', { code, reason });
    const refusal = this.handshake.refusal;
    if (this.handshake.closed() !== 'fatal') return true;
    this.state = 'failed';
    this.deps.onFatal?.(refusal ?? `${code} ${reason}`);
    return false;
  }

  private onMessage(msg: ControllerToAgent): void {
    switch (msg.type) {
      case 'welcome':
        this.background('welcome', this.onWelcome(msg));
        return;
      case 'manifest': {
        // Control work from the moment it arrives: data work waits (control-priority.ts) until it is reported.
        const end = this.priority.begin();
        this.enqueue(() => this.manifests.onManifest(msg).finally(end));
        return;
      }
      case 'dryRun': {
        // Queued behind any apply, so it answers against the manifest held once that apply is done.
        const end = this.priority.begin();
        this.enqueue(() => this.manifests.dryRun(msg).finally(end));
        return;
      }
      case 'exec': {
        const end = this.priority.begin();
        this.background('exec', this.tasks.onExec(msg).finally(end));
        return;
      }
      case 'cancel':
        this.tasks.cancel(msg.taskId);
        return;
      case 'putFile': {
        const end = this.priority.begin();
        const io = { root: this.config.root, stateDir: this.config.stateDir, clock: this.deps.clock };
        this.background(
          'putFile',
          this.tasks.runTask(msg.taskId, msg.reason, () => putFile(msg, io)).finally(end),
        );
        return;
      }
      case 'procOp': {
        const end = this.priority.begin();
        const work = () => this.procs.operate(msg.watch, msg.op, msg.command, msg.timeoutMs);
        this.background('procOp', this.tasks.runTask(msg.taskId, msg.reason, work).finally(end));
        return;
      }
      case 'ack':
        this.background('ack', this.onAck(msg.ids));
        return;
      case 'error':
        if (msg.code === ERROR_CODES.handlerFailed && msg.ref) {
          this.retryLater(msg.ref);
          return;
        }
        this.handshake.refused(msg.code, msg.message);
        this.deps.logger.warn('controller error', { code: msg.code, message: msg.message, ref: msg.ref });
        return;
      case 'heartbeat':
        return;
    }
  }

  private async onWelcome(welcome: WelcomeMessage): Promise<void> {
    const { credential, heartbeatMs, window, dataWindow } = welcome;
    await this.handshake.welcomed(credential);
    this.connection.markHealthy();
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      this.connection.send({ v: 1, type: 'heartbeat', time: new Date(this.deps.clock.now()).toISOString() });
    }, heartbeatMs);
    this.heartbeat.unref();
    // An older controller sends one window for everything: each lane then keeps within it, and that
    // controller, which queues what it reads while its window is full, still gets everything in order.
    await this.outbox.connect(
      { control: window, data: dataWindow ?? window },
      {
        send: (msg) => this.connection.send(msg),
        // Spooled records carry no host; a controller that does not stamp it gets it added on the way out.
        sendEncoded: welcome.stampsHost
          ? (json) => this.connection.sendEncoded(json)
          : (json) => this.connection.sendEncoded(withRecordHosts(json, this.recordHost())),
        bufferedAmount: () => this.connection.bufferedAmount,
      },
    );
  }

  /**
   * Work nobody awaits (socket callbacks, timers): a failure (a disk error, say) is logged, never an
   * unhandled rejection that would end the process. What it owed stays spooled for the next attempt.
   */
  private background(what: string, work: Promise<unknown>): void {
    work.catch((err: unknown) => {
      this.deps.logger.error(`${what} failed`, { error: errorText(err) });
    });
  }

  /** This host as a data record names it, for a controller that does not stamp records itself. */
  private recordHost(): DataRecord['host'] {
    const { facts } = this.config;
    return { id: this.handshake.agentId, name: facts.name, ip: facts.ips[0] ?? '', cloudId: facts.cloudId };
  }

  /** Applies run one at a time, in order. */
  private enqueue(task: () => Promise<void>): void {
    this.applyQueue = this.applyQueue.then(task).catch((err: unknown) => {
      this.deps.logger.error('apply failed', { error: String(err) });
    });
  }

  private watch(manifest: HostManifest): void {
    this.drift.setItems(configFiles(manifest));
    this.procs.setWatches(manifest.items.filter((i): i is ManifestProcessWatch => i.kind === 'ProcessWatch'));
    this.checks.setChecks(hostChecks(manifest));
    this.background('remediation budgets', this.remediation.setItems(manifest.items, manifest.revision));
  }

  private convergeDeps(): ConvergeDeps {
    return {
      root: this.config.root,
      stateDir: this.config.stateDir,
      clock: this.deps.clock,
      logger: this.deps.logger,
      ownership: this.ownership,
      owed: this.owed,
      guard: this.drift,
      tempsSwept: this.tempsSwept,
      run: (spec) => this.tasks.run(spec),
      probe: (watches) =>
        probeWatches(watches, { scanner: this.deps.shared.scanner, root: this.config.root }),
    };
  }

  private async onHostEvent(event: HostEvent): Promise<void> {
    await this.recordEvent(event);
    if (event.resource)
      await this.manifests.onProcessStatus(event.resource, this.procs.status(event.resource));
    await this.remediation.onEvent(event);
  }

  /** Spools a host event for the controller (routed there like every host event). */
  private recordEvent(event: HostEvent): Promise<void> {
    return this.send({ v: 1, type: 'event', id: randomUUID(), event });
  }

  /** The controller could not make a message durable: send it again after a pause (it stays spooled). */
  private retryLater(id: string): void {
    const timer = setTimeout(() => this.background('re-send', this.outbox.retry(id)), HANDLER_RETRY_DELAY_MS);
    timer.unref();
  }

  private async onAck(ids: string[]): Promise<void> {
    // The outbox keeps the ack race safe (see OutboxLane.ack): spool first, then window, then re-read.
    try {
      await this.outbox.ack(ids);
    } finally {
      this.ingest?.onBacklogShrunk();
    }
    if (this.reportIds.size > 0 && ids.some((id) => this.reportIds.has(id))) {
      this.reportIds.clear();
      await this.upgrader.reportAcked();
    }
  }

  /** Spools a message in its lane (durable) and sends what that lane's window allows. */
  private async send(msg: SpooledMessage): Promise<void> {
    if (msg.type === 'report' && this.upgrader.wantsAck) this.reportIds.add(msg.id);
    await this.outbox.append(msg);
  }
}
