/**
 * bk-job's script calls (GSE.md §7.1, §7.2) on the exec engine: `async_execute_script` sends each atomic task
 * to each agent as an ad-hoc execution (record id `<task id>/<atomic task id>`), `get_execute_script_result`
 * answers from those records in GSE's fields and codes, `async_terminate_execute_script` kills what runs.
 *
 * GSE writes each script to `script_store_dir/script_name` and runs `command`; here the execution is a small
 * shell wrapper that writes the scripts to a private temp dir on the host (removed when it ends) and runs
 * `command` with that path in place of the store dir. Atomic tasks that must wait for others
 * (`atomic_tasks_relations`) are sent when a poll finds their prerequisites succeeded.
 */
import type { ExecStarted } from '../controller/exec-service.js';
import type { ExecutionRecord } from '../store/types.js';
import { AgentIndex } from './agents.js';
import { ATOMIC, badRequest, SCRIPT_STATUS } from './errors.js';
import type { GseCallContext, GseTaskPort } from './port.js';
import { arr, int, type Json, nonEmpty, nonEmptyStr, obj, str } from './read.js';
import {
  execId,
  getTaskDoc,
  newTaskId,
  putTaskDoc,
  type ScriptAgent,
  type ScriptAtomicTask,
  type ScriptTaskDoc,
} from './task-docs.js';

/** GSE's default and largest atomic task timeout (GSE.md §7.2). */
export const DEFAULT_SCRIPT_TIMEOUT_S = 7_200;
export const MAX_SCRIPT_TIMEOUT_S = 259_200;
/** Agents a result call may ask about (GSE.md §7.2). */
export const MAX_RESULT_AGENTS = 1_000;

/** One script of the request. */
export interface GseScript {
  name: string;
  storeDir: string;
  content: string;
}

/** What a submit answers. */
export interface TaskSubmitted {
  result: { task_id: string };
}

const SCRIPT_NAME = /^[^/\0]+$/;
/** How the wrapper runs: `sh FILE`. */
export const WRAPPER_INTERPRETER = '/usr/bin/env sh';

/** Single-quotes `s` for /bin/sh. */
function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The shell script that stands for one atomic task (pure): it writes every script (base64 in a here-doc, so
 * any content survives) to a fresh temp dir, then runs `command` with `store_dir/name` pointing there.
 */
export function scriptWrapper(scripts: readonly GseScript[], command: string): string {
  const lines = ['gse_dir=$(mktemp -d /tmp/bk_gse_script.XXXXXX) || exit 1', `trap 'rm -rf "$gse_dir"' EXIT`];
  let run = command;
  for (const s of scripts) {
    const target = `"$gse_dir"/${shQuote(s.name)}`;
    lines.push(
      `base64 -d > ${target} <<'__GSE_SCRIPT__'`,
      ...(Buffer.from(s.content, 'utf8')
        .toString('base64')
        .match(/.{1,76}/g) ?? []),
      '__GSE_SCRIPT__',
      `chmod 0700 ${target}`,
    );
    const stored = `${s.storeDir.replace(/\/+$/, '')}/${s.name}`;
    run = run.split(stored).join(target);
  }
  lines.push(run);
  return `${lines.join('\n')}\n`;
}

function readScripts(body: Json): GseScript[] {
  return arr(body.scripts, 'scripts', []).map((raw, i) => {
    const s = obj(raw, `scripts[${i}]`);
    const name = nonEmptyStr(s.script_name, `scripts[${i}].script_name`);
    if (!SCRIPT_NAME.test(name) || name === '.' || name === '..')
      throw badRequest(`scripts[${i}].script_name: ${JSON.stringify(name)} must be a file name, not a path`);
    return {
      name,
      storeDir: str(s.script_store_dir, `scripts[${i}].script_store_dir`, ''),
      content: str(s.script_content, `scripts[${i}].script_content`),
    };
  });
}

