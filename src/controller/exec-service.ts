/**
 * Executions: ad-hoc scripts fanned out to the hosts a selector picks, and every result an agent reports
 * (ad-hoc, onChange, remediation), recorded in the store and streamed to whoever waits for them. Hosts the
 * selector picks that are not connected are named as offline (not run), never silently skipped.
 *
 * An agent speaks only for work it was given: an ad-hoc result must answer a task sent to that host, an
 * onChange/remediation result must name a resource that host's manifest holds, and a finished execution is
 * never overwritten. Anything else is refused (not stored, acked so it is not re-sent, and answered with a
 * `result_refused` error frame).
 */
import { ERROR_CODES } from '../protocol/codes.js';
import { type HostFacts, type HostManifest, itemKey } from '../protocol/manifest.js';
import type {
  CancelMessage,
  ErrorMessage,
  ExecMessage,
  ExecResultMessage,
  ProcOpMessage,
  PutFileMessage,
} from '../protocol/messages.js';
import type { Selector } from '../spec/types.js';
import type { ExecutionRecord, ExecutionStatus, Store } from '../store/types.js';
import { ExecutionBatch, type FlushScheduler } from './execution-batch.js';
import type { Logger } from './logger.js';
import type { ControllerMetrics } from './metrics.js';
import { selectorMatches } from './select.js';

export const DEFAULT_EXEC_TIMEOUT_MS = 60_000;

export interface ExecServiceDeps {
  store: Store;
  hub: { send(agentId: string, msg: HostTaskMessage | CancelMessage | ErrorMessage): boolean };
  /** The manifest planned for a host, or undefined while none is (e.g. before the first revision). */
  manifestOf(hostId: string): HostManifest | undefined;
  logger?: Logger;
  /** Connected hosts with their effective labels (in a cluster, those of every replica). */
  connectedHosts(): HostFacts[] | Promise<HostFacts[]>;
  metrics: ControllerMetrics;
  now(): number;
  newId(): string;
  /** Result callbacks and outcome notifications (src/notify); absent, neither is sent. */
  hooks?: ExecHooks;
  /** When the results of one turn are written together; default right after this turn's I/O (setImmediate). */
  scheduleResultWrite?: FlushScheduler;
}

/** What ExecService tells the notifier. */
export interface ExecHooks {
  /** Throws when a request's callback cannot be honoured; called before any host is sent the task. */
  checkCallback(url: string): void;
  /** A task with a callback was sent (and its offline hosts are known). */
  started(task: {
    taskId: string;
    url: string;
    hosts: string[];
    offline: string[];
    timeoutMs: number;
  }): Promise<void>;
  /** A result was stored; awaited before the agent is acked, so what it causes is durable first. */
  recorded(rec: ExecutionRecord): Promise<void>;
}

export interface ExecRequest {
  selector: Selector;
  script: string;
  interpreter?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
  /** `user` or `user:group` the script runs as on each host; the agent refuses the task when it cannot switch. */
  runAs?: string;
  requestedBy: string;
  /** The task id to use, so a caller can subscribe to its results before any host is sent it; default a new id. */
  taskId?: string;
  /** POST the task's results here (signed) once every host finished or is offline (`gsectl exec --callback`). */
  callback?: string;
}

/** A remediation task the controller decided to run on a runner host. */
export interface RemediationTask {
  /** `remediation:Remediation/<name>@...`: results are checked against it like the agent's own. */
  taskId: string;
  reason: string;
  script: string;
  interpreter?: string;
  runAs?: string;
  timeoutMs: number;
  env: Record<string, string>;
  remediation: NonNullable<ExecutionRecord['remediation']>;
}

export interface ExecStarted {
  taskId: string;
  /** Hosts the task was sent to. */
  hosts: string[];
  /** Hosts the selector picks that are not connected (known to the registry, or whose send failed): not run. */
  offline: string[];
}

/** The messages that start a task on one host. */
export type HostTaskMessage = ExecMessage | PutFileMessage | ProcOpMessage;

/** A task for named hosts (GSE's calls): one message per host, built by the caller. */
export interface HostTask {
  taskId: string;
  /** The record's reason: 'adhoc', 'transfer', 'procOp:ProcessWatch/x'. */
  reason: string;
  /** What the record shows as the command. */
  command: string;
  requestedBy: string;
  /** The message for one host (its `id` is set here). */
  message(hostId: string, id: string): HostTaskMessage;
}

/** Hosts read per page when looking for offline hosts the selector picks. */
const HOST_PAGE_SIZE = 500;

type Listener = (record: ExecutionRecord) => void;

/** What became of a reported result. */
export type ResultOutcome = 'stored' | 'duplicate' | 'refused';

