/**
 * GSE-compatible agent and process status (GSE.md §4): pure answers over a view of the live fleet, in
 * GSE's envelope and field names, so tools written against GSE can read this fleet.
 */
import { Ajv } from 'ajv';

/** What these endpoints need to know of one host. */
export interface FleetHostView {
  hostId: string;
  ips: string[];
  cloudId: number;
  agentVersion?: string;
  alive: boolean;
  /** ProcessWatch name -> what the host last reported. */
  processes: Record<string, { running: boolean; ensure: 'running' | 'observed' }>;
}

export interface GseEnvelope<T> {
  result: boolean;
  code: number;
  message: string;
  data: T;
}

export const GSE_OK = 0;
/** GSE's "parameter invalid" family; the exact number is not load-bearing for callers, `result` is. */
export const GSE_BAD_REQUEST = 1000001;
export const AGENT_ALIVE = 1;
export const AGENT_NOT_ALIVE = 0;
export const STATUS_RUNNING = 2;
export const STATUS_NOT_FOUND = -2;
export const PROC_UNREGISTERED = 0;
export const PROC_RUNNING = 1;
export const PROC_STOPPED = 2;

const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
const hostsSchema = {
  type: 'array',
  items: {
    type: 'object',
    required: ['ip'],
    properties: { ip: { type: 'string' }, bk_cloud_id: { type: ['integer', 'string'] } },
  },
} as const;
const validateAgentStatus = ajv.compile({
  type: 'object',
  required: ['hosts'],
  properties: { hosts: hostsSchema },
});
const validateListState = ajv.compile({
  type: 'object',
  required: ['agent_id_list'],
  properties: { agent_id_list: { type: 'array', items: { type: 'string' } } },
});
const validateProcStatus = ajv.compile({
  type: 'object',
  required: ['meta'],
  properties: {
    meta: {
      type: 'object',
      required: ['name'],
      properties: { name: { type: 'string' }, namespace: { type: 'string' } },
    },
    hosts: hostsSchema,
    agent_id_list: { type: 'array', items: { type: 'string' } },
    namespace: { type: 'string' },
  },
});

/** The success envelope. */
export function gseOk<T>(data: T): GseEnvelope<T> {
  return { result: true, code: GSE_OK, message: 'success', data };
}

function gseBad(message: string): GseEnvelope<null> {
  return { result: false, code: GSE_BAD_REQUEST, message, data: null };
}

function ajvMessage(errors: typeof validateAgentStatus.errors): string {
  return (errors ?? []).map((e) => `${e.instancePath || 'body'} ${e.message}`).join('; ');
}

/** Index of hosts by `"cloud:ip"` and by agent id. */
export function indexFleet(hosts: FleetHostView[]): {
  byCloudIp: Map<string, FleetHostView>;
  byId: Map<string, FleetHostView>;
} {
  const byCloudIp = new Map<string, FleetHostView>();
  const byId = new Map<string, FleetHostView>();
  for (const h of hosts) {
    byId.set(h.hostId, h);
    for (const ip of h.ips) byCloudIp.set(`${h.cloudId}:${ip}`, h);
  }
  return { byCloudIp, byId };
}

/** `get_agent_status` (§4.1): `hosts[{ip, bk_cloud_id}]` -> `{"cloud:ip": {ip, bk_cloud_id, bk_agent_alive}}`. */
export function getAgentStatus(body: unknown, hosts: FleetHostView[]): GseEnvelope<unknown> {
  if (!validateAgentStatus(body)) return gseBad(ajvMessage(validateAgentStatus.errors));
  const { byCloudIp } = indexFleet(hosts);
  const data: Record<string, { ip: string; bk_cloud_id: number; bk_agent_alive: number }> = {};
  for (const h of (body as { hosts: Array<{ ip: string; bk_cloud_id?: number | string }> }).hosts) {
    const cloud = Number(h.bk_cloud_id ?? 0);
    const key = `${cloud}:${h.ip}`;
    data[key] = {
      ip: h.ip,
      bk_cloud_id: cloud,
      bk_agent_alive: byCloudIp.get(key)?.alive ? AGENT_ALIVE : AGENT_NOT_ALIVE,
    };
  }
  return gseOk(data);
}

/** `cluster/list_agent_state` (§4.2): ids or `"cloud:ip"` -> `[{bk_agent_id, bk_cloud_id, version, run_mode, status_code}]`. */
export function listAgentState(body: unknown, hosts: FleetHostView[]): GseEnvelope<unknown> {
  if (!validateListState(body)) return gseBad(ajvMessage(validateListState.errors));
  const { byCloudIp, byId } = indexFleet(hosts);
  const data = (body as { agent_id_list: string[] }).agent_id_list.map((id) => {
    const host = byId.get(id) ?? byCloudIp.get(id);
    const cloudFromId = /^(\d+):/.exec(id)?.[1];
    return {
      bk_agent_id: id,
      bk_cloud_id: host?.cloudId ?? (cloudFromId ? Number(cloudFromId) : 0),
      version: host?.agentVersion ?? '',
      run_mode: 0,
      status_code: host?.alive ? STATUS_RUNNING : STATUS_NOT_FOUND,
    };
  });
  return gseOk(data);
}

/** `get_proc_status` (§4.3): the state of a watched process on the hosts asked for. */
export function getProcStatus(body: unknown, hosts: FleetHostView[]): GseEnvelope<unknown> {
  if (!validateProcStatus(body)) return gseBad(ajvMessage(validateProcStatus.errors));
  const req = body as {
    meta: { name: string; namespace?: string; labels?: Record<string, string> };
    hosts?: Array<{ ip: string; bk_cloud_id?: number | string }>;
    agent_id_list?: string[];
    namespace?: string;
  };
  const { byCloudIp, byId } = indexFleet(hosts);
  const asked: Array<{ ip: string; cloud: number; host: FleetHostView | undefined; agentId: string }> = [];
  for (const h of req.hosts ?? []) {
    const cloud = Number(h.bk_cloud_id ?? 0);
    const host = byCloudIp.get(`${cloud}:${h.ip}`);
    asked.push({ ip: h.ip, cloud, host, agentId: host?.hostId ?? '' });
  }
  for (const id of req.agent_id_list ?? []) {
    const host = byId.get(id) ?? byCloudIp.get(id);
    asked.push({
      ip: host?.ips[0] ?? id.split(':')[1] ?? '',
      cloud: host?.cloudId ?? 0,
      host,
      agentId: host?.hostId ?? id,
    });
  }
  const procInfos = asked.map(({ ip, cloud, host, agentId }) => {
    const proc = host?.processes[req.meta.name];
    const status = !proc || !host?.alive ? PROC_UNREGISTERED : proc.running ? PROC_RUNNING : PROC_STOPPED;
    return {
      host: { ip, bk_cloud_id: cloud },
      bk_agent_id: agentId,
      status,
      version: host?.agentVersion ?? '',
      isauto: proc?.ensure === 'running',
      meta: {
        name: req.meta.name,
        namespace: req.meta.namespace ?? req.namespace ?? '',
        labels: req.meta.labels ?? { proc_name: req.meta.name },
      },
    };
  });
  return gseOk({ proc_infos: procInfos });
}
