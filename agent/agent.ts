/**
 * One agent: the session with the controller (hello, manifests, execs, acks) composed with the local
 * engine (converge, drift, process watch, remediation). Everything it owes the controller goes through
 * the outbox (outbox.ts: a control lane and a data lane, each spooled) and leaves it only when acked.
 */
import { randomUUID } from 'node:crypto';
import { chmod, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyManifestDelta } from '../src/protocol/apply-delta.js';
import { ERROR_CODES } from '../src/protocol/codes.js';
import {
  type HostManifest,
  itemKey,
  type ManifestConfigFile,
  type ManifestProcessWatch,
} from '../src/protocol/manifest.js';
import type {
  AgentFacts,
  ControllerToAgent,
  ExecMessage,
  HostEvent,
  ItemReport,
  ManifestMessage,
  SpooledMessage,
} from '../src/protocol/messages.js';
import { AgentConnection } from './connection.js';
import { ControlPriority } from './control-priority.js';
import {
  agentStartEvent,
  type Clock,
  type ConvergeDeps,
  convergeConfigFile,
  convergeManifest,
  type DriftReport,
  DriftWatcher,
  type ExecOutcome,
  type ExecSpec,
  type Logger,
  OwedOnChanges,
  OwnershipLedger,
  openPrivateStateDir,
  PRIVATE_FILE_MODE,
  ProcessMonitor,
  type ProcScanner,
  probeWatches,
  processItemReport,
  type SharedFileWatcher,
  TaskLedger,
} from './engine/index.js';
import { type Identity, readIdentity, writeIdentity } from './identity.js';
import { IngestServer, ingestSocketPath } from './ingest.js';
import { passiveItemReports } from './item-reports.js';
import { Outbox } from './outbox.js';
import { RemediationRunner } from './remediation.js';

export interface AgentConfig {
  controllerUrl: string;
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
  /** Called when the controller refused the agent for good (revoked, bad bootstrap token). */
  onFatal?(reason: string): void;
}

export type AgentLifecycle = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

/**
 * Refusals after which retrying cannot help; pending approval and session_live (a twin still connected) are
 * retried with back-off. reenroll_refused's message names the fix (`gsectl agents reset ID`).
 */
const FATAL_REFUSALS = new Set<string>([
  ERROR_CODES.badToken,
  ERROR_CODES.revoked,
  ERROR_CODES.reenrollRefused,
]);
const MANIFEST_FILE = 'manifest.json';
/** The manifest being applied; present on disk only while an apply runs (or was cut short). */
const PENDING_MANIFEST_FILE = 'manifest.pending.json';
/** Wait before re-sending a message the controller failed to store. */
const HANDLER_RETRY_DELAY_MS = 2_000;

export class Agent {
  private identity: Identity;
  private manifest: HostManifest | undefined;
  private readonly items = new Map<string, ItemReport>();
  private heartbeat: NodeJS.Timeout | undefined;
  private applyQueue: Promise<void> = Promise.resolve();
  private state: AgentLifecycle = 'starting';
  private lastRefusal: string | undefined;
  private lastErrorCode: string | undefined;
  private readonly connection: AgentConnection;
  private readonly drift: DriftWatcher;
  private readonly procs: ProcessMonitor;
  private readonly remediation: RemediationRunner;
  private ingest: IngestServer | undefined;

