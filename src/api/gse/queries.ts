/**
 * The GSE queries that change nothing (GSE.md §3.3, §3.6, §4): data routes from the applied revision's
 * Route and StreamTarget specs, agent and process status from the fleet. A bad condition answers a failed
 * envelope with HTTP 200, as GSE does.
 */
import { buildQueryRoute, buildQueryStreamTo } from '../../routing/index.js';
import { GSE_BAD_REQUEST, GSE_ROUTE_NOT_FOUND, type GseEnvelope, gseFail, gseOk } from './envelope.js';
import { type FleetHostView, getAgentStatus, getProcStatus, listAgentState } from './status.js';
import type { GseCall, GseHandler } from './types.js';

/** The `condition` object of a query body; `{}` when absent or not an object. */
function condition(body: Record<string, unknown>): Record<string, unknown> {
  return typeof body.condition === 'object' && body.condition !== null && !Array.isArray(body.condition)
    ? (body.condition as Record<string, unknown>)
    : {};
}

function intField(cond: Record<string, unknown>, name: string): number | undefined | GseEnvelope<null> {
  if (cond[name] === undefined || cond[name] === null) return undefined;
  const n = Number(cond[name]);
  if (!Number.isInteger(n))
    return gseFail(GSE_BAD_REQUEST, `condition.${name}: "${String(cond[name])}" is not an integer`);
  return n;
}

/** `data/query_route`: the channel with `condition.channel_id` (every Route when absent). */
export const queryRoute: GseHandler = ({ body, port }) => {
  const cond = condition(body);
  const channelId = intField(cond, 'channel_id');
  if (typeof channelId === 'object') return channelId;
  const { Route, StreamTarget } = port.dataSpecs();
  const data = buildQueryRoute(Route, StreamTarget, {
    channel_id: channelId,
    plat_name: typeof cond.plat_name === 'string' ? cond.plat_name : undefined,
  });
  if (channelId !== undefined && data.length === 0)
    return gseFail(GSE_ROUTE_NOT_FOUND, `route ${channelId} not found`);
  return gseOk(data);
};

/** `data/query_streamto`: every StreamTarget, or the one with `condition.stream_to_id`, matching `label`. */
export const queryStreamTo: GseHandler = ({ body, port }) => {
  const cond = condition(body);
  const id = intField(cond, 'stream_to_id');
  if (typeof id === 'object') return id;
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
};

const overFleet =
  (fn: (body: unknown, hosts: FleetHostView[]) => GseEnvelope): GseHandler =>
  ({ body, port }: GseCall) =>
    fn(body, port.fleetView());

export const agentStatus = overFleet(getAgentStatus);
export const agentState = overFleet(listAgentState);
export const procStatus = overFleet(getProcStatus);
