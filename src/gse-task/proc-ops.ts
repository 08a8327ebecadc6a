/**
 * bk-nodeman's process operations (GSE.md §6, §7.5) on ProcessWatch: `operate_proc_multi` takes one item per
 * host and process (`meta.name` is the ProcessWatch's name), `get_proc_operate_result_v2` answers per
 * `"{agent_id}:{namespace}:{name}"`.
 *
 * - START, STOP, RESTART, RELOAD run on the agent (`procOp` task, record `<task id>/<n>`); the commands are
 *   the watch's, else the request's `spec.control` ones.
 * - What must outlast a reconcile is desired state, set through the DesiredStateOverride hook: STOP holds
 *   the watch at `ensure: observed` (set before the stop is sent, so the watch never restarts it), DELEGATE
 *   at `running`, UNDELEGATE at `observed`; a START that succeeded drops a STOP's hold (at the poll that sees
 *   it, so the watch and the operation never both start the process).
 * - STATUS answers from the host's last report.
 */
import type { ManifestProcessWatch } from '../protocol/manifest.js';
import type { ProcOp } from '../protocol/messages.js';
import type { ExecutionRecord } from '../store/types.js';
import { AgentIndex } from './agents.js';
import { badRequest, GSE_TASK_QUEUED, GseError, PROC_CODE } from './errors.js';
import type { ProcessOverride } from './overrides.js';
import type { GseCallContext, GseHost, GseTaskPort } from './port.js';
import { int, type Json, nonEmpty, nonEmptyStr, obj, str } from './read.js';
import { execId, getTaskDoc, newTaskId, type ProcEntry, type ProcTaskDoc, putTaskDoc } from './task-docs.js';

/** `GseOpType` (GSE.md §6). */
export const OP_TYPE = {
  start: 0,
  stop: 1,
  status: 2,
  delegate: 3,
  undelegate: 4,
  restart: 7,
  reload: 8,
} as const;
/** The agent operation of each op_type that runs on the host. */
const AGENT_OPS: Readonly<Record<number, ProcOp>> = {
  [OP_TYPE.start]: 'start',
  [OP_TYPE.stop]: 'stop',
  [OP_TYPE.restart]: 'restart',
  [OP_TYPE.reload]: 'reload',
};
/** `spec.control`'s command of each agent operation. */
const CONTROL_FIELD: Readonly<Record<ProcOp, string>> = {
  start: 'start_cmd',
  stop: 'stop_cmd',
  restart: 'restart_cmd',
  reload: 'reload_cmd',
};
/** An operation's timeout when `alive_monitor_policy.op_timeout` is not given. */
export const DEFAULT_OP_TIMEOUT_S = 60;

/** One target of one request item: the agent id as sent, and the legacy key parts when given as a host. */
interface Target {
  agentId: string;
  legacy?: { cloud: number; supplier: number; ip: string };
}

function targetsOf(item: Json, path: string): Target[] {
  if (item.agent_id_list !== undefined)
    return nonEmpty(item.agent_id_list, `${path}.agent_id_list`).map((v, i) => ({
      agentId: nonEmptyStr(v, `${path}.agent_id_list[${i}]`),
    }));
  if (item.hosts === undefined) throw badRequest(`${path}: needs agent_id_list (GSE 2.0) or hosts (GSE 1.0)`);
  return nonEmpty(item.hosts, `${path}.hosts`).map((raw, i) => {
    const h = obj(raw, `${path}.hosts[${i}]`);
    const ip = nonEmptyStr(h.ip, `${path}.hosts[${i}].ip`);
    const cloud = int(h.bk_cloud_id, `${path}.hosts[${i}].bk_cloud_id`, 0);
    const supplier = int(h.bk_supplier_id, `${path}.hosts[${i}].bk_supplier_id`, 0);
    return { agentId: `${cloud}:${ip}`, legacy: { cloud, supplier, ip } };
  });
}

function watchOf(port: GseTaskPort, hostId: string, name: string): ManifestProcessWatch | undefined {
  return port
    .manifestFor(hostId)
    ?.items.find((i): i is ManifestProcessWatch => i.kind === 'ProcessWatch' && i.name === name);
}

/** The control `content` nodeman's newer clients read (GSE.md §7.5). */
function controlContent(name: string, agentId: string, isAuto: boolean, ok: boolean): string {
  return JSON.stringify({
    value: [
      { procName: name, setupPath: '', result: ok ? 'success' : 'failed', isAuto, bk_agent_id: agentId },
    ],
  });
}