/** Thrown (so the result is not acked and the agent re-sends it) while the host has no planned manifest. */
export class ManifestNotKnownError extends Error {
  readonly code = 'manifest_not_known';
  constructor(readonly hostId: string) {
    super(`no manifest is planned for host ${hostId} yet; the result is kept by the agent and re-sent`);
    this.name = 'ManifestNotKnownError';
  }
}

/** The `Kind/name` a spec-driven result names ('onChange:ConfigFile/x' -> onChange, ConfigFile/x). */
const SPEC_REASON = /^(onChange|remediation):(.+)$/;

/**
 * Why a result may not be stored, or undefined when it may (pure). `existing` is the host's record of that
 * task id; `manifest` the host's planned manifest (consulted only for onChange/remediation results).
 */
export function resultRefusal(
  hostId: string,
  msg: Pick<ExecResultMessage, 'taskId' | 'reason'> & Partial<Pick<ExecResultMessage, 'exitCode' | 'killed'>>,
  existing: Pick<ExecutionRecord, 'reason' | 'status'> | undefined,
  manifest: HostManifest | undefined,
): string | undefined {
  if (existing) {
    if (existing.status !== 'running') {
      return `execution ${msg.taskId} on ${hostId} already finished (${existing.status}); a second result does not overwrite it`;
    }
    if (existing.reason === msg.reason) return undefined;
    // An agent that died mid-task reports it as interrupted under 'adhoc' (it cannot know the reason).
    if (msg.reason === 'adhoc' && msg.exitCode === null && msg.killed) return undefined;
    return `task ${msg.taskId} was sent to ${hostId} as ${existing.reason}, not ${msg.reason}`;
  }
  const spec = SPEC_REASON.exec(msg.reason);
  if (!spec) return `task ${msg.taskId} was not sent to ${hostId}`;
  const [, trigger, key] = spec;
  // Agents name such tasks `<reason>@...`, which also keeps them apart from ad-hoc task ids.
  if (!msg.taskId.startsWith(`${msg.reason}@`)) {
    return `task id ${msg.taskId} does not belong to ${msg.reason} (expected "${msg.reason}@...")`;
  }
  const item = manifest?.items.find((i) => itemKey(i) === key);
  const holds =
    trigger === 'onChange'
      ? item?.kind === 'ConfigFile' && item.onChange !== undefined
      : item?.kind === 'Remediation';
  if (holds) return undefined;
  const what = trigger === 'onChange' ? 'ConfigFile with onChange' : 'Remediation';
  return `the manifest of ${hostId} holds no ${what} named ${key}`;
}

/** succeeded / failed / timedOut from what the agent reported; skipped for a remediation that did not run. */
export function executionStatus(
  msg: Pick<ExecResultMessage, 'exitCode' | 'timedOut' | 'remediation'>,
): ExecutionStatus {
  if (msg.remediation && msg.remediation.decision !== 'ran') return 'skipped';
  if (msg.timedOut) return 'timedOut';
  return msg.exitCode === 0 ? 'succeeded' : 'failed';
}

export class ExecService {
  private readonly listeners = new Map<string, Set<Listener>>();
  /** Results being recorded, by task and host: a second result for the same pair waits for the first. */
  private readonly recording = new Map<string, Promise<unknown>>();
  /** The results stored in one turn go to the store in one write. */
  private readonly results: ExecutionBatch;

  constructor(private readonly deps: ExecServiceDeps) {
    this.results = new ExecutionBatch(deps.store, deps.scheduleResultWrite);
  }

  /**
   * Sends the script to every connected host the selector picks. The running rows are recorded in one store
   * write before any host is sent the task, so no result can arrive for a row not yet stored.
   */
  async start(req: ExecRequest): Promise<ExecStarted> {
    const taskId = req.taskId ?? this.deps.newId();
    if (req.callback !== undefined) this.deps.hooks?.checkCallback(req.callback);
    const startedAt = new Date(this.deps.now()).toISOString();
    const targets = (await this.deps.connectedHosts()).filter((host) => selectorMatches(req.selector, host));
    await this.deps.store.putExecutions(
      targets.map((host) => ({
        id: taskId,
        hostId: host.id,
        reason: 'adhoc',
        command: req.script,
        status: 'running' as const,
        exitCode: null,
        signal: null,
        stdoutTail: '',
        stderrTail: '',
        startedAt,
        timedOut: false,
        killed: false,
        requestedBy: req.requestedBy,
      })),
    );
    const timeoutMs = req.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    const hosts: string[] = [];
    const unsent: string[] = [];
    for (const host of targets) {
      const msg: ExecMessage = {
        v: 1,
        type: 'exec',
        id: this.deps.newId(),
        taskId,
        script: req.script,
        interpreter: req.interpreter,
        timeoutMs,
        env: req.env,
        ...(req.runAs ? { runAs: req.runAs } : {}),
        reason: 'adhoc',
      };
      if (this.deps.hub.send(host.id, msg)) hosts.push(host.id);
      else unsent.push(host.id);
    }
    // Looked up once the task is out, so a large registry does not delay the sends.
    const offline = await this.offlineTargets(req.selector, new Set(targets.map((h) => h.id)));
    const started = { taskId, hosts, offline: [...new Set([...offline, ...unsent])].sort() };
    if (req.callback !== undefined)
      await this.deps.hooks?.started({ ...started, url: req.callback, timeoutMs });
    return started;
  }

