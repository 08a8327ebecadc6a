/**
 * Executions: ad-hoc scripts fanned out to the hosts a selector picks, and every result an agent reports
 * (ad-hoc, onChange, remediation), recorded in the store and streamed to whoever waits for them.
 */
import type { HostFacts } from '../protocol/manifest.js';
import type { ExecMessage, ExecResultMessage } from '../protocol/messages.js';
import type { Selector } from '../spec/types.js';
import type { ExecutionRecord, ExecutionStatus, Store } from '../store/types.js';
import type { ControllerMetrics } from './metrics.js';
import { selectorMatches } from './select.js';

export const DEFAULT_EXEC_TIMEOUT_MS = 60_000;

export interface ExecServiceDeps {
  store: Store;
  hub: { send(agentId: string, msg: ExecMessage): boolean };
  /** Connected hosts with their effective labels. */
  connectedHosts(): HostFacts[];
  metrics: ControllerMetrics;
  now(): number;
  newId(): string;
}

export interface ExecRequest {
  selector: Selector;
  script: string;
  interpreter?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
  requestedBy: string;
}

export interface ExecStarted {
  taskId: string;
  /** Hosts the task was sent to. */
  hosts: string[];
}

type Listener = (record: ExecutionRecord) => void;

/** succeeded / failed / timedOut, from what the agent reported. */
export function executionStatus(msg: Pick<ExecResultMessage, 'exitCode' | 'timedOut'>): ExecutionStatus {
  if (msg.timedOut) return 'timedOut';
  return msg.exitCode === 0 ? 'succeeded' : 'failed';
}

export class ExecService {
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(private readonly deps: ExecServiceDeps) {}

  /** Sends the script to every connected host the selector picks, recording each as running. */
  async start(req: ExecRequest): Promise<ExecStarted> {
    const taskId = this.deps.newId();
    const startedAt = new Date(this.deps.now()).toISOString();
    const hosts: string[] = [];
    for (const host of this.deps.connectedHosts()) {
      if (!selectorMatches(req.selector, host)) continue;
      const msg: ExecMessage = {
        v: 1,
        type: 'exec',
        id: this.deps.newId(),
        taskId,
        script: req.script,
        interpreter: req.interpreter,
        timeoutMs: req.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
        env: req.env,
        reason: 'adhoc',
      };
      await this.deps.store.putExecution({
        id: taskId,
        hostId: host.id,
        reason: 'adhoc',
        command: req.script,
        status: 'running',
        exitCode: null,
        signal: null,
        stdoutTail: '',
        stderrTail: '',
        startedAt,
        timedOut: false,
        killed: false,
        requestedBy: req.requestedBy,
      });
      if (this.deps.hub.send(host.id, msg)) hosts.push(host.id);
    }
    return { taskId, hosts };
  }

  /** Records a result an agent reported (idempotent by task id and host) and tells the listeners. */
  async recordResult(hostId: string, msg: ExecResultMessage): Promise<void> {
    const existing = await this.deps.store.getExecution(msg.taskId, hostId);
    const finishedAt = new Date(Date.parse(msg.startedAt) + msg.durationMs).toISOString();
    const record: ExecutionRecord = {
      id: msg.taskId,
      hostId,
      reason: msg.reason,
      resource: /^(?:onChange|remediation):(.+)$/.exec(msg.reason)?.[1],
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
    };
    await this.deps.store.putExecution(record);
    if (!existing || existing.status === 'running')
      this.deps.metrics.executions.inc({ result: record.status });
    for (const l of this.listeners.get(msg.taskId) ?? []) l(record);
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
