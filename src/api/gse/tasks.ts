/**
 * bk-job's task calls (GSE.md §7.1-7.4) and bk-nodeman's process operations (§6, §7.5) as GSE actions: each
 * wraps a src/gse-task handler, which returns the `data` of GSE's answer or throws that module's GseError;
 * a refusal is GSE's envelope `{result: false, code}` with HTTP 200, as GSE answers. Submits name their task
 * id in the audit line, refusals their reason (the dispatcher merges `ctx.auditDetail` into its record).
 */
import {
  executeScript,
  type GseCallContext,
  GseError as GseTaskError,
  type GseTaskPort,
  getExecuteScriptResult,
  getProcOperateResult,
  getTransferFileResult,
  operateProc,
  operateProcMulti,
  terminateScript,
  transferFile,
} from '../../gse-task/index.js';
import { GSE_BAD_REQUEST, gseFail, gseOk } from './envelope.js';
import { type GseAction, type GseHandler, read, write } from './types.js';

type TaskCall = (body: unknown, ctx: GseCallContext, port: GseTaskPort) => Promise<unknown>;

function taskIdOf(data: unknown): string | undefined {
  const d = data as { task_id?: unknown; result?: { task_id?: unknown } } | null;
  const id = d?.task_id ?? d?.result?.task_id;
  return typeof id === 'string' ? id : undefined;
}

/** A GseHandler over a gse-task call; "not available" when the controller gives no task port. */
export function taskHandler(call: TaskCall): GseHandler {
  return async ({ action, body, actor, username, port, ctx }) => {
    if (!port.gseTasks) return gseFail(GSE_BAD_REQUEST, `${action}: not available on this controller`);
    try {
      // The person behind the tool (bk_username) when it says, else the token: records and commits name them.
      const data = await call(body, { caller: username ?? actor.name }, port.gseTasks);
      const taskId = taskIdOf(data);
      if (taskId !== undefined) ctx.auditDetail = { task_id: taskId };
      return gseOk(data);
    } catch (err) {
      if (!(err instanceof GseTaskError)) throw err;
      ctx.auditDetail = { refused: err.message };
      return gseFail(err.gseCode, err.message);
    }
  };
}

const submit = (call: TaskCall): GseAction => write(taskHandler(call));
const poll = (call: (body: unknown, port: GseTaskPort) => Promise<unknown>): GseAction =>
  read(taskHandler((body, _ctx, port) => call(body, port)));

export const executeScriptAction = submit(executeScript);
export const scriptResultAction = poll(getExecuteScriptResult);
export const terminateScriptAction = submit((body, _ctx, port) => terminateScript(body, port));
export const transferFileAction = submit(transferFile);
export const transferResultAction = poll(getTransferFileResult);
export const operateProcMultiAction = submit(operateProcMulti);
/** One operation without the `proc_operate_req` wrapper (bk-nodemgr's `operate_proc_v2`, ESB `operate_proc`). */
export const operateProcAction = submit(operateProc);
export const procResultAction = poll(getProcOperateResult);
/** The legacy `get_proc_operate_result`: keys carry the supplier (`cloud:supplier:ip:ns:name`). */
export const procResultLegacyAction = poll((body, port) => getProcOperateResult(body, port, true));

/** bk-job's script and file calls, by the names both the `task/extensions/` and the older `task/` paths use. */
export const TASK_ACTIONS: Readonly<Record<string, GseAction>> = {
  async_execute_script: executeScriptAction,
  get_execute_script_result: scriptResultAction,
  async_terminate_execute_script: terminateScriptAction,
  async_transfer_file: transferFileAction,
  get_transfer_file_result: transferResultAction,
};

/** bk-nodeman's process operations (`proc/...`, GSE.md §7.5). */
export const PROC_ACTIONS: Readonly<Record<string, GseAction>> = {
  operate_proc_multi: operateProcMultiAction,
  operate_proc_v2: operateProcAction,
  get_proc_operate_result_v2: procResultAction,
};
