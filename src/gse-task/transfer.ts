/**
 * bk-job's file calls (GSE.md §7.3): `async_transfer_file` sends each source file to each target agent as a
 * `putFile` task (record id `<task id>/<n>`, reason `transfer`), and `get_transfer_file_result` answers from
 * those records in GSE's fields. The controller is the file source for its fleet: a source
 * `store_dir/file_name` is read under the controller's `--artifact-dir`, whatever source agent is named
 * (bk-job names its own file worker), and the content travels in the task message.
 */
import type { ExecutionRecord } from '../store/types.js';
import { AgentIndex } from './agents.js';
import { ATOMIC, badRequest, SCRIPT_STATUS } from './errors.js';
import type { GseCallContext, GseTaskPort } from './port.js';
import { arr, int, type Json, nonEmpty, nonEmptyStr, obj, str } from './read.js';
import type { TaskSubmitted } from './script.js';
import {
  execId,
  getTaskDoc,
  newTaskId,
  putTaskDoc,
  type TransferEntry,
  type TransferTaskDoc,
} from './task-docs.js';

/** Largest file one transfer carries (its base64 must fit the 4 MiB frame with room to spare). */
export const MAX_TRANSFER_BYTES = 2 * 1024 * 1024;
/** GSE's `mode` of a result entry (GSE.md §7.3). */
export const TRANSFER_MODE = { upload: 0, download: 1 } as const;

/** `permission` as GSE's callers send it (644, "0644", "755") -> mode bits. */
export function parsePermission(value: unknown, path: string): number | undefined {
  if (value === undefined || value === null || value === '' || value === 0) return undefined;
  const text = String(value);
  if (!/^[0-7]{3,4}$/.test(text))
    throw badRequest(`${path}: ${JSON.stringify(value)} is not an octal mode such as 644`);
  return Number.parseInt(text, 8);
}

function agentOf(raw: unknown, path: string): { agentId: string; containerId: string; user: string } {
  const a = obj(raw, path);
  return {
    agentId: nonEmptyStr(a.bk_agent_id, `${path}.bk_agent_id`),
    containerId: str(a.bk_container_id, `${path}.bk_container_id`, ''),
    user: str(a.user, `${path}.user`, ''),
  };
}