  /**
   * Sends a task to the named hosts: the running rows of the connected ones are stored in one write before
   * any is sent; a host that is not connected (or whose send fails) gets a failed row saying so, not run.
   */
  async startOnHosts(hostIds: readonly string[], task: HostTask): Promise<ExecStarted> {
    const startedAt = new Date(this.deps.now()).toISOString();
    const connected = new Set((await this.deps.connectedHosts()).map((h) => h.id));
    const row = (hostId: string): ExecutionRecord => ({
      id: task.taskId,
      hostId,
      reason: task.reason,
      ...(task.reason.startsWith('procOp:') ? { resource: task.reason.slice('procOp:'.length) } : {}),
      command: task.command,
      status: 'running',
      exitCode: null,
      signal: null,
      stdoutTail: '',
      stderrTail: '',
      startedAt,
      timedOut: false,
      killed: false,
      requestedBy: task.requestedBy,
    });
    const targets = [...new Set(hostIds)];
    await this.deps.store.putExecutions(targets.filter((h) => connected.has(h)).map(row));
    const hosts: string[] = [];
    const offline: string[] = [];
    for (const hostId of targets) {
      if (connected.has(hostId) && this.deps.hub.send(hostId, task.message(hostId, this.deps.newId())))
        hosts.push(hostId);
      else offline.push(hostId);
    }
    await this.deps.store.putExecutions(
      offline.map((hostId) => ({
        ...row(hostId),
        status: 'failed' as const,
        stderrTail: `host ${hostId} is not connected (not run)`,
        finishedAt: startedAt,
        durationMs: 0,
      })),
    );
    return { taskId: task.taskId, hosts, offline };
  }

  /** Asks each host to kill the task if it runs there; the hosts that were told. */
  cancel(taskId: string, hostIds: readonly string[]): string[] {
    return hostIds.filter((hostId) =>
      this.deps.hub.send(hostId, { v: 1, type: 'cancel', id: this.deps.newId(), taskId }),
    );
  }

  /**
   * Runs a controller-decided remediation (agent.lost) on one runner host: the running record, carrying the
   * decision chain, is stored before the task is sent. False when the host is not connected (the record then
   * says so, failed and not run).
   */
  async runRemediation(hostId: string, task: RemediationTask): Promise<boolean> {
    const startedAt = new Date(this.deps.now()).toISOString();
    const record: ExecutionRecord = {
      id: task.taskId,
      hostId,
      reason: task.reason,
      resource: task.reason.replace(/^remediation:/, ''),
      command: task.script,
      status: 'running',
      exitCode: null,
      signal: null,
      stdoutTail: '',
      stderrTail: '',
      startedAt,
      timedOut: false,
      killed: false,
      remediation: task.remediation,
    };
    await this.deps.store.putExecution(record);
    const sent = this.deps.hub.send(hostId, {
      v: 1,
      type: 'exec',
      id: this.deps.newId(),
      taskId: task.taskId,
      script: task.script,
      ...(task.interpreter ? { interpreter: task.interpreter } : {}),
      timeoutMs: task.timeoutMs,
      env: task.env,
      ...(task.runAs ? { runAs: task.runAs } : {}),
      reason: task.reason,
    });
    if (!sent)
      await this.deps.store.putExecution({
        ...record,
        status: 'failed',
        stderrTail: `runner host ${hostId} is not connected (not run)`,
        finishedAt: startedAt,
        durationMs: 0,
      });
    return sent;
  }