function statusContent(
  name: string,
  watch: ManifestProcessWatch,
  state: { running: boolean; pids: number[] } | undefined,
): string {
  const isAuto = watch.ensure === 'running';
  const pids = state?.running ? state.pids : [-1];
  return JSON.stringify({
    process: [
      { procname: name, instance: pids.map((pid) => ({ processName: name, version: '', isAuto, pid })) },
    ],
  });
}

/** `operate_proc_multi`: `{proc_operate_req: [...]}` -> `{task_id}`. */
export async function operateProcMulti(
  body: unknown,
  ctx: GseCallContext,
  port: GseTaskPort,
): Promise<{ task_id: string }> {
  const req = obj(body, 'body');
  return operate(nonEmpty(req.proc_operate_req, 'proc_operate_req'), 'proc_operate_req', ctx, port);
}

/** `operate_proc_v2` (bk-nodemgr): one item, no wrapper. */
export async function operateProc(
  body: unknown,
  ctx: GseCallContext,
  port: GseTaskPort,
): Promise<{ task_id: string }> {
  return operate([obj(body, 'body')], 'body', ctx, port);
}

async function operate(
  items: unknown[],
  path: string,
  ctx: GseCallContext,
  port: GseTaskPort,
): Promise<{ task_id: string }> {
  const index = new AgentIndex(port.hosts());
  const taskId = newTaskId('proc', port.newId());
  const now = new Date(port.now()).toISOString();
  const entries: ProcEntry[] = [];
  const sends: Array<{ entry: ProcEntry; op: ProcOp; command?: string; timeoutMs: number; host: GseHost }> =
    [];
  const holds: ProcessOverride[] = [];
  for (const [i, raw] of items.entries()) {
    const at = items.length === 1 && path === 'body' ? 'body' : `${path}[${i}]`;
    const item = obj(raw, at);
    const meta = obj(item.meta, `${at}.meta`);
    const name = nonEmptyStr(meta.name, `${at}.meta.name`);
    const namespace = str(meta.namespace, `${at}.meta.namespace`, '');
    const opType = int(item.op_type, `${at}.op_type`);
    const spec = item.spec === undefined ? {} : obj(item.spec, `${at}.spec`);
    const control = spec.control === undefined ? {} : obj(spec.control, `${at}.spec.control`);
    const policy = spec.alive_monitor_policy ?? spec.monitor_policy;
    const opTimeoutS =
      policy === undefined
        ? DEFAULT_OP_TIMEOUT_S
        : int(
            obj(policy, `${at}.spec.alive_monitor_policy`).op_timeout,
            `${at}.spec.alive_monitor_policy.op_timeout`,
            DEFAULT_OP_TIMEOUT_S,
          );
    for (const target of targetsOf(item, at)) {
      const host = index.resolve(target.agentId);
      const entry: ProcEntry = {
        n: entries.length,
        key: `${target.agentId}:${namespace}:${name}`,
        ...(target.legacy
          ? {
              legacyKey: `${target.legacy.cloud}:${target.legacy.supplier}:${target.legacy.ip}:${namespace}:${name}`,
            }
          : {}),
        hostId: host?.hostId ?? null,
        namespace,
        name,
        opType,
      };
      entries.push(entry);
      const settle = (code: number, message: string, content = '') => {
        entry.settled = { code, message, content };
      };
      if (!host) {
        settle(PROC_CODE.agentAbnormal, `agent ${target.agentId} is not a host of this fleet`);
        continue;
      }
      const watch = watchOf(port, host.hostId, name);
      if (!watch) {
        settle(
          PROC_CODE.failed,
          `host ${host.hostId} has no ProcessWatch named ${name}; declare it in Git first`,
        );
        continue;
      }
      const set = (ensure: 'running' | 'observed', op: string) =>
        holds.push({ hostId: host.hostId, name, ensure, op, by: ctx.caller, at: now });
      switch (opType) {
        case OP_TYPE.status:
          settle(PROC_CODE.success, 'success', statusContent(name, watch, port.processOf(host.hostId, name)));
          continue;
        case OP_TYPE.delegate:
          if (watch.start === undefined) {
            settle(
              PROC_CODE.failed,
              `ProcessWatch ${name} declares no start command: it cannot be kept running`,
            );
            continue;
          }
          set('running', 'delegate');
          settle(PROC_CODE.success, 'success', controlContent(name, target.agentId, true, true));
          continue;
        case OP_TYPE.undelegate:
          set('observed', 'undelegate');
          settle(PROC_CODE.success, 'success', controlContent(name, target.agentId, false, true));
          continue;
        default:
          break;
      }
      const op = AGENT_OPS[opType];
      if (op === undefined) {
        settle(
          PROC_CODE.badOpType,
          `op_type ${opType} is not one of 0 start, 1 stop, 2 status, 3 delegate, 4 undelegate, 7 restart, 8 reload`,
        );
        continue;
      }
      if (op === 'stop') set('observed', 'stop');
      const command = control[CONTROL_FIELD[op]];
      sends.push({
        entry,
        op,
        ...(typeof command === 'string' && command !== '' ? { command } : {}),
        timeoutMs: Math.max(1, opTimeoutS) * 1000,
        host,
      });
    }
  }
  // Desired state first, in one write (one commit with write-back): a stopped watch is held at observed
  // before the stop can land, and a write refused (GseError) leaves no task behind.
  if (holds.length > 0) await port.overrides.setAll(holds);
  const doc: ProcTaskDoc = { kind: 'proc', createdAt: now, by: ctx.caller, entries };
  await putTaskDoc(port.store, taskId, doc);
  for (const s of sends) {
    const id = execId(taskId, s.entry.n);
    await port.exec.startOnHosts([s.host.hostId], {
      taskId: id,
      reason: `procOp:ProcessWatch/${s.entry.name}`,
      command: `${s.op} ProcessWatch/${s.entry.name}`,
      requestedBy: ctx.caller,
      message: (_host, msgId) => ({
        v: 1,
        type: 'procOp',
        id: msgId,
        taskId: id,
        reason: `procOp:ProcessWatch/${s.entry.name}`,
        watch: s.entry.name,
        op: s.op,
        ...(s.command !== undefined ? { command: s.command } : {}),
        timeoutMs: s.timeoutMs,
      }),
    });
  }
  return { task_id: taskId };
}

