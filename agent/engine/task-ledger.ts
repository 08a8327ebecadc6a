/**
 * Remembers every task id the agent has run, with its outcome, in an append-only file in the state dir, so a
 * task the controller re-sends (after a reconnect, a lost ack) is answered from the record, never run twice.
 * A task that was running when the agent died is recorded as interrupted and not re-run (at most once).
 */
import type { Clock } from './deps.js';
import { LogClosedError } from './errors.js';
import { type ExecDeps, type ExecOutcome, type ExecSpec, runScript } from './exec.js';
import { AppendLog } from './record-log.js';

/** Tasks remembered after a compaction; the file is compacted on open when it holds twice as many records. */
export const LEDGER_MAX_TASKS = 10_000;
export const INTERRUPTED_MESSAGE = 'gse-agent: the agent stopped while this task was running; not run again';

type LedgerRecord = { t: 'start'; id: string; at: string } | { t: 'done'; id: string; outcome: ExecOutcome };

function isLedgerRecord(v: unknown): v is LedgerRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as { t?: unknown; id?: unknown; at?: unknown; outcome?: unknown };
  if (typeof r.id !== 'string') return false;
  return (r.t === 'start' && typeof r.at === 'string') || (r.t === 'done' && typeof r.outcome === 'object');
}

/** The outcome recorded for a task that was running when the agent stopped. */
export function interruptedOutcome(startedAt: string): ExecOutcome {
  return {
    exitCode: null,
    signal: null,
    stdoutTail: '',
    stderrTail: INTERRUPTED_MESSAGE,
    startedAt,
    durationMs: 0,
    timedOut: false,
    killed: true,
  };
}

export class TaskLedger {
  private readonly inflight = new Map<string, Promise<ExecOutcome>>();
  private closed = false;

  private constructor(
    private readonly log: AppendLog,
    private readonly done: Map<string, ExecOutcome>,
    /** Tasks that were running when the agent stopped (found on open), so the agent can report them. */
    readonly interrupted: ReadonlyArray<{ taskId: string; outcome: ExecOutcome }> = [],
  ) {}

  /** Opens (creating) the ledger file; tasks started but never finished become interrupted. */
  static async open(file: string, maxTasks = LEDGER_MAX_TASKS): Promise<TaskLedger> {
    const { log, values } = await AppendLog.open(file);
    const done = new Map<string, ExecOutcome>();
    const started = new Map<string, string>();
    for (const v of values) {
      if (!isLedgerRecord(v)) continue;
      if (v.t === 'start') started.set(v.id, v.at);
      else {
        started.delete(v.id);
        done.delete(v.id);
        done.set(v.id, v.outcome);
      }
    }
    const interrupted: Array<{ taskId: string; outcome: ExecOutcome }> = [];
    for (const [id, at] of started) {
      const outcome = interruptedOutcome(at);
      done.set(id, outcome);
      interrupted.push({ taskId: id, outcome });
      await log.append({ t: 'done', id, outcome });
    }
    if (values.length > 2 * maxTasks) {
      const kept = [...done].slice(-maxTasks);
      done.clear();
      for (const [id, outcome] of kept) done.set(id, outcome);
      await log.rewrite(kept.map(([id, outcome]) => ({ t: 'done', id, outcome })));
    }
    return new TaskLedger(log, done, interrupted);
  }

  /** The recorded outcome of `taskId`, if it has run. */
  outcome(taskId: string): ExecOutcome | undefined {
    return this.done.get(taskId);
  }

  /** Number of tasks remembered. */
  get size(): number {
    return this.done.size;
  }

  /**
   * Runs `spec` unless its task id already ran (or is running): then the recorded (or awaited) outcome comes
   * back with `reused: true`. The start is durable before the script runs.
   */
  async runOnce(spec: ExecSpec, deps: ExecDeps): Promise<{ outcome: ExecOutcome; reused: boolean }> {
    return this.doOnce(spec.taskId, deps.clock, () => runScript(spec, deps));
  }

  /** As runOnce, for work that is not a script (a file transfer, a process operation). */
  async doOnce(
    taskId: string,
    clock: Clock,
    work: () => Promise<ExecOutcome>,
  ): Promise<{ outcome: ExecOutcome; reused: boolean }> {
    if (this.closed) throw new LogClosedError(this.log.file);
    const known = this.done.get(taskId);
    if (known) return { outcome: known, reused: true };
    const running = this.inflight.get(taskId);
    if (running) return { outcome: await running, reused: true };
    const run = this.runAndRecord(taskId, clock, work);
    this.inflight.set(taskId, run);
    try {
      return { outcome: await run, reused: false };
    } finally {
      this.inflight.delete(taskId);
    }
  }

  /** Waits for pending writes and closes the file. */
  async close(): Promise<void> {
    this.closed = true;
    await this.log.close();
  }

  private async runAndRecord(
    taskId: string,
    clock: Clock,
    work: () => Promise<ExecOutcome>,
  ): Promise<ExecOutcome> {
    await this.log.append({ t: 'start', id: taskId, at: new Date(clock.now()).toISOString() });
    const outcome = await work();
    this.done.set(taskId, outcome);
    await this.log.append({ t: 'done', id: taskId, outcome });
    return outcome;
  }
}
