/**
 * The one GSE dispatch table: path family -> action name -> handler (GSE.md §2.1, §7.1). A family is where
 * the action sits under a base URL; FAMILY_PATHS says which URL prefixes reach it. Register an action with
 * one line in its family (`read(...)` for queries, `write(...)` for calls that change something, which
 * the dispatcher audits). `/api/v1/gse/<action>` reaches every action by its name (first family wins).
 */
import { agentState, agentStatus, procStatus, queryRoute, queryStreamTo } from './queries.js';
import {
  operateProcAction,
  operateProcMultiAction,
  PROC_ACTIONS,
  procResultAction,
  procResultLegacyAction,
  TASK_ACTIONS,
  transferFileAction,
  transferResultAction,
} from './tasks.js';
import { type GseAction, read } from './types.js';
import { DATA_WRITE_ACTIONS, ESB_WRITE_ACTIONS } from './writes.js';

export type GseActionTable = Record<string, Record<string, GseAction>>;

export const GSE_ACTIONS: GseActionTable = {
  /** `{base}/<action>`: the gateway's unprefixed actions. */
  root: {
    get_agent_status: read(agentStatus),
    get_proc_status: read(procStatus),
  },
  cluster: {
    list_agent_state: read(agentState),
  },
  data: {
    query_route: read(queryRoute),
    query_streamto: read(queryStreamTo),
    get_proc_status: read(procStatus), // datalink's path
    ...DATA_WRITE_ACTIONS, // committed to Git by the write-back (writes.ts)
  },
  proc: {
    get_proc_status_v2: read(procStatus), // nodeman's path
    ...PROC_ACTIONS,
  },
  /** bk-job and bk-nodemgr today (§7.1); `async_terminate_transfer_file` is not served (GSE-MAPPING.md). */
  'task/extensions': { ...TASK_ACTIONS },
  /** The older task paths (before bk-job 21579f2b; bk-cmdb still calls `task/async_push_file`). */
  task: { ...TASK_ACTIONS, async_push_file: transferFileAction },
  /** `task/async/get_transfer_file_result` (bk-cmdb). */
  'task/async': { get_transfer_file_result: transferResultAction },
  /** The legacy ESB names (`/api/c/compapi/v2/gse/<action>/`). */
  esb: {
    get_agent_status: read(agentStatus),
    get_proc_status: read(procStatus),
    list_agent_state: read(agentState),
    config_query_route: read(queryRoute),
    config_query_streamto: read(queryStreamTo),
    ...ESB_WRITE_ACTIONS,
    ...TASK_ACTIONS,
    async_push_file: transferFileAction,
    operate_proc_multi: operateProcMultiAction,
    operate_proc: operateProcAction,
    get_proc_operate_result_v2: procResultAction,
    get_proc_operate_result: procResultLegacyAction,
  },
};

/** The gateway bases (GSE.md §2.1): `BKGSE_APIGW_BASE_URL` and the component URL's `bk-gse/prod`. */
const V2_BASES = ['/api/v2/', '/api/bk-gse/prod/api/v2/'];
const V2_FAMILIES = ['cluster', 'data', 'proc', 'task/extensions', 'task/async', 'task'];

/** URL prefix -> family; every prefix ends with `/` and is followed by the action. */
export const FAMILY_PATHS: ReadonlyArray<{ prefix: string; family: string }> = [
  ...V2_BASES.flatMap((base) => [
    ...V2_FAMILIES.map((family) => ({ prefix: `${base}${family}/`, family })),
    { prefix: base, family: 'root' },
  ]),
  { prefix: '/api/c/compapi/v2/gse/', family: 'esb' },
  { prefix: '/api/v1/gse/', family: 'v1' },
];

/** GSE actions this API does not serve, so their 404 says more than "unknown" (docs/GSE-MAPPING.md). */
export const NOT_SERVED: Readonly<Record<string, string>> = {
  async_terminate_transfer_file: 'a transfer is one local write per agent, there is nothing to terminate',
  update_proc_info: 'process definitions change through Git: edit the ProcessWatch spec instead',
};

/** The action `action` of `family` in `table` (`v1` looks in every family). */
export function findAction(table: GseActionTable, family: string, action: string): GseAction | undefined {
  if (family !== 'v1')
    return Object.hasOwn(table[family] ?? {}, action) ? table[family]?.[action] : undefined;
  for (const actions of Object.values(table)) if (Object.hasOwn(actions, action)) return actions[action];
  return undefined;
}
