/**
 * `gsectl exec --callback URL`: one POST per task once it ends, i.e. once every targeted host has finished,
 * is offline (not run, or disconnected while running), or the task's deadline has passed. Tasks waiting for
 * their end are kept in `<dir>/<taskId>.json` (0600), so a controller restart resumes them: results that
 * arrived meanwhile are read back from the store. The body follows GSE's task result (`bk_agent_id`,
 * `script_exit_code`, `start_time`, `end_time` in epoch ms) next to this project's names.
 */
import { mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Logger, silentLogger } from '../kernel/logger.js';
import type { ExecutionRecord } from '../store/types.js';
import type { JsonValue } from './outcome.js';

/** Grace after a task's timeout before hosts that never answered are reported as `noAnswer`. */
export const TASK_DEADLINE_GRACE_MS = 10_000;

/** One host's line in the callback. */
export interface TaskHostResult {
  host: string;
  /** succeeded, failed, timedOut; `offline` (not run or lost mid-run); `noAnswer` (deadline passed). */
  status: string;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  /** GSE's names for the same facts. */
  bk_agent_id: string;
  script_exit_code: number | null;
  start_time?: number;
  end_time?: number;
  [field: string]: JsonValue | undefined;
}

/** A task waiting for its end, as kept on disk. */
interface TrackedTask {
  taskId: string;
  url: string;
  /** Epoch ms after which hosts still pending are reported as noAnswer. */
  deadline: number;
  pending: string[];
  done: Record<string, TaskHostResult>;
}

export interface TaskCallbacksDeps {
  dir: string;
  /** Queues the one POST (durably); the notifier's `taskResult`. */
  send(url: string, body: Record<string, JsonValue>): Promise<void>;
  getExecution(taskId: string, hostId: string): Promise<ExecutionRecord | undefined>;
  now(): number;
  logger?: Logger;
}

/** A host's line from its execution record. */
export function hostResult(rec: ExecutionRecord): TaskHostResult {
  const start = Date.parse(rec.startedAt);
  const end = rec.finishedAt ? Date.parse(rec.finishedAt) : undefined;
  return {
    host: rec.hostId,
    status: rec.status,
    exitCode: rec.exitCode,
    stdout: rec.stdoutTail,
    stderr: rec.stderrTail,
    startedAt: rec.startedAt,
    ...(rec.finishedAt ? { finishedAt: rec.finishedAt } : {}),
    ...(rec.durationMs === undefined ? {} : { durationMs: rec.durationMs }),
    bk_agent_id: rec.hostId,
    script_exit_code: rec.exitCode,
    ...(Number.isNaN(start) ? {} : { start_time: start }),
    ...(end === undefined || Number.isNaN(end) ? {} : { end_time: end }),
  };
}

function missingResult(host: string, status: 'offline' | 'noAnswer'): TaskHostResult {
  return { host, status, exitCode: null, stdout: '', stderr: '', bk_agent_id: host, script_exit_code: null };
}

export class TaskCallbacks {
  private readonly tasks = new Map<string, TrackedTask>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly logger: Logger;
  /** Serialises changes per task (results, disconnects and the deadline can race). */
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  private constructor(private readonly deps: TaskCallbacksDeps) {
    this.logger = deps.logger ?? silentLogger;
  }

  /** Opens the directory and resumes the tasks a previous run left waiting. */
  static async open(deps: TaskCallbacksDeps): Promise<TaskCallbacks> {
    await mkdir(deps.dir, { recursive: true, mode: 0o700 });
    const tc = new TaskCallbacks(deps);
    for (const name of await readdir(deps.dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        const t = JSON.parse(await readFile(join(deps.dir, name), 'utf8')) as TrackedTask;
        tc.tasks.set(t.taskId, t);
      } catch (err) {
        tc.logger.error('unreadable exec callback state skipped', { file: name, error: String(err) });
      }
    }
    for (const t of [...tc.tasks.values()]) await tc.settle(t.taskId, () => tc.catchUp(t));
    return tc;
  }

