/** Hosts and what they report: the host list and detail, resources, drift, executions, and the diff. */
import { reportedDiff } from '../../controller/resource-diff.js';
import { listSelectedHosts } from '../../controller/selected-hosts.js';
import { parseSelectorText } from '../../controller/selector-text.js';
import { itemKey } from '../../protocol/manifest.js';
import type { Selector } from '../../spec/types.js';
import { badRequest, HttpError, notFound } from '../http-error.js';
import { boolParam, optional, page, syncStateParam, timeParam } from '../params.js';
import type { ApiPort } from '../port.js';
import type { RequestContext, Route } from '../router.js';

/** How many resource statuses a host view and the diff read per host (a host has far fewer). */
const MAX_RESOURCES_PER_HOST = 1000;
/** How many recent drift and execution records the host view shows. */
const RECENT_RECORDS = 20;

/** `?hosts=SELECTOR` (or its older name `?labels=`): the selector syntax of `gsectl exec --hosts`. */
function selectorParam(ctx: RequestContext): Selector | undefined {
  const name = ctx.query.has('hosts') ? 'hosts' : 'labels';
  const text = optional(ctx, name);
  if (text === undefined) return undefined;
  const parsed = parseSelectorText(text);
  if (!parsed.ok) throw badRequest(`${name}: ${parsed.error}`);
  return parsed.selector;
}

/**
 * The connected hosts a `hosts` selector in a JSON body picks (POST /api/v1/sync), or undefined when the
 * body has none; 400 for anything but a valid selector.
 */
export async function selectedConnectedHosts(port: ApiPort, value: unknown): Promise<string[] | undefined> {
  if (value === undefined) return undefined;
  if (typeof value !== 'string')
    throw badRequest('hosts: a selector such as role=web, role in (web,db) or web-*');
  const parsed = parseSelectorText(value);
  if (!parsed.ok) throw badRequest(`hosts: ${parsed.error}`);
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await listSelectedHosts((q) => port.listHosts(q), { limit: 1000, cursor }, parsed.selector);
    for (const h of page.items) if (port.session(h.hostId)) ids.push(h.hostId);
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

/** The host routes. */
export function hostRoutes(port: ApiPort): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/api/v1/hosts',
      role: 'viewer',
      handler: (ctx) => {
        const query = { ...page(ctx), syncState: syncStateParam(ctx, 'syncState') };
        const selector = selectorParam(ctx);
        return selector
          ? listSelectedHosts((q) => port.listHosts(q), query, selector)
          : port.listHosts(query);
      },
    },
    {
      method: 'GET',
      pattern: '/api/v1/hosts/:id',
      role: 'viewer',
      handler: async (ctx) => {
        const id = ctx.params.id as string;
        const host = await port.getHost(id);
        if (!host) throw notFound(`no host "${id}"`);
        const [resources, drift, executions] = await Promise.all([
          port.listResourceStatuses({ hostId: id, limit: MAX_RESOURCES_PER_HOST }),
          port.listDrift({ hostId: id, limit: RECENT_RECORDS }),
          port.listExecutions({ hostId: id, limit: RECENT_RECORDS }),
        ]);
        return {
          host,
          session: port.session(id) ?? null,
          manifest: port.manifestFor(id) ?? null,
          planErrors: port.planErrorsFor(id),
          resources: resources.items,
          drift: drift.items,
          executions: executions.items,
        };
      },
    },
    {
      method: 'DELETE',
      pattern: '/api/v1/hosts/:id',
      role: 'operator',
      handler: (ctx) => deleteHost(port, ctx),
    },
    {
      method: 'GET',
      pattern: '/api/v1/resources',
      role: 'viewer',
      handler: (ctx) =>
        port.listResourceStatuses({
          ...page(ctx),
          hostId: optional(ctx, 'host'),
          key: optional(ctx, 'resource'),
          state: syncStateParam(ctx, 'state'),
        }),
    },
    {
      method: 'GET',
      pattern: '/api/v1/drift',
      role: 'viewer',
      handler: (ctx) => {
        const healed = boolParam(ctx, 'healed');
        return port.listDrift({
          ...page(ctx),
          hostId: optional(ctx, 'host'),
          key: optional(ctx, 'resource'),
          since: timeParam(ctx, 'since'),
          healed,
        });
      },
    },
    {
      method: 'GET',
      pattern: '/api/v1/executions',
      role: 'viewer',
      handler: (ctx) =>
        port.listExecutions({
          ...page(ctx),
          id: optional(ctx, 'id'),
          hostId: optional(ctx, 'host'),
          resource: executionResource(ctx),
          since: timeParam(ctx, 'since'),
        }),
    },
  ];
}

/** `?resource=KEY`, or `?remediation=NAME` (that Remediation's runs and decisions: resource Remediation/NAME). */
function executionResource(ctx: RequestContext): string | undefined {
  const resource = optional(ctx, 'resource');
  const remediation = optional(ctx, 'remediation');
  if (remediation === undefined) return resource;
  const key = `Remediation/${remediation}`;
  if (resource !== undefined && resource !== key)
    throw badRequest(`remediation=${remediation} and resource=${resource} contradict; pass one of them`);
  return key;
}

/**
 * DELETE /api/v1/hosts/:id[?force=true]: revokes the host's agent and drops the host from the views (its
 * drift and executions stay). A connected host needs force: deleting it cuts a live agent off.
 */
async function deleteHost(port: ApiPort, ctx: RequestContext): Promise<unknown> {
  const id = ctx.params.id as string;
  const force = boolParam(ctx, 'force') ?? false;
  ctx.auditDetail = { host: id, force };
  if (!(await port.getHost(id)) && !port.hostIds().includes(id)) throw notFound(`no host "${id}"`);
  if (port.session(id) && !force)
    throw new HttpError(
      409,
      'connected',
      `host "${id}" is connected; deleting it revokes its agent's credential and closes its session, so it cannot reconnect until an operator approves it again (gsectl agents approve ${id}). To do that, pass force: gsectl hosts delete ${id} --force (API: ?force=true)`,
    );
  return port.deleteHost(id);
}

/**
 * GET /api/v1/diff: resources not Synced, per host (every host, or the one `?host=` names even if clean), each
 * with what differs: a unified diff of the desired file against what the agent last reported, or one line per
 * mode, owner, size/hash or process difference (resource-diff.ts).
 */
export function diffRoute(port: ApiPort): Route {
  return {
    method: 'GET',
    pattern: '/api/v1/diff',
    role: 'viewer',
    handler: async (ctx) => {
      const only = optional(ctx, 'host');
      const onlyRecord = only === undefined ? undefined : await port.getHost(only);
      if (only !== undefined && !onlyRecord) throw notFound(`no host "${only}"`);
      const hosts = only ? [only] : port.hostIds();
      const items = [];
      for (const id of hosts) {
        const statuses = await port.listResourceStatuses({ hostId: id, limit: MAX_RESOURCES_PER_HOST });
        const pending = statuses.items.filter((s) => s.state !== 'Synced');
        if (pending.length === 0 && !only) continue;
        const name = (onlyRecord ?? (await port.getHost(id)))?.name ?? id;
        const desired = new Map((port.manifestFor(id)?.items ?? []).map((i) => [itemKey(i), i]));
        const reported = new Map(port.reportedItems(id).map((r) => [itemKey(r), r]));
        const resources = pending.map((s) => {
          const { changes, diff } = reportedDiff(name, desired.get(s.key), reported.get(s.key));
          return { ...s, changes, ...(diff ? { diff } : {}) };
        });
        items.push({ hostId: id, name, resources });
      }
      return { items };
    },
  };
}