/** One value of the result map. */
export interface ProcResult {
  error_code: number;
  error_msg: string;
  content: string;
}

/** What a record of an agent operation says in GseDataErrCode terms (pure). */
export function procOutcome(rec: ExecutionRecord | undefined): {
  code: number;
  message: string;
  ok: boolean;
} {
  if (!rec) return { code: PROC_CODE.running, message: 'running', ok: false };
  if (rec.status === 'running') return { code: PROC_CODE.running, message: 'running', ok: false };
  if (rec.status === 'succeeded')
    return { code: PROC_CODE.success, message: rec.stdoutTail || 'success', ok: true };
  if (rec.exitCode === null && !rec.killed)
    return { code: PROC_CODE.agentAbnormal, message: rec.stderrTail, ok: false };
  return { code: PROC_CODE.failed, message: rec.stderrTail || rec.stdoutTail || 'failed', ok: false };
}

/**
 * `get_proc_operate_result_v2` (`legacy`: `get_proc_operate_result`, keys with the supplier): the map of
 * every entry's result. While no entry has finished the call answers GSE_TASK_QUEUED (poll again).
 */
export async function getProcOperateResult(
  body: unknown,
  port: GseTaskPort,
  legacy = false,
): Promise<Record<string, ProcResult>> {
  const req = obj(body, 'body');
  const taskId = nonEmptyStr(req.task_id, 'task_id');
  const doc = await getTaskDoc(port.store, taskId, 'proc');
  const data: Record<string, ProcResult> = {};
  let finished = 0;
  for (const e of doc.entries) {
    const key = legacy ? (e.legacyKey ?? e.key) : e.key;
    if (e.settled) {
      finished += 1;
      data[key] = { error_code: e.settled.code, error_msg: e.settled.message, content: e.settled.content };
      continue;
    }
    const rec = e.hostId === null ? undefined : await port.store.getExecution(execId(taskId, e.n), e.hostId);
    const o = procOutcome(rec);
    if (o.code !== PROC_CODE.running) finished += 1;
    if (o.ok && e.opType === OP_TYPE.start && e.hostId !== null) await releaseStop(port, e.hostId, e.name);
    const agentId = e.key.slice(0, e.key.length - `:${e.namespace}:${e.name}`.length);
    const isAuto = e.hostId !== null && watchOf(port, e.hostId, e.name)?.ensure === 'running';
    data[key] = {
      error_code: o.code,
      error_msg: o.message,
      content: o.code === PROC_CODE.running ? '' : controlContent(e.name, agentId, isAuto, o.ok),
    };
  }
  if (finished === 0) throw new GseError(GSE_TASK_QUEUED, `task ${taskId} is still running; poll again`);
  return data;
}

/** Drops a STOP's hold once a START succeeded (Git's `ensure` holds again). */
async function releaseStop(port: GseTaskPort, hostId: string, name: string): Promise<void> {
  const held = port.overrides.forHost(hostId).find((o) => o.name === name);
  if (held?.op === 'stop') await port.overrides.clear(hostId, name);
}