function joinPath(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, '')}/${name}`;
}

/** `async_transfer_file`: answers `{result: {task_id}}` once every target was sent its file (or refused). */
export async function transferFile(
  body: unknown,
  ctx: GseCallContext,
  port: GseTaskPort,
): Promise<TaskSubmitted> {
  const req = obj(body, 'body');
  const autoMkdir = req.auto_mkdir === undefined ? true : req.auto_mkdir === true || req.auto_mkdir === 1;
  // GSE's overall deadline is checked but not needed: a write is one local step the agent bounds itself.
  int(req.timeout_seconds, 'timeout_seconds', 0);
  const index = new AgentIndex(port.hosts());
  const entries: TransferEntry[] = [];
  const sends: Array<{ entry: TransferEntry; content: string; mode?: number; owner?: string }> = [];
  const tasks = nonEmpty(req.tasks, 'tasks');
  for (const [i, raw] of tasks.entries()) {
    const t = obj(raw, `tasks[${i}]`);
    const source = obj(t.source, `tasks[${i}].source`);
    const target = obj(t.target, `tasks[${i}].target`);
    const sourceName = str(source.file_name, `tasks[${i}].source.file_name`);
    if (sourceName === '' || sourceName.includes('/'))
      throw badRequest(
        `tasks[${i}].source.file_name: must name one file (whole directories are not supported)`,
      );
    const sourceDir = str(source.store_dir, `tasks[${i}].source.store_dir`, '');
    // The controller is the source whatever agent is named; bk-job names its file worker, others may not.
    const sourceAgent =
      source.agent === undefined
        ? { agentId: '', containerId: '' }
        : agentOf(source.agent, `tasks[${i}].source.agent`);
    const destDir = nonEmptyStr(target.store_dir, `tasks[${i}].target.store_dir`);
    if (!destDir.startsWith('/')) throw badRequest(`tasks[${i}].target.store_dir: must be an absolute path`);
    const destName = str(target.file_name, `tasks[${i}].target.file_name`, '') || sourceName;
    if (destName.includes('/'))
      throw badRequest(`tasks[${i}].target.file_name: must be a file name, not a path`);
    const mode = parsePermission(target.permission, `tasks[${i}].target.permission`);
    const owner = str(target.owner, `tasks[${i}].target.owner`, '');
    const bytes = await port.readSource(sourceDir, sourceName);
    const tooLarge = bytes.length > MAX_TRANSFER_BYTES;
    const content = tooLarge ? '' : bytes.toString('base64');
    for (const [j, rawAgent] of nonEmpty(target.agents, `tasks[${i}].target.agents`).entries()) {
      const dest = agentOf(rawAgent, `tasks[${i}].target.agents[${j}]`);
      const entry: TransferEntry = {
        n: entries.length,
        sourceAgentId: sourceAgent.agentId,
        sourceContainerId: sourceAgent.containerId,
        sourceDir,
        sourceName,
        destAgentId: dest.agentId,
        destContainerId: dest.containerId,
        destDir,
        destName,
        hostId: index.resolve(dest.agentId)?.hostId ?? null,
        size: bytes.length,
        ...(tooLarge
          ? {
              error: {
                code: ATOMIC.fileTooLarge,
                message: `file is ${bytes.length} bytes; at most ${MAX_TRANSFER_BYTES} a transfer`,
              },
            }
          : {}),
      };
      entries.push(entry);
      const fileOwner = owner || dest.user;
      if (!tooLarge && entry.hostId !== null)
        sends.push({
          entry,
          content,
          ...(mode !== undefined ? { mode } : {}),
          ...(fileOwner ? { owner: fileOwner } : {}),
        });
    }
  }
  const taskId = newTaskId('transfer', port.newId());
  const doc: TransferTaskDoc = {
    kind: 'transfer',
    createdAt: new Date(port.now()).toISOString(),
    by: ctx.caller,
    entries,
  };
  await putTaskDoc(port.store, taskId, doc);
  for (const s of sends) {
    const id = execId(taskId, s.entry.n);
    const path = joinPath(s.entry.destDir, s.entry.destName);
    await port.exec.startOnHosts([s.entry.hostId as string], {
      taskId: id,
      reason: 'transfer',
      command: `transfer ${joinPath(s.entry.sourceDir, s.entry.sourceName)} -> ${path}`,
      requestedBy: ctx.caller,
      message: (_host, msgId) => ({
        v: 1,
        type: 'putFile',
        id: msgId,
        taskId: id,
        reason: 'transfer',
        path,
        content: s.content,
        mkdir: autoMkdir,
        ...(s.mode !== undefined ? { mode: s.mode } : {}),
        ...(s.owner ? { owner: s.owner } : {}),
      }),
    });
  }
  return { result: { task_id: taskId } };
}

/** One `data.result[]` entry of `get_transfer_file_result`. */
export interface TransferResultEntry {
  error_code: number;
  error_msg: string;
  content: {
    mode: number;
    source_agent_id: string;
    source_container_id: string;
    source_file_dir: string;
    source_file_name: string;
    dest_agent_id: string;
    dest_container_id: string;
    dest_file_dir: string;
    dest_file_name: string;
    progress: number;
    speed: number;
    size: number;
    status: number;
    status_info: string;
    start_time: number;
    end_time: number;
  };
}

/** The error code, status and message of one target's record (pure). */
export function transferOutcome(
  entry: TransferEntry,
  rec: ExecutionRecord | undefined,
): { code: number; status: number; message: string } {
  if (entry.error)
    return { code: entry.error.code, status: SCRIPT_STATUS.failed, message: entry.error.message };
  if (!rec)
    return {
      code: ATOMIC.agentAbnormal,
      status: SCRIPT_STATUS.failed,
      message: 'agent not found in this fleet',
    };
  if (rec.status === 'running') return { code: ATOMIC.running, status: SCRIPT_STATUS.running, message: '' };
  if (rec.status === 'succeeded')
    return { code: ATOMIC.done, status: SCRIPT_STATUS.success, message: 'success' };
  if (rec.exitCode === null && !rec.killed)
    return { code: ATOMIC.agentAbnormal, status: SCRIPT_STATUS.failed, message: rec.stderrTail };
  return { code: ATOMIC.fileError, status: SCRIPT_STATUS.failed, message: rec.stderrTail || 'write failed' };
}

function askedAgents(req: Json): Set<string> | undefined {
  if (req.agents !== undefined)
    return new Set(arr(req.agents, 'agents').map((raw, i) => agentOf(raw, `agents[${i}]`).agentId));
  if (req.agent_id_list !== undefined)
    return new Set(
      arr(req.agent_id_list, 'agent_id_list').map((v, i) => nonEmptyStr(v, `agent_id_list[${i}]`)),
    );
  return undefined;
}

/**
 * `get_transfer_file_result`: one download entry (mode 1) per target, and one upload entry (mode 0) per
 * source file, already done since the controller holds the bytes; `agents` / `agent_id_list` filter them.
 */
export async function getTransferFileResult(
  body: unknown,
  port: GseTaskPort,
): Promise<{ result: TransferResultEntry[] }> {
  const req = obj(body, 'body');
  const taskId = nonEmptyStr(req.task_id, 'task_id');
  const doc = await getTaskDoc(port.store, taskId, 'transfer');
  const asked = askedAgents(req);
  const created = Date.parse(doc.createdAt);
  const result: TransferResultEntry[] = [];
  const uploads = new Set<string>();
  for (const e of doc.entries) {
    const base = {
      source_agent_id: e.sourceAgentId,
      source_container_id: e.sourceContainerId,
      source_file_dir: e.sourceDir,
      source_file_name: e.sourceName,
      speed: 0,
      size: e.size,
    };
    const uploadKey = `${e.sourceAgentId}\0${e.sourceDir}\0${e.sourceName}`;
    if (!uploads.has(uploadKey) && (asked === undefined || asked.has(e.sourceAgentId))) {
      uploads.add(uploadKey);
      result.push({
        error_code: ATOMIC.done,
        error_msg: 'success',
        content: {
          ...base,
          mode: TRANSFER_MODE.upload,
          dest_agent_id: '',
          dest_container_id: '',
          dest_file_dir: '',
          dest_file_name: '',
          progress: 100,
          status: SCRIPT_STATUS.success,
          status_info: 'read on the controller',
          start_time: created,
          end_time: created,
        },
      });
    }
    if (asked !== undefined && !asked.has(e.destAgentId)) continue;
    const rec = e.hostId === null ? undefined : await port.store.getExecution(execId(taskId, e.n), e.hostId);
    const o = transferOutcome(e, rec);
    result.push({
      error_code: o.code,
      error_msg: o.message,
      content: {
        ...base,
        mode: TRANSFER_MODE.download,
        dest_agent_id: e.destAgentId,
        dest_container_id: e.destContainerId,
        dest_file_dir: e.destDir,
        dest_file_name: e.destName,
        progress: o.code === ATOMIC.done ? 100 : 0,
        status: o.status,
        status_info: o.message,
        start_time: rec ? Date.parse(rec.startedAt) : created,
        end_time: rec?.finishedAt ? Date.parse(rec.finishedAt) : rec ? 0 : created,
      },
    });
  }
  return { result };
}
