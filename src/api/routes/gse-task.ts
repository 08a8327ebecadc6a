/**
 * GSE's task calls (bk-job, GSE.md §7.1-7.4) and process operations (bk-nodeman, §6, §7.5) under the
 * `/api/v1/gse/<action>` style, one line per action: the handlers live in src/gse-task and return the `data`
 * of GSE's answer or throw a GseError, which answers `{result: false, code, message, data: null}` with HTTP
 * 200, as GSE does. Submits change the fleet (operator, audited); result polls change nothing (viewer).
 */
import {
  executeScript,
  type GseCallContext,
  GseError,
  type GseTaskPort,
  getExecuteScriptResult,
  getProcOperateResult,
  getTransferFileResult,
  operateProc,
  operateProcMulti,
  terminateScript,
  transferFile,
} from '../../gse-task/index.js';
import { GSE_BAD_REQUEST, gseOk } from '../gse-status.js';
import type { ApiPort } from '../port.js';
import type { Route } from '../router.js';

type Call = (body: unknown, ctx: GseCallContext, port: GseTaskPort) => Promise<unknown>;

/** A POST under /api/v1/gse/ answering in GSE's envelope. */
function gseCall(port: ApiPort, action: string, write: boolean, call: Call): Route {
  return {
    method: 'POST',
    pattern: `/api/v1/gse/${action}`,
    role: write ? 'operator' : 'viewer',
    ...(write ? {} : { readOnly: true }),
    handler: async (ctx) => {
      const body = await ctx.json();
      if (!port.gseTasks)
        return {
          result: false,
          code: GSE_BAD_REQUEST,
          message: `${action}: not available on this controller`,
          data: null,
        };
      try {
        const data = await call(body, { caller: ctx.actor?.name ?? 'unknown' }, port.gseTasks);
        if (write) ctx.auditDetail = { action, task_id: taskIdOf(data) };
        return gseOk(data);
      } catch (err) {
        if (!(err instanceof GseError)) throw err;
        if (write) ctx.auditDetail = { action, refused: err.message };
        return { result: false, code: err.gseCode, message: err.message, data: null };
      }
    },
  };
}

function taskIdOf(data: unknown): string | null {
  const d = data as { task_id?: unknown; result?: { task_id?: unknown } } | null;
  const id = d?.task_id ?? d?.result?.task_id;
  return typeof id === 'string' ? id : null;
}

/** The GSE task and process routes. */
export function gseTaskRoutes(port: ApiPort): Route[] {
  return [
    gseCall(port, 'async_execute_script', true, executeScript),
    gseCall(port, 'get_execute_script_result', false, (b, _c, p) => getExecuteScriptResult(b, p)),
    gseCall(port, 'async_terminate_execute_script', true, (b, _c, p) => terminateScript(b, p)),
    gseCall(port, 'async_transfer_file', true, transferFile),
    gseCall(port, 'get_transfer_file_result', false, (b, _c, p) => getTransferFileResult(b, p)),
    gseCall(port, 'operate_proc_multi', true, operateProcMulti),
    gseCall(port, 'operate_proc_v2', true, operateProc),
    gseCall(port, 'get_proc_operate_result_v2', false, (b, _c, p) => getProcOperateResult(b, p)),
    gseCall(port, 'get_proc_operate_result', false, (b, _c, p) => getProcOperateResult(b, p, true)),
  ];
}
