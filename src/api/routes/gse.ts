/**
 * The GSE-compatible queries (GSE.md §3, §4): POSTs that change nothing (so not audited), answering in GSE's
 * envelope; a bad condition is a GSE error envelope with HTTP 200, as GSE does.
 */
import { buildQueryRoute, buildQueryStreamTo } from '../../routing/index.js';
import {
  type FleetHostView,
  GSE_BAD_REQUEST,
  getAgentStatus,
  getProcStatus,
  gseOk,
  listAgentState,
} from '../gse-status.js';
import type { ApiPort } from '../port.js';
import type { RequestContext, Route } from '../router.js';

/** GSE's code for a route that does not exist (GSE.md §2.2). */
export const GSE_ROUTE_NOT_FOUND = 1014505;

function gseError(message: string) {
  return { result: false, code: GSE_BAD_REQUEST, message, data: null };
}

/** The `condition` object of a query body; `{}` when absent or not an object. */
async function condition(ctx: RequestContext): Promise<Record<string, unknown>> {
  const body = await ctx.jsonObject();
  return typeof body.condition === 'object' && body.condition !== null
    ? (body.condition as Record<string, unknown>)
    : {};
}

/** The GSE routes. */
export function gseRoutes(port: ApiPort): Route[] {
  const status =
    (fn: (body: unknown, hosts: FleetHostView[]) => unknown): Route['handler'] =>
    async (ctx) => {
      const body = await ctx.json();
      return fn(body, port.fleetView());
    };
  // Data routes answer from the Route and StreamTarget specs of the applied revision (GSE.md §3).
  return [
    {
      method: 'POST',
      pattern: '/api/v1/gse/query_route',
      role: 'viewer',
      readOnly: true,
      handler: async (ctx) => {
        const cond = await condition(ctx);
        const channelId = cond.channel_id === undefined ? undefined : Number(cond.channel_id);
        if (channelId !== undefined && !Number.isInteger(channelId))
          return gseError(`condition.channel_id: "${String(cond.channel_id)}" is not an integer`);
        const { Route, StreamTarget } = port.dataSpecs();
        const data = buildQueryRoute(Route, StreamTarget, {
          channel_id: channelId,
          plat_name: typeof cond.plat_name === 'string' ? cond.plat_name : undefined,
        });
        if (channelId !== undefined && data.length === 0)
          return {
            result: false,
            code: GSE_ROUTE_NOT_FOUND,
            message: `route ${channelId} not found`,
            data: null,
          };
        return gseOk(data);
      },
    },
    {
      method: 'POST',
      pattern: '/api/v1/gse/query_streamto',
      role: 'viewer',
      readOnly: true,
      handler: async (ctx) => {
        const cond = await condition(ctx);
        const id = cond.stream_to_id === undefined ? undefined : Number(cond.stream_to_id);
        if (id !== undefined && !Number.isInteger(id))
          return gseError(`condition.stream_to_id: "${String(cond.stream_to_id)}" is not an integer`);
        const label =
          typeof cond.label === 'object' && cond.label !== null
            ? (cond.label as Record<string, unknown>)
            : undefined;
        return gseOk(
          buildQueryStreamTo(port.dataSpecs().StreamTarget, {
            stream_to_id: id,
            plat_name: typeof cond.plat_name === 'string' ? cond.plat_name : undefined,
            label,
          }),
        );
      },
    },
    {
      method: 'POST',
      pattern: '/api/v1/gse/get_agent_status',
      role: 'viewer',
      readOnly: true,
      handler: status(getAgentStatus),
    },
    {
      method: 'POST',
      pattern: '/api/v1/gse/list_agent_state',
      role: 'viewer',
      readOnly: true,
      handler: status(listAgentState),
    },
    {
      method: 'POST',
      pattern: '/api/v1/gse/get_proc_status',
      role: 'viewer',
      readOnly: true,
      handler: status(getProcStatus),
    },
  ];
}
