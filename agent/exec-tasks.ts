/**
 * Scripts the agent runs (ad-hoc execs, onChange, remediation) and other tasks the controller sends (file
 * transfers, process operations): each task id at most once, through the task ledger that survives restarts,
 * and every outcome turned into an `execResult` for the outbox. A `cancel` kills a running exec.
 */
import { randomUUID } from 'node:crypto';
import type { ExecMessage, SpooledMessage } from '../src/protocol/messages.js';
import type { Clock, ExecOutcome, ExecSpec, Logger, TaskLedger } from './engine/index.js';

export interface ExecTasksDeps {
  ledger: TaskLedger;
  clock: Clock;
  logger: Logger;
  /** Where scripts are written before they run (the state dir). */
  scriptDir: string;
  /** Variables added to the minimal environment scripts run with. */
  baseEnv?: Record<string, string>;
  /** Spools a result in the outbox. */
  send(msg: SpooledMessage): Promise<void>;
}

/** Cancelled task ids remembered, so a cancel that overtakes its exec still stops it. */
const CANCELLED_KEPT = 1_000;

/** Runs tasks once per id and reports their results. */
export class ExecTasks {
  private readonly running = new Map<string, AbortController>();
  private readonly cancelled = new Set<string>();

  constructor(private readonly deps: ExecTasksDeps) {}

  /** Kills the task's process group if it runs (its result says `killed`); one not yet arrived never runs. */
  cancel(taskId: string): void {
    this.running.get(taskId)?.abort();
    this.cancelled.add(taskId);
    if (this.cancelled.size > CANCELLED_KEPT) {
      const oldest = this.cancelled.values().next().value;
      if (oldest !== undefined) this.cancelled.delete(oldest);
    }
  }

  /** Runs non-script work at most once per task id, then spools its result with `reason`. */
  async runTask(taskId: string, reason: string, work: () => Promise<ExecOutcome>): Promise<void> {
    const { outcome } = await this.deps.ledger.doOnce(taskId, this.deps.clock, work);
    await this.deps.send(execResultMessage(taskId, reason, outcome));
  }

  /** Runs a script at most once per task id (the ledger survives restarts). */
  async run(spec: ExecSpec): Promise<ExecOutcome> {
    const { outcome } = await this.deps.ledger.runOnce(spec, {
      clock: this.deps.clock,
      logger: this.deps.logger,
      baseEnv: this.deps.baseEnv,
      scriptDir: this.deps.scriptDir,
    });
    return outcome;
  }

  /** An `exec` from the controller: run it, then spool its result. */
  async onExec(msg: ExecMessage): Promise<void> {
    const abort = new AbortController();
    if (this.cancelled.has(msg.taskId)) abort.abort();
    this.running.set(msg.taskId, abort);
    const outcome = await this.run({
      taskId: msg.taskId,
      script: msg.script,
      timeoutMs: msg.timeoutMs,
      ...(msg.interpreter ? { interpreter: msg.interpreter } : {}),
      ...(msg.env ? { env: msg.env } : {}),
      ...(msg.cwd ? { cwd: msg.cwd } : {}),
      ...(msg.runAs ? { runAs: msg.runAs } : {}),
      signal: abort.signal,
    }).finally(() => this.running.delete(msg.taskId));
    await this.deps.send(execResultMessage(msg.taskId, msg.reason, outcome));
  }

  /** Tasks cut short when the agent died are reported (killed, not re-run), so none is lost or stays running. */
  async reportInterrupted(): Promise<void> {
    for (const t of this.deps.ledger.interrupted) {
      await this.deps.send(execResultMessage(t.taskId, interruptedReason(t.taskId), t.outcome));
    }
  }
}

/** The reason of a task from its id: `onChange:<key>@...` and `remediation:<key>@...` carry it; else ad hoc. */
export function interruptedReason(taskId: string): string {
  return /^((?:onChange|remediation):[^@]+)@/.exec(taskId)?.[1] ?? 'adhoc';
}

/** The `execResult` message for a task's outcome. */
export function execResultMessage(taskId: string, reason: string, o: ExecOutcome): SpooledMessage {
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