  private constructor(
    private readonly config: AgentConfig,
    private readonly deps: AgentDeps,
    identity: Identity,
    manifest: HostManifest | undefined,
    private readonly outbox: Outbox,
    private readonly ledger: TaskLedger,
    private readonly ownership: OwnershipLedger,
    private readonly owed: OwedOnChanges,
    private readonly priority: ControlPriority,
  ) {
    this.identity = identity;
    this.priority.onChange(() => {
      this.ingest?.onPriorityChanged();
      if (!this.priority.holding) void this.outbox.flush();
    });
    this.manifest = manifest;
    this.connection = new AgentConnection(
      { url: config.controllerUrl, ca: config.ca },
      {
        onOpen: () => this.sendHello(),
        onMessage: (msg) => this.onMessage(msg),
        onBadFrame: (m) => deps.logger.warn('bad frame from controller', { error: m }),
        onClose: (code, reason) => this.onClose(code, reason),
        onError: (m) => deps.logger.warn('cannot connect to the controller', { error: m }),
      },
      { sleep: deps.sleep, random: deps.random },
    );
    this.drift = new DriftWatcher({
      root: config.root,
      clock: deps.clock,
      logger: deps.logger,
      files: deps.shared.files,
      stateDir: config.stateDir,
      onDrift: (r) => this.enqueue(() => this.onDrift(r)),
    });
    this.procs = new ProcessMonitor({
      clock: deps.clock,
      logger: deps.logger,
      root: config.root,
      stateDir: config.stateDir,
      scanner: deps.shared.scanner,
      baseEnv: deps.baseEnv,
      onEvent: (e) => void this.onHostEvent(e),
    });
    this.remediation = new RemediationRunner({
      clock: deps.clock,
      run: (spec) => this.runTask(spec),
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
    const [outbox, ledger, ownership, owed, manifest] = await Promise.all([
      Outbox.open(config.stateDir, { logger: deps.logger, dataHeld: () => priority.holding }),
      TaskLedger.open(join(config.stateDir, 'tasks.log')),
      OwnershipLedger.open(join(config.stateDir, 'owned.json')),
      OwedOnChanges.open(join(config.stateDir, 'onchange-owed.json')),
      readManifest(config.stateDir),
    ]);
    return new Agent(config, deps, identity, manifest, outbox, ledger, ownership, owed, priority);
  }

  get agentId(): string {
    return this.identity.agentId;
  }

  get lifecycle(): AgentLifecycle {
    return this.state;
  }

  /** Why the controller last refused this agent, if it did. */
  get refusal(): string | undefined {
    return this.lastRefusal;
  }

  /** The local data intake (`ingest.sock`, optional HTTP), once started. */
  get dataIngest(): IngestServer | undefined {
    return this.ingest;
  }

  /** The manifest applied last. */
  get currentManifest(): HostManifest | undefined {
    return this.manifest;
  }

  /** Starts watching what the held manifest manages and connects to the controller. */
  async start(): Promise<void> {
    if (this.config.ingest !== false) {
      const { facts } = this.config;
      this.ingest = await IngestServer.start(
        { socketPath: ingestSocketPath(this.config.stateDir), httpPort: this.config.ingest?.httpPort },
        {
          // Only data counts: reports and results waiting must not stop a collector, nor the reverse.
          sink: { append: (msg) => this.send(msg), backlog: () => this.outbox.size('data') },
          host: () => ({
            id: this.identity.agentId,
            name: facts.name,
            ip: facts.ips[0] ?? '',
            cloudId: facts.cloudId,
          }),
          clock: this.deps.clock,
          logger: this.deps.logger,
          held: () => this.priority.holding,
        },
      );
    }
    const pending = await readManifest(this.config.stateDir, PENDING_MANIFEST_FILE);
    if (this.manifest) this.watch(this.manifest);
    if (pending) {
      // The last run died while applying this manifest: finish the apply before anything else.
      this.enqueue(() => this.apply(pending));
    } else if (this.manifest) {
      // The held manifest was fully applied by an earlier run: what differs now was edited while the agent
      // was down, and is drift like any other.
      await this.drift.armAll(true);
    }
    this.drift.start();
    this.procs.start();
    await this.send({
      v: 1,
      type: 'event',
      id: randomUUID(),
      event: agentStartEvent(this.deps.clock, {
        agentVersion: this.config.facts.agentVersion,
        pid: process.pid,
      }),
    });
    // Tasks cut short when the agent died are reported (killed, not re-run), so none is lost or stays running.
    for (const t of this.ledger.interrupted) {
      await this.send(execResultMessage(t.taskId, interruptedReason(t.taskId), t.outcome));
    }
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
    await this.applyQueue;
    await this.procs.stop();
    await this.drift.close();
    await this.ledger.close();
    await this.outbox.close();
    this.state = 'stopped';
  }

  private sendHello(): void {
    const { credential } = this.identity;
    this.connection.send({
      v: 1,
      type: 'hello',
      agentId: this.identity.agentId,
      ...(credential ? { credential } : { bootstrapToken: this.config.bootstrapToken ?? '' }),
      facts: this.config.facts,
      manifestHash: this.manifest?.hash ?? '',
      spoolHighWater: this.outbox.highWater(),
    });
  }

  /** Decides whether to reconnect after the socket closed. */
  private onClose(code: number, reason: string): boolean {
    this.outbox.disconnect();
    clearInterval(this.heartbeat);
    const refusal = this.lastErrorCode;
    this.lastErrorCode = undefined;
    if (code >= 4000) this.deps.logger.warn('controller closed the session', { code, reason });
    // A credential the controller no longer knows (its store was reset): enroll again if we can.
    if (refusal === ERROR_CODES.badCredential && this.config.bootstrapToken) {
      this.identity = { agentId: this.identity.agentId };
      return true;
    }
    if (refusal && (FATAL_REFUSALS.has(refusal) || refusal === ERROR_CODES.badCredential)) {
      this.state = 'failed';
      this.deps.onFatal?.(this.lastRefusal ?? `${code} ${reason}`);
      return false;
    }
    return true;
  }

  private onMessage(msg: ControllerToAgent): void {
    switch (msg.type) {
      case 'welcome':
        void this.onWelcome(msg.credential, msg.heartbeatMs, msg.window, msg.dataWindow);
        return;
      case 'manifest': {
        // Control work from the moment it arrives: data work waits (control-priority.ts) until it is reported.
        const end = this.priority.begin();
        this.enqueue(() => this.onManifest(msg).finally(end));
        return;
      }
      case 'exec': {
        const end = this.priority.begin();
        void this.onExec(msg).finally(end);
        return;
      }
      case 'ack':
        void this.onAck(msg.ids);
        return;
      case 'error':
        if (msg.code === ERROR_CODES.handlerFailed && msg.ref) {
          this.retryLater(msg.ref);
          return;
        }
        this.lastErrorCode = msg.code;
        this.lastRefusal = `${msg.code}: ${msg.message}`;
        this.deps.logger.warn('controller error', { code: msg.code, message: msg.message, ref: msg.ref });
        return;
      case 'heartbeat':
        return;
    }
  }

  private async onWelcome(
    credential: string | undefined,
    heartbeatMs: number,
    window: number,
    dataWindow: number | undefined,
  ): Promise<void> {
    if (credential) {
      this.identity = { agentId: this.identity.agentId, credential };
      await writeIdentity(this.config.stateDir, this.identity);
    }
    this.lastRefusal = undefined;
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
      { send: (msg) => this.connection.send(msg), bufferedAmount: () => this.connection.bufferedAmount },
    );
  }

  /** Applies run one at a time, in order. */
  private enqueue(task: () => Promise<void>): void {
    this.applyQueue = this.applyQueue.then(task).catch((err: unknown) => {
      this.deps.logger.error('apply failed', { error: String(err) });
    });
  }

  private async onManifest(msg: ManifestMessage): Promise<void> {
    const target = msg.mode === 'full' ? msg.manifest : applyManifestDelta(this.manifest, msg);
    if (!target) {
      await this.send(this.report({ needFull: true }));
      return;
    }
    await this.apply(target);
  }

  /**
   * Converges a manifest and reports. The target is written to disk first, as pending, so an agent killed
   * mid-apply finishes this apply when it restarts instead of trusting a half-applied host.
   */
  private async apply(target: HostManifest): Promise<void> {
    await writeManifest(this.config.stateDir, target, PENDING_MANIFEST_FILE);
    const previous = this.manifest;
    // The drift watcher must know the files before the converge: its write guard (begin/end) is what arms
    // a file for drift detection, and it ignores paths it does not know yet.
    this.drift.setItems(target.items.filter((i): i is ManifestConfigFile => i.kind === 'ConfigFile'));
    const result = await convergeManifest(target, previous, this.convergeDeps());
    for (const exec of result.execs) await this.send(execResultMessage(exec.taskId, exec.reason, exec));
    this.manifest = target;
    await writeManifest(this.config.stateDir, target, MANIFEST_FILE);
    await rm(join(this.config.stateDir, PENDING_MANIFEST_FILE), { force: true });
    this.items.clear();
    for (const item of [...result.items, ...passiveItemReports(target, this.config.facts.agentVersion)]) {
      this.items.set(`${item.kind}/${item.name}`, item);
    }
    this.watch(target);
    await this.send(this.report({ pruned: result.pruned }));
  }

  private watch(manifest: HostManifest): void {
    this.drift.setItems(manifest.items.filter((i): i is ManifestConfigFile => i.kind === 'ConfigFile'));
    this.procs.setWatches(manifest.items.filter((i): i is ManifestProcessWatch => i.kind === 'ProcessWatch'));
    this.remediation.setItems(manifest.items.filter((i) => i.kind === 'Remediation'));
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
      run: (spec) => this.runTask(spec),
      probe: (watches) =>
        probeWatches(watches, { scanner: this.deps.shared.scanner, root: this.config.root }),
    };
  }