  /** Starts waiting for a task's end; `offline` hosts are reported as not run. Results already stored count. */
  track(t: {
    taskId: string;
    url: string;
    hosts: string[];
    offline: string[];
    timeoutMs: number;
  }): Promise<void> {
    const task: TrackedTask = {
      taskId: t.taskId,
      url: t.url,
      deadline: this.deps.now() + t.timeoutMs + TASK_DEADLINE_GRACE_MS,
      pending: [...t.hosts],
      done: Object.fromEntries(t.offline.map((h) => [h, missingResult(h, 'offline')])),
    };
    // Registered at once, so a result recorded while the state is written is not missed.
    this.tasks.set(t.taskId, task);
    return this.settle(t.taskId, () => this.catchUp(task));
  }

  /** A host's result was recorded. */
  result(rec: ExecutionRecord): Promise<void> {
    const t = this.tasks.get(rec.id);
    if (!t?.pending.includes(rec.hostId)) return Promise.resolve();
    return this.settle(rec.id, () => this.mark(t, rec.hostId, hostResult(rec)));
  }

  /** A host disconnected: its running tasks report it offline (not while stopping: every session closes then). */
  async hostDisconnected(hostId: string): Promise<void> {
    if (this.stopped) return;
    for (const t of [...this.tasks.values()]) {
      if (t.pending.includes(hostId))
        await this.settle(t.taskId, () => this.mark(t, hostId, missingResult(hostId, 'offline')));
    }
  }

  /** Tasks waiting for their end. */
  get waiting(): number {
    return this.tasks.size;
  }

  /** Clears the deadline timers and ignores later disconnects; the waiting tasks stay on disk for the next start. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Applies a change in order; failures are logged (the task stays waiting), never thrown to the caller. */
  private settle(taskId: string, change: () => Promise<void> | void): Promise<void> {
    const run = this.chain.then(async () => {
      const t = this.tasks.get(taskId);
      if (!t) return;
      await change();
      if (t.pending.length === 0) await this.finish(t);
      else await this.save(t);
    });
    this.chain = run.catch((err: unknown) => {
      this.logger.error('exec callback not queued; kept for the next result or restart', {
        taskId,
        error: String(err),
      });
    });
    return this.chain;
  }

  /** Reads back results already stored, and arms the deadline. */
  private async catchUp(t: TrackedTask): Promise<void> {
    for (const host of [...t.pending]) {
      const rec = await this.deps.getExecution(t.taskId, host);
      if (rec && rec.status !== 'running') this.mark(t, host, hostResult(rec));
    }
    if (t.pending.length > 0 && !this.timers.has(t.taskId)) {
      const timer = setTimeout(
        () => {
          this.timers.delete(t.taskId);
          // settle() logs its own failures; its promise never rejects.
          this.settle(t.taskId, () => {
            for (const h of [...t.pending]) this.mark(t, h, missingResult(h, 'noAnswer'));
          }).catch(() => undefined);
        },
        Math.max(0, t.deadline - this.deps.now()),
      );
      timer.unref();
      this.timers.set(t.taskId, timer);
    }
  }

  private mark(t: TrackedTask, host: string, result: TaskHostResult): void {
    const i = t.pending.indexOf(host);
    if (i < 0) return;
    t.pending.splice(i, 1);
    t.done[host] = result;
  }

  private async finish(t: TrackedTask): Promise<void> {
    const hosts = Object.values(t.done).sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
    const counts: Record<string, number> = {};
    for (const h of hosts) counts[h.status] = (counts[h.status] ?? 0) + 1;
    await this.deps.send(t.url, { taskId: t.taskId, task_id: t.taskId, summary: counts, hosts });
    this.tasks.delete(t.taskId);
    const timer = this.timers.get(t.taskId);
    if (timer) clearTimeout(timer);
    this.timers.delete(t.taskId);
    await unlink(this.fileOf(t.taskId)).catch(() => undefined);
  }

  private async save(t: TrackedTask): Promise<void> {
    await writeFile(this.fileOf(t.taskId), JSON.stringify(t), { mode: 0o600 });
  }

  private fileOf(taskId: string): string {
    return join(this.deps.dir, `${taskId.replace(/[^A-Za-z0-9_-]/g, '_')}.json`);
  }
}