function readAtomicTasks(body: Json, scripts: GseScript[]): ScriptAtomicTask[] {
  const after = new Map<number, number[]>();
  arr(body.atomic_tasks_relations, 'atomic_tasks_relations', []).forEach((raw, i) => {
    const r = obj(raw, `atomic_tasks_relations[${i}]`);
    const id = int(r.atomic_task_id, `atomic_tasks_relations[${i}].atomic_task_id`);
    const idx = arr(r.atomic_task_id_idx, `atomic_tasks_relations[${i}].atomic_task_id_idx`, []);
    after.set(
      id,
      idx.map((v, j) => int(v, `atomic_tasks_relations[${i}].atomic_task_id_idx[${j}]`)),
    );
  });
  const tasks = nonEmpty(body.atomic_tasks, 'atomic_tasks').map((raw, i): ScriptAtomicTask => {
    const t = obj(raw, `atomic_tasks[${i}]`);
    const id = int(t.atomic_task_id, `atomic_tasks[${i}].atomic_task_id`, i);
    const command = nonEmptyStr(t.command, `atomic_tasks[${i}].command`);
    const timeout = int(t.timeout_seconds, `atomic_tasks[${i}].timeout_seconds`, DEFAULT_SCRIPT_TIMEOUT_S);
    if (timeout <= 0 || timeout > MAX_SCRIPT_TIMEOUT_S)
      throw badRequest(`atomic_tasks[${i}].timeout_seconds: must be 1 to ${MAX_SCRIPT_TIMEOUT_S}`);
    return { id, command, script: scriptWrapper(scripts, command), timeoutMs: timeout * 1000, after: [] };
  });
  const ids = new Set(tasks.map((t) => t.id));
  if (ids.size !== tasks.length) throw badRequest('atomic_tasks: atomic_task_id values must be unique');
  for (const t of tasks) {
    t.after = (after.get(t.id) ?? []).filter((x) => x !== t.id);
    const unknown = t.after.find((x) => !ids.has(x));
    if (unknown !== undefined)
      throw badRequest(
        `atomic_tasks_relations: atomic task ${t.id} waits for ${unknown}, which is not in atomic_tasks`,
      );
  }
  return tasks;
}

/** The agents of a request: `[{bk_agent_id, bk_container_id, user, pwd}]`, resolved to hosts. */
function readAgents(list: unknown, path: string, index: AgentIndex): ScriptAgent[] {
  return nonEmpty(list, path).map((raw, i) => {
    const a = obj(raw, `${path}[${i}]`);
    const agentId = nonEmptyStr(a.bk_agent_id, `${path}[${i}].bk_agent_id`);
    const user = str(a.user, `${path}[${i}].user`, '');
    return {
      agentId,
      containerId: str(a.bk_container_id, `${path}[${i}].bk_container_id`, ''),
      hostId: index.resolve(agentId)?.hostId ?? null,
      ...(user ? { runAs: user } : {}),
    };
  });
}

/** `async_execute_script`: sends the atomic tasks that wait for nothing; answers `{result: {task_id}}`. */
export async function executeScript(
  body: unknown,
  ctx: GseCallContext,
  port: GseTaskPort,
): Promise<TaskSubmitted> {
  const req = obj(body, 'body');
  const scripts = readScripts(req);
  const atomic = readAtomicTasks(req, scripts);
  const agents = readAgents(req.agents, 'agents', new AgentIndex(port.hosts()));
  const taskId = newTaskId('script', port.newId());
  const doc: ScriptTaskDoc = {
    kind: 'script',
    createdAt: new Date(port.now()).toISOString(),
    by: ctx.caller,
    agents,
    atomic,
  };
  await putTaskDoc(port.store, taskId, doc);
  for (const task of atomic.filter((t) => t.after.length === 0)) {
    await sendAtomic(port, taskId, doc, task, agents);
  }
  return { result: { task_id: taskId } };
}

/** Sends one atomic task to the given agents (grouped by the account they run as). */
async function sendAtomic(
  port: GseTaskPort,
  taskId: string,
  doc: ScriptTaskDoc,
  task: ScriptAtomicTask,
  agents: readonly ScriptAgent[],
): Promise<ExecStarted[]> {
  const byUser = new Map<string, string[]>();
  for (const a of agents) {
    if (a.hostId === null) continue;
    const list = byUser.get(a.runAs ?? '') ?? [];
    list.push(a.hostId);
    byUser.set(a.runAs ?? '', list);
  }
  const id = execId(taskId, task.id);
  const started: ExecStarted[] = [];
  for (const [runAs, hostIds] of byUser) {
    started.push(
      await port.exec.startOnHosts(hostIds, {
        taskId: id,
        reason: 'adhoc',
        command: task.command,
        requestedBy: doc.by,
        message: (_host, msgId) => ({
          v: 1,
          type: 'exec',
          id: msgId,
          taskId: id,
          script: task.script,
          // Not a shell name, so the agent passes the wrapper as a file, not `-c` (argv caps one at 128 KiB).
          interpreter: WRAPPER_INTERPRETER,
          timeoutMs: task.timeoutMs,
          ...(runAs ? { runAs } : {}),
          reason: 'adhoc',
        }),
      }),
    );
  }
  return started;
}

/** One `data.result[]` entry of `get_execute_script_result`. */
export interface ScriptResultEntry {
  bk_agent_id: string;
  bk_container_id: string;
  atomic_task_id: number;
  status: number;
  error_code: number;
  error_msg: string;
  start_time: number;
  end_time: number;
  script_exit_code: number;
  tag: string;
  screen: string;
}

