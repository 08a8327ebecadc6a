/**
 * GSE-compatible agent and process status (GSE.md §4): pure answers over a view of the fleet, in GSE's
 * envelope and field names, so tools written against GSE can read this fleet. A host is found by its
 * gse-gitops agent id, its GSE 2.0 agent id (agent label `bk_agent_id`) or `"{cloud}:{ip}"`.
 */
import { Ajv } from 'ajv';
import { GSE_AGENT_NOT_FOUND, GSE_BAD_REQUEST, type GseEnvelope, gseFail, gseOk } from './envelope.js';

/** What these endpoints need to know of one host (offline hosts included, with their last facts). */
export interface FleetHostView {
  hostId: string;
  /** The host's GSE 2.0 agent id, when its agent carries one (agent label `bk_agent_id`). */
  gseAgentId?: string;
  ips: string[];
  cloudId: number;
  agentVersion?: string;
  alive: boolean;
  /** ProcessWatch name -> what the host last reported; `namespace` is the watch's `gse.namespace` label. */
  processes: Record<string, { running: boolean; ensure: 'running' | 'observed'; namespace?: string }>;
}

export const AGENT_ALIVE = 1;
export const AGENT_NOT_ALIVE = 0;
export const STATUS_RUNNING = 2;
/**
 * A known agent that is not connected. GSE has no code every client names "offline" (GSE.md §4.2: 5 and 6
 * mean different things to nodeman and bk-job); -1 (bk-monitor UNKNOWN, nodeman/bk-job QUERY_FAIL) is read
 * as not alive by all three, without claiming an upgrade or a stop in progress, and is not -2 "not found".
 */
export const STATUS_OFFLINE = -1;
export const PROC_UNREGISTERED = 0;
export const PROC_RUNNING = 1;
export const PROC_STOPPED = 2;
/** The ProcessWatch label that puts a watch in a GSE namespace (nodeman queries `nodeman`). */
export const GSE_NAMESPACE_LABEL = 'gse.namespace';

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

function gseBad(message: string): GseEnvelope<null> {
  return gseFail(GSE_BAD_REQUEST, message);
}

function ajvMessage(errors: typeof validateAgentStatus.errors): string {
  return (errors ?? []).map((e) => `${e.instancePath || 'body'} ${e.message}`).join('; ');
}

/** Finds hosts by agent id, GSE 2.0 agent id or `"cloud:ip"`. */
export interface FleetIndex {
  byCloudIp: Map<string, FleetHostView>;
  find(id: string): FleetHostView | undefined;
}

/** Index of hosts by `"cloud:ip"` and by agent id (both forms). */
export function indexFleet(hosts: FleetHostView[]): FleetIndex {
  const byCloudIp = new Map<string, FleetHostView>();
  const byId = new Map<string, FleetHostView>();
  for (const h of hosts) {
    byId.set(h.hostId, h);
    // GSE 2.0 ids are hex; callers are not consistent about case.
    if (h.gseAgentId) byId.set(h.gseAgentId.toLowerCase(), h);
    for (const ip of h.ips) byCloudIp.set(`${h.cloudId}:${ip}`, h);
  }
  return {
    byCloudIp,
    find: (id) => byId.get(id) ?? byId.get(id.toLowerCase()) ?? byCloudIp.get(id),
  };
}

/** `{cloud, ip}` of a `"cloud:ip"` id, or undefined for another form. */
export function parseCloudIp(id: string): { cloud: number; ip: string } | undefined {
  const m = /^(\d+):(.+)$/.exec(id);
  return m ? { cloud: Number(m[1]), ip: m[2] as string } : undefined;
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

/**
 * `cluster/list_agent_state` (§4.2): `[{bk_agent_id (as asked), bk_cloud_id, version, run_mode, status_code}]`
 * for the known ids (2 connected, STATUS_OFFLINE not, with the host's last cloud id and version); unknown
 * ids are left out, and code 1011003 answers when none is known, as GSE does.
 */
export function listAgentState(body: unknown, hosts: FleetHostView[]): GseEnvelope<unknown> {
  if (!validateListState(body)) return gseBad(ajvMessage(validateListState.errors));
  const fleet = indexFleet(hosts);
  const ids = (body as { agent_id_list: string[] }).agent_id_list;
  const data = [];
  for (const id of ids) {
    const host = fleet.find(id);
    if (!host) continue;
    data.push({
      bk_agent_id: id,
      bk_cloud_id: host.cloudId,
      version: host.agentVersion ?? '',
      run_mode: 0,
      status_code: host.alive ? STATUS_RUNNING : STATUS_OFFLINE,
    });
  }
  if (ids.length > 0 && data.length === 0)
    return gseFail(GSE_AGENT_NOT_FOUND, `none of the ${ids.length} agent ids was found`);
  return gseOk(data);
}

/**
 * `get_proc_status` (§4.3): the state of a watched process on the hosts asked for. A process is GSE's
 * `(namespace, name)`: `meta.name` is the ProcessWatch name, and a watch with a `gse.namespace` label is
 * found only under that namespace (`meta.namespace`, else the top-level `namespace`); a watch without the
 * label is found under any. Unknown hosts and unmatched processes answer 0 (UNREGISTER).
 */
export function getProcStatus(body: unknown, hosts: FleetHostView[]): GseEnvelope<unknown> {
  if (!validateProcStatus(body)) return gseBad(ajvMessage(validateProcStatus.errors));
  const req = body as {
    meta: { name: string; namespace?: string; labels?: Record<string, string> };
    hosts?: Array<{ ip: string; bk_cloud_id?: number | string }>;
    agent_id_list?: string[];
    namespace?: string;
  };
  const namespace = req.meta.namespace ?? req.namespace ?? '';
  const fleet = indexFleet(hosts);
  const asked: Array<{ ip: string; cloud: number; host: FleetHostView | undefined; agentId: string }> = [];
  for (const h of req.hosts ?? []) {
    const cloud = Number(h.bk_cloud_id ?? 0);
    const host = fleet.byCloudIp.get(`${cloud}:${h.ip}`);
    asked.push({ ip: h.ip, cloud, host, agentId: host?.gseAgentId ?? host?.hostId ?? '' });
  }
  for (const id of req.agent_id_list ?? []) {
    const host = fleet.find(id);
    const cloudIp = parseCloudIp(id);
    asked.push({
      ip: cloudIp?.ip ?? host?.ips[0] ?? '',
      cloud: host?.cloudId ?? cloudIp?.cloud ?? 0,
      host,
      agentId: id,
    });
  }
  const procInfos = asked.map(({ ip, cloud, host, agentId }) => {
    const watched = host?.processes[req.meta.name];
    const proc =
      watched && (watched.namespace === undefined || watched.namespace === namespace) ? watched : undefined;
    const status = !proc || !host?.alive ? PROC_UNREGISTERED : proc.running ? PROC_RUNNING : PROC_STOPPED;
    return {
      host: { ip, bk_cloud_id: cloud },
      bk_agent_id: agentId,
      status,
      version: host?.agentVersion ?? '',
      isauto: proc?.ensure === 'running',
      meta: {
        name: req.meta.name,
        namespace,
        labels: req.meta.labels ?? { proc_name: req.meta.name },
      },
    };
  });
  return gseOk({ proc_infos: procInfos });
}