  /** Runs a script at most once per task id (the ledger survives restarts). */
  private async runTask(spec: ExecSpec): Promise<ExecOutcome> {
    const { outcome } = await this.ledger.runOnce(spec, {
      clock: this.deps.clock,
      logger: this.deps.logger,
      baseEnv: this.deps.baseEnv,
      scriptDir: this.config.stateDir,
    });
    return outcome;
  }

  /** A managed file changed by hand: report it, and heal it when the resource's policy says selfHeal. */
  private async onDrift(r: DriftReport): Promise<void> {
    const item = this.manifest?.items.find(
      (i): i is ManifestConfigFile => i.kind === 'ConfigFile' && itemKey(i) === r.key,
    );
    // A report about the content an older manifest wanted is stale: this apply already replaced it.
    if (!item || r.expectedHash !== item.contentHash) return;
    let healed = false;
    let observedHash = r.observedHash;
    let message: string | undefined;
    if (item.selfHeal) {
      const result = await convergeConfigFile(item, this.convergeDeps());
      healed = result.state !== 'failed';
      observedHash = result.observedHash;
      message = result.message;
    }
    const base: ItemReport = {
      kind: 'ConfigFile',
      name: item.name,
      hash: item.hash,
      // A heal that was refused (a symlink planted at the path, say) is a failure, not mere drift.
      state: healed ? 'changed' : item.selfHeal ? 'failed' : 'drifted',
      observedHash,
      ...(!healed && r.observedOwner ? { observedOwner: r.observedOwner } : {}),
      ...(message ? { message } : { message: healed ? `healed: ${r.detail}` : `drifted: ${r.detail}` }),
    };
    this.items.set(r.key, base);
    const report = this.report({});
    const drifted = report.items.find((i) => `${i.kind}/${i.name}` === r.key);
    if (drifted) drifted.drift = { detectedAt: r.detectedAt, healed, detail: r.detail };
    await this.send(report);
  }