  /**
   * Hosts of the registry the selector picks that are not connected now, with the labels Git gives them
   * (their planned manifest's) when they have a plan, else the labels last recorded.
   */
  private async offlineTargets(selector: Selector, connected: ReadonlySet<string>): Promise<string[]> {
    const out: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.listHosts({ limit: HOST_PAGE_SIZE, ...(cursor ? { cursor } : {}) });
      for (const rec of page.items) {
        if (connected.has(rec.hostId)) continue;
        const host = {
          name: rec.name,
          ips: rec.ips,
          cloudId: rec.cloudId,
          labels: this.deps.manifestOf(rec.hostId)?.labels ?? rec.labels,
        };
        if (selectorMatches(selector, host)) out.push(rec.hostId);
      }
      cursor = page.nextCursor;
    } while (cursor);
    return out;
  }

  /**
   * Records a result an agent reported and tells the listeners. A re-sent result of a finished execution is
   * a 'duplicate'; a different second result, or one the host was not asked for, is 'refused'. Throws
   * ManifestNotKnownError (not acked) while an onChange/remediation result cannot be checked yet. The record
   * is written with the other results of this turn (one store write) and resolves once it is durable.
   */
  recordResult(hostId: string, msg: ExecResultMessage): Promise<ResultOutcome> {
    // Checked and written one after another per task and host: a second result (a re-send, or a different
    // one) must see the first as stored, or both would pass the check against the running row.
    const key = `${msg.taskId}\n${hostId}`;
    const prior = this.recording.get(key);
    const run = prior ? prior.then(() => this.recordOne(hostId, msg)) : this.recordOne(hostId, msg);
    const settled: Promise<void> = run.then(forget, forget).then(() => {
      if (this.recording.get(key) === settled) this.recording.delete(key);
    });
    this.recording.set(key, settled);
    return run;
  }

  private async recordOne(hostId: string, msg: ExecResultMessage): Promise<ResultOutcome> {
    const existing = await this.deps.store.getExecution(msg.taskId, hostId);
    // The agent re-sends a result whose ack it missed: same outcome, nothing to do.
    if (existing && existing.status !== 'running' && sameOutcome(existing, msg)) return 'duplicate';
    const manifest = this.deps.manifestOf(hostId);
    if (!existing && SPEC_REASON.test(msg.reason) && !manifest) throw new ManifestNotKnownError(hostId);
    const refusal = resultRefusal(hostId, msg, existing, manifest);
    if (refusal) {
      this.deps.logger?.warn('execution result refused', { hostId, taskId: msg.taskId, reason: refusal });
      this.deps.hub.send(hostId, {
        v: 1,
        type: 'error',
        code: ERROR_CODES.resultRefused,
        message: `result refused: ${refusal}`,
        ref: msg.id,
      });
      return 'refused';
    }
    const finishedAt = new Date(Date.parse(msg.startedAt) + msg.durationMs).toISOString();
    const record: ExecutionRecord = {
      id: msg.taskId,
      hostId,
      reason: existing?.reason ?? msg.reason,
      resource: existing?.resource ?? /^(?:onChange|remediation):(.+)$/.exec(msg.reason)?.[1],
      command: existing?.command ?? msg.reason,
      status: executionStatus(msg),
      exitCode: msg.exitCode,
      signal: msg.signal,
      stdoutTail: msg.stdoutTail,
      stderrTail: msg.stderrTail,
      startedAt: msg.startedAt,
      finishedAt,
      durationMs: msg.durationMs,
      timedOut: msg.timedOut,
      killed: msg.killed,
      requestedBy: existing?.requestedBy,
      remediation: msg.remediation ?? existing?.remediation,
    };
    await this.results.put(record);
    this.deps.metrics.executions.inc({ result: record.status });
    await this.deps.hooks?.recorded(record);
    this.deliver(record);
    return 'stored';
  }

  /** Tells the task's listeners of a stored result (also one another replica stored). */
  deliver(record: ExecutionRecord): void {
    for (const l of this.listeners.get(record.id) ?? []) l(record);
  }

  /** Calls `listener` with each result of a task as it arrives; returns the unsubscribe function. */
  subscribe(taskId: string, listener: Listener): () => void {
    let set = this.listeners.get(taskId);
    if (!set) {
      set = new Set();
      this.listeners.set(taskId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(taskId);
    };
  }
}

/** Ignores a settled value: the caller of recordResult sees the outcome, the queue only the order. */
function forget(): void {}

/** True when `msg` reports exactly what `rec` recorded (a re-send of the same result). */
function sameOutcome(rec: ExecutionRecord, msg: ExecResultMessage): boolean {
  return (
    rec.reason === msg.reason &&
    rec.exitCode === msg.exitCode &&
    rec.signal === msg.signal &&
    rec.stdoutTail === msg.stdoutTail &&
    rec.stderrTail === msg.stderrTail &&
    rec.startedAt === msg.startedAt &&
    rec.durationMs === msg.durationMs &&
    rec.timedOut === msg.timedOut &&
    rec.killed === msg.killed
  );
}