/** Output from `offset` (UTF-8 bytes already read), at most `limit` bytes, never cutting a character. */
export function screenFrom(text: string, offset: number, limit?: number): string {
  const bytes = Buffer.from(text, 'utf8');
  let end = limit === undefined ? bytes.length : Math.min(bytes.length, offset + limit);
  while (end > offset && end < bytes.length && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return offset >= bytes.length ? '' : bytes.subarray(offset, end).toString('utf8');
}

/** What an execution record of an atomic task says in GSE's terms (pure). */
export function scriptOutcome(
  rec: ExecutionRecord | undefined,
  terminated: boolean,
): Pick<ScriptResultEntry, 'status' | 'error_code' | 'error_msg' | 'script_exit_code'> {
  if (!rec)
    return {
      status: SCRIPT_STATUS.failed,
      error_code: ATOMIC.agentAbnormal,
      error_msg: 'agent not found in this fleet',
      script_exit_code: 0,
    };
  const exit = rec.exitCode ?? 0;
  switch (rec.status) {
    case 'running':
      return {
        status: SCRIPT_STATUS.running,
        error_code: ATOMIC.running,
        error_msg: '',
        script_exit_code: 0,
      };
    case 'succeeded':
      return { status: SCRIPT_STATUS.success, error_code: ATOMIC.done, error_msg: '', script_exit_code: 0 };
    case 'timedOut':
      return {
        status: SCRIPT_STATUS.timeout,
        error_code: ATOMIC.done,
        error_msg: 'timeout',
        script_exit_code: exit,
      };
    default:
      break;
  }
  if (rec.killed && terminated)
    return {
      status: SCRIPT_STATUS.discarded,
      error_code: ATOMIC.terminated,
      error_msg: 'terminated',
      script_exit_code: exit,
    };
  if (rec.exitCode === null && !rec.killed)
    // Not run: the host was not connected (ExecService's offline row).
    return {
      status: SCRIPT_STATUS.failed,
      error_code: ATOMIC.agentAbnormal,
      error_msg: rec.stderrTail,
      script_exit_code: 0,
    };
  if (rec.stderrTail.startsWith('gse-agent: refused to run:'))
    return {
      status: SCRIPT_STATUS.failed,
      error_code: ATOMIC.noUser,
      error_msg: rec.stderrTail,
      script_exit_code: exit,
    };
  return {
    status: SCRIPT_STATUS.failed,
    error_code: ATOMIC.done,
    error_msg: rec.exitCode === null ? rec.stderrTail || 'killed' : 'non-zero exit',
    script_exit_code: exit,
  };
}

/** Per-task serialization of polls, so two concurrent polls never both send a waiting atomic task. */
const polling = new Map<string, Promise<unknown>>();

function serialized<T>(taskId: string, run: () => Promise<T>): Promise<T> {
  const before = polling.get(taskId) ?? Promise.resolve();
  const next = before.then(run, run);
  const tail: Promise<unknown> = next
    .catch(() => {})
    .then(() => {
      if (polling.get(taskId) === tail) polling.delete(taskId);
    });
  polling.set(taskId, tail);
  return next;
}

interface AskedTask {
  agent: ScriptAgent;
  atomicTaskId: number;
  offset: number;
  limit?: number;
}

function readAsked(req: Json, doc: ScriptTaskDoc): AskedTask[] {
  if (req.agent_tasks === undefined)
    return doc.agents.flatMap((agent) => doc.atomic.map((t) => ({ agent, atomicTaskId: t.id, offset: 0 })));
  const list = arr(req.agent_tasks, 'agent_tasks');
  if (list.length > MAX_RESULT_AGENTS)
    throw badRequest(`agent_tasks: at most ${MAX_RESULT_AGENTS} agents a call, got ${list.length}`);
  return list.flatMap((raw, i) => {
    const a = obj(raw, `agent_tasks[${i}]`);
    const agentId = nonEmptyStr(a.bk_agent_id, `agent_tasks[${i}].bk_agent_id`);
    const containerId = str(a.bk_container_id, `agent_tasks[${i}].bk_container_id`, '');
    const agent = doc.agents.find((x) => x.agentId === agentId) ?? { agentId, containerId, hostId: null };
    const tasks =
      a.atomic_tasks === undefined
        ? doc.atomic.map((t) => ({ atomic_task_id: t.id }))
        : arr(a.atomic_tasks, `agent_tasks[${i}].atomic_tasks`);
    return tasks.map((rawTask, j) => {
      const t = obj(rawTask, `agent_tasks[${i}].atomic_tasks[${j}]`);
      const path = `agent_tasks[${i}].atomic_tasks[${j}]`;
      const limit = t.limit === undefined ? undefined : int(t.limit, `${path}.limit`);
      return {
        agent: { ...agent, containerId },
        atomicTaskId: int(t.atomic_task_id, `${path}.atomic_task_id`),
        offset: Math.max(0, int(t.offset, `${path}.offset`, 0)),
        ...(limit !== undefined ? { limit } : {}),
      };
    });
  });
}

/** `get_execute_script_result`: `{result: [entry per agent and atomic task]}`. */
export async function getExecuteScriptResult(
  body: unknown,
  port: GseTaskPort,
): Promise<{ result: ScriptResultEntry[] }> {
  const req = obj(body, 'body');
  const taskId = nonEmptyStr(req.task_id, 'task_id');
  return serialized(taskId, async () => {
    const doc = await getTaskDoc(port.store, taskId, 'script');
    const asked = readAsked(req, doc);
    const result: ScriptResultEntry[] = [];
    for (const a of asked) {
      const task = doc.atomic.find((t) => t.id === a.atomicTaskId);
      if (!task) throw badRequest(`atomic_task_id ${a.atomicTaskId}: not an atomic task of ${taskId}`);
      const rec = await recordFor(port, taskId, doc, task, a.agent);
      const outcome = scriptOutcome(rec, doc.terminated?.includes(a.agent.agentId) === true);
      const now = port.now();
      result.push({
        bk_agent_id: a.agent.agentId,
        bk_container_id: a.agent.containerId,
        atomic_task_id: task.id,
        ...outcome,
        start_time: rec ? Date.parse(rec.startedAt) : now,
        end_time: rec?.finishedAt ? Date.parse(rec.finishedAt) : rec ? 0 : now,
        tag: '',
        screen: rec ? screenFrom(rec.stdoutTail + rec.stderrTail, a.offset, a.limit) : '',
      });
    }
    return { result };
  });
}

/**
 * The record of one atomic task on one agent. A task still waiting is sent now when its prerequisites all
 * succeeded there; one whose prerequisite failed (or a terminated task) answers as discarded.
 */
async function recordFor(
  port: GseTaskPort,
  taskId: string,
  doc: ScriptTaskDoc,
  task: ScriptAtomicTask,
  agent: ScriptAgent,
): Promise<ExecutionRecord | undefined> {
  if (agent.hostId === null) return undefined;
  const rec = await port.store.getExecution(execId(taskId, task.id), agent.hostId);
  if (rec || task.after.length === 0) return rec;
  const before = await Promise.all(
    task.after.map((id) => port.store.getExecution(execId(taskId, id), agent.hostId as string)),
  );
  const waiting = (why: string, status: ExecutionRecord['status']): ExecutionRecord => ({
    id: execId(taskId, task.id),
    hostId: agent.hostId as string,
    reason: 'adhoc',
    command: task.command,
    status,
    exitCode: null,
    signal: null,
    stdoutTail: '',
    stderrTail: why,
    startedAt: new Date(port.now()).toISOString(),
    timedOut: false,
    killed: status !== 'running',
  });
  if (doc.terminated?.includes(agent.agentId)) return waiting('terminated before it started', 'failed');
  if (before.some((r) => r !== undefined && r.status !== 'running' && r.status !== 'succeeded'))
    return waiting(`not run: atomic task ${task.after.join(', ')} did not succeed`, 'failed');
  if (!before.every((r) => r?.status === 'succeeded')) return waiting('', 'running');
  await sendAtomic(port, taskId, doc, task, [agent]);
  return port.store.getExecution(execId(taskId, task.id), agent.hostId);
}

/** `async_terminate_execute_script`: kills the task's running executions on the agents named (default all). */
export async function terminateScript(body: unknown, port: GseTaskPort): Promise<TaskSubmitted> {
  const req = obj(body, 'body');
  const taskId = nonEmptyStr(req.task_id, 'task_id');
  // Serialized with the polls, so none sends a waiting atomic task while the terminate is recorded.
  return serialized(taskId, () => terminate(req, taskId, port));
}

async function terminate(req: Json, taskId: string, port: GseTaskPort): Promise<TaskSubmitted> {
  const doc = await getTaskDoc(port.store, taskId, 'script');
  const named =
    req.agents === undefined
      ? undefined
      : new Set(
          arr(req.agents, 'agents').map((raw, i) =>
            nonEmptyStr(obj(raw, `agents[${i}]`).bk_agent_id, `agents[${i}].bk_agent_id`),
          ),
        );
  const agents = doc.agents.filter((a) => named === undefined || named.has(a.agentId));
  const hosts = agents.filter((a) => a.hostId !== null).map((a) => a.hostId as string);
  const terminated = [...new Set([...(doc.terminated ?? []), ...agents.map((a) => a.agentId)])];
  await putTaskDoc(port.store, taskId, { ...doc, terminated });
  for (const t of doc.atomic) port.exec.cancel(execId(taskId, t.id), hosts);
  return { result: { task_id: taskId } };
}