  private async onHostEvent(event: HostEvent): Promise<void> {
    await this.send({ v: 1, type: 'event', id: randomUUID(), event });
    const watch = this.manifest?.items.find(
      (i): i is ManifestProcessWatch => i.kind === 'ProcessWatch' && itemKey(i) === event.resource,
    );
    const status = event.resource ? this.procs.status(event.resource) : undefined;
    if (watch && status) {
      this.items.set(itemKey(watch), processItemReport(watch, status));
      await this.send(this.report({}));
    }
    await this.remediation.onEvent(event);
  }

  private async onExec(msg: ExecMessage): Promise<void> {
    const outcome = await this.runTask({
      taskId: msg.taskId,
      script: msg.script,
      timeoutMs: msg.timeoutMs,
      ...(msg.interpreter ? { interpreter: msg.interpreter } : {}),
      ...(msg.env ? { env: msg.env } : {}),
      ...(msg.cwd ? { cwd: msg.cwd } : {}),
      ...(msg.runAs ? { runAs: msg.runAs } : {}),
    });
    await this.send(execResultMessage(msg.taskId, msg.reason, outcome));
  }

  /** The controller could not make a message durable: send it again after a pause (it stays spooled). */
  private retryLater(id: string): void {
    const timer = setTimeout(() => void this.outbox.retry(id), HANDLER_RETRY_DELAY_MS);
    timer.unref();
  }

  private async onAck(ids: string[]): Promise<void> {
    // The outbox keeps the ack race safe (see OutboxLane.ack): spool first, then window, then re-read.
    try {
      await this.outbox.ack(ids);
    } finally {
      this.ingest?.onBacklogShrunk();
    }
  }

  /** A report of every item's last known state. */
  private report(extra: {
    needFull?: boolean;
    pruned?: string[];
  }): SpooledMessage & { type: 'report'; items: ItemReport[] } {
    return {
      v: 1,
      type: 'report',
      id: randomUUID(),
      manifestHash: this.manifest?.hash ?? '',
      revision: this.manifest?.revision ?? '',
      items: [...this.items.values()].map((i) => ({ ...i })),
      ...(extra.needFull ? { needFull: true } : {}),
      ...(extra.pruned && extra.pruned.length > 0 ? { pruned: extra.pruned } : {}),
    };
  }

  /** Spools a message in its lane (durable) and sends what that lane's window allows. */
  private async send(msg: SpooledMessage): Promise<void> {
    await this.outbox.append(msg);
  }
}

/** The reason of a task from its id: `onChange:<key>@...` and `remediation:<key>@...` carry it; else ad hoc. */
function interruptedReason(taskId: string): string {
  return /^((?:onChange|remediation):[^@]+)@/.exec(taskId)?.[1] ?? 'adhoc';
}

function execResultMessage(taskId: string, reason: string, o: ExecOutcome): SpooledMessage {
  return {
    v: 1,
    type: 'execResult',
    id: randomUUID(),
    taskId,
    reason,
    exitCode: o.exitCode,
    signal: o.signal,
    stdoutTail: o.stdoutTail,
    stderrTail: o.stderrTail,
    startedAt: o.startedAt,
    durationMs: o.durationMs,
    timedOut: o.timedOut,
    killed: o.killed,
  };
}

async function readManifest(stateDir: string, file = MANIFEST_FILE): Promise<HostManifest | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, file), 'utf8')) as HostManifest;
  } catch {
    return undefined;
  }
}

async function writeManifest(stateDir: string, manifest: HostManifest, file: string): Promise<void> {
  const tmp = join(stateDir, `${file}.tmp`);
  await writeFile(tmp, JSON.stringify(manifest), { mode: PRIVATE_FILE_MODE });
  await chmod(tmp, PRIVATE_FILE_MODE); // manifests carry file contents: never readable by others
  await rename(tmp, join(stateDir, file));
}
