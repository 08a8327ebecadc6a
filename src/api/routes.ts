/** The HTTP API of DESIGN.md §5 over a running controller: listings, status, sync, exec, hooks, GSE. */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Controller, factsOf } from '../controller/controller.js';
import { parseSelectorText } from '../controller/selector-text.js';
import { AgentNotFoundError, AgentStateError } from '../fleet/errors.js';
import type { ItemReport } from '../protocol/messages.js';
import { buildQueryRoute, buildQueryStreamTo } from '../routing/index.js';
import { parseGitWebhook } from '../source/webhook.js';
import { createApiHandler } from './app.js';
import { type ApiToken, hashToken, TokenAuthenticator } from './auth.js';
import { DASHBOARD_HTML } from './dashboard.js';
import {
  type FleetHostView,
  GSE_BAD_REQUEST,
  getAgentStatus,
  getProcStatus,
  gseOk,
  listAgentState,
} from './gse-status.js';
import { badRequest, conflict, HttpError, notFound, unauthorized } from './http-error.js';
import { boolParam, optional, page, syncStateParam, timeParam } from './params.js';
import { HANDLED, type RequestContext, type Route } from './router.js';
import { dashboardCsp } from './security-headers.js';
import { tokenRoutes } from './token-routes.js';

/** Computed once: the dashboard page never changes at run time. */
const DASHBOARD_CSP = dashboardCsp(DASHBOARD_HTML);

function labelsParam(ctx: RequestContext): Record<string, string> | undefined {
  const text = optional(ctx, 'labels');
  if (!text) return undefined;
  const parsed = parseSelectorText(text);
  if (!parsed.ok || !parsed.selector.matchLabels)
    throw badRequest(`labels: expected k=v[,k=v...], got "${text}"`);
  return parsed.selector.matchLabels;
}

/** The live fleet as the GSE endpoints see it. */
function fleetView(c: Controller, reports: Map<string, ItemReport[]>): FleetHostView[] {
  return c.reconciler.hostStates().map((h) => {
    const session = c.hub.session(h.hostId);
    const desired = c.reconciler.desiredFor(h.hostId);
    const processes: FleetHostView['processes'] = {};
    for (const item of desired?.items ?? []) {
      if (item.kind !== 'ProcessWatch') continue;
      const r = reports.get(h.hostId)?.find((x) => x.kind === 'ProcessWatch' && x.name === item.name);
      if (r?.process) processes[item.name] = { running: r.process.running, ensure: item.ensure };
    }
    const facts = session ? factsOf(session) : undefined;
    return {
      hostId: h.hostId,
      ips: facts?.ips ?? [],
      cloudId: facts?.cloudId ?? 0,
      agentVersion: facts?.agentVersion,
      alive: session?.status === 'Connected',
      processes,
    };
  });
}

/** Every API route over the controller. */
export function apiRoutes(
  c: Controller,
  reservedTokenNames: readonly string[] = ['admin', 'viewer'],
): Route[] {
  const metricsDigest = c.options.metricsToken
    ? Buffer.from(hashToken(c.options.metricsToken), 'hex')
    : undefined;
  const status = async () => {
    const [appliedSha, lastRejected, bySyncState] = await Promise.all([
      c.store.getAppliedRevision(),
      c.store.getLastRejectedRevision(),
      c.store.countHostsBySyncState(),
    ]);
    const applied = appliedSha ? await c.store.getRevision(appliedSha) : undefined;
    const total = Object.values(bySyncState).reduce((a, b) => a + b, 0);
    return {
      lifecycle: c.lifecycle,
      startedAt: c.startedAt,
      revision: {
        applied: applied ?? null,
        // Only a rejection newer than what is applied is news.
        lastRejected:
          lastRejected && (!applied || lastRejected.seenAt >= applied.seenAt) ? lastRejected : null,
      },
      hosts: { total, connected: c.hub.sessions().length, bySyncState },
      source: c.source.stats(),
      hub: c.hub.stats(),
      targets: c.data.current?.health() ?? [],
    };
  };

  const routes: Route[] = [
    {
      method: 'GET',
      pattern: '/',
      role: 'public',
      handler: (ctx) => html(ctx.res, DASHBOARD_HTML, DASHBOARD_CSP),
    },
    { method: 'GET', pattern: '/healthz', role: 'public', handler: () => ({ ok: true }) },
    {
      method: 'GET',
      pattern: '/readyz',
      role: 'public',
      handler: () => {
        const ready = c.lifecycle === 'running' && c.reconciler.current !== undefined;
        if (!ready)
          throw new HttpError(
            503,
            'not_ready',
            c.reconciler.current ? `controller is ${c.lifecycle}` : 'no revision applied yet',
          );
        return { ready: true, revision: c.reconciler.current?.id };
      },
    },
    {
      method: 'GET',
      pattern: '/metrics',
      // Public unless --metrics-token is set; then a scraper sends it as a bearer token.
      role: 'public',
      handler: async (ctx) => {
        if (metricsDigest && !metricsTokenMatches(ctx.req.headers.authorization, metricsDigest))
          throw unauthorized('/metrics needs the --metrics-token as a bearer token');
        const text = await c.metrics.render();
        ctx.res.writeHead(200, { 'content-type': c.metrics.registry.contentType });
        ctx.res.end(text);
        return HANDLED;
      },
    },
    { method: 'GET', pattern: '/api/v1/status', role: 'viewer', handler: status },
    {
      method: 'GET',
      pattern: '/api/v1/hosts',
      role: 'viewer',
      handler: (ctx) =>
        c.store.listHosts({
          ...page(ctx),
          syncState: syncStateParam(ctx, 'syncState'),
          labels: labelsParam(ctx),
        }),
    },
    {
      method: 'GET',
      pattern: '/api/v1/hosts/:id',
      role: 'viewer',
      handler: async (ctx) => {
        const id = ctx.params.id as string;
        const host = await c.store.getHost(id);
        if (!host) throw notFound(`no host "${id}"`);
        const [resources, drift, executions] = await Promise.all([
          c.store.listResourceStatuses({ hostId: id, limit: 1000 }),
          c.store.listDrift({ hostId: id, limit: 20 }),
          c.store.listExecutions({ hostId: id, limit: 20 }),
        ]);
        return {
          host,
          session: c.hub.session(id) ?? null,
          manifest: c.reconciler.desiredFor(id) ?? null,
          planErrors: c.reconciler.planErrorsFor(id),
          resources: resources.items,
          drift: drift.items,
          executions: executions.items,
        };
      },
    },
    {
      method: 'GET',
      pattern: '/api/v1/resources',
      role: 'viewer',
      handler: (ctx) =>
        c.store.listResourceStatuses({
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
        return c.store.listDrift({
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
        c.store.listExecutions({
          ...page(ctx),
          hostId: optional(ctx, 'host'),
          resource: optional(ctx, 'resource'),
          since: timeParam(ctx, 'since'),
        }),
    },
    {
      method: 'GET',
      pattern: '/api/v1/targets',
      role: 'viewer',
      handler: () => ({ items: c.data.current?.health() ?? [] }),
    },
    {
      method: 'GET',
      pattern: '/api/v1/routes',
      role: 'viewer',
      handler: () => {
        const stats = c.data.current?.stats();
        return {
          items: (c.reconciler.current?.byKind.Route ?? []).map((r) => ({
            name: r.metadata.name,
            channel: String(r.spec.channel),
            targets: r.spec.targets.map((t) => t.name),
            format: r.spec.format,
            ...(stats?.routes[r.metadata.name] ?? { in: 0, out: 0, filtered: 0 }),
          })),
        };
      },
    },
    {
      method: 'GET',
      pattern: '/api/v1/revisions',
      role: 'viewer',
      handler: (ctx) => c.store.listRevisions(page(ctx)),
    },
    {
      method: 'GET',
      pattern: '/api/v1/agents',
      role: 'viewer',
      handler: async () => ({
        items: (await c.hub.agents()).map(({ credentialHash: _hidden, ...rest }) => ({
          ...rest,
          state: c.hub.hostState(rest.agentId),
        })),
      }),
    },
    {
      method: 'POST',
      pattern: '/api/v1/agents/:id/approve',
      role: 'admin',
      handler: (ctx) => c.hub.approve(ctx.params.id as string).then(strip),
    },
    {
      method: 'POST',
      pattern: '/api/v1/agents/:id/revoke',
      role: 'admin',
      handler: (ctx) => c.hub.revoke(ctx.params.id as string).then(strip),
    },
    {
      method: 'POST',
      pattern: '/api/v1/agents/:id/reset',
      role: 'admin',
      handler: (ctx) =>
        c.hub
          .reset(ctx.params.id as string)
          .then(strip)
          .catch((err: unknown) => {
            if (err instanceof AgentNotFoundError) throw notFound(err.message);
            if (err instanceof AgentStateError) throw conflict(err.message);
            throw err;
          }),
    },
    {
      method: 'GET',
      pattern: '/api/v1/diff',
      role: 'viewer',
      handler: async (ctx) => {
        const only = optional(ctx, 'host');
        if (only !== undefined && !(await c.store.getHost(only))) throw notFound(`no host "${only}"`);
        const hosts = only ? [only] : c.reconciler.hostStates().map((h) => h.hostId);
        const items = [];
        for (const id of hosts) {
          const statuses = await c.store.listResourceStatuses({ hostId: id, limit: 1000 });
          const pending = statuses.items.filter((s) => s.state !== 'Synced');
          if (pending.length > 0 || only) items.push({ hostId: id, resources: pending });
        }
        return { items };
      },
    },
    {
      method: 'POST',
      pattern: '/api/v1/sync',
      role: 'operator',
      handler: async (ctx) => {
        const body = await ctx.jsonObject();
        if (body.host !== undefined && typeof body.host !== 'string')
          throw badRequest('host: must be a host id (a string), or left out for every host');
        const host = body.host;
        ctx.auditDetail = host === undefined ? {} : { host };
        if (host !== undefined && !(await c.store.getHost(host))) throw notFound(`no host "${host}"`);
        const revision = await c.source.fetchNow();
        if (host !== undefined && !c.hub.session(host))
          throw new HttpError(409, 'not_connected', `host "${host}" is not connected`);
        const hosts = await c.reconciler.forceSync(host === undefined ? undefined : [host]);
        return { revision: revision?.sha ?? null, hosts };
      },
    },
    { method: 'POST', pattern: '/api/v1/exec', role: 'operator', handler: (ctx) => execHandler(c, ctx) },
    {
      method: 'POST',
      pattern: '/api/v1/hooks/git',
      role: 'public',
      handler: async (ctx) => {
        const body = await ctx.body();
        const parsed = parseGitWebhook(ctx.req.headers, body, c.options.webhookSecret, {
          branch: c.options.branch,
        });
        if (!parsed.ok) {
          if (parsed.status === 202) return { accepted: true, ignored: true, message: parsed.message };
          throw new HttpError(
            parsed.status,
            parsed.status === 401 ? 'unauthorized' : 'bad_request',
            parsed.message,
          );
        }
        const revision = await c.source.fetchNow();
        return { accepted: true, provider: parsed.event.provider, revision: revision?.sha ?? null };
      },
    },
  ];

  const gse =
    (fn: (body: unknown, hosts: FleetHostView[]) => unknown): Route['handler'] =>
    async (ctx) => {
      const body = await ctx.json();
      const reports = new Map<string, ItemReport[]>();
      for (const h of c.reconciler.hostStates()) reports.set(h.hostId, c.reconciler.reportedItems(h.hostId));
      return fn(body, fleetView(c, reports));
    };
  // Data routes answer from the Route and StreamTarget specs of the applied revision (GSE.md §3).
  const condition = async (ctx: RequestContext): Promise<Record<string, unknown>> => {
    const body = await ctx.jsonObject();
    return typeof body.condition === 'object' && body.condition !== null
      ? (body.condition as Record<string, unknown>)
      : {};
  };
  const revision = () => c.reconciler.current?.byKind ?? { Route: [], StreamTarget: [] };
  routes.push(
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
        const { Route, StreamTarget } = revision();
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
          buildQueryStreamTo(revision().StreamTarget, {
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
      handler: gse(getAgentStatus),
    },
    {
      method: 'POST',
      pattern: '/api/v1/gse/list_agent_state',
      role: 'viewer',
      readOnly: true,
      handler: gse(listAgentState),
    },
    {
      method: 'POST',
      pattern: '/api/v1/gse/get_proc_status',
      role: 'viewer',
      readOnly: true,
      handler: gse(getProcStatus),
    },
  );
  routes.push(...tokenRoutes({ store: c.store, reserved: reservedTokenNames, now: Date.now }));
  return routes;
}

/** GSE's code for a route that does not exist (GSE.md §2.2). */
const GSE_ROUTE_NOT_FOUND = 1014505;

function gseError(message: string) {
  return { result: false, code: GSE_BAD_REQUEST, message, data: null };
}

function strip<T extends { credentialHash: string }>(rec: T): Omit<T, 'credentialHash'> {
  const { credentialHash: _hidden, ...rest } = rec;
  return rest;
}

function html(res: ServerResponse, body: string, csp: string): typeof HANDLED {
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': csp,
  });
  res.end(body);
  return HANDLED;
}

/** How much of an exec script the audit record keeps. */
const MAX_AUDITED_SCRIPT_CHARS = 1_000;

/** True when the Authorization header carries the metrics token (timing-safe on the hashes). */
function metricsTokenMatches(header: string | undefined, digest: Buffer): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return m?.[1] !== undefined && timingSafeEqual(Buffer.from(hashToken(m[1]), 'hex'), digest);
}

/** What `runAs` may be: a POSIX-ish user name, optionally `:group` (the agent resolves both). */
const RUN_AS = /^[a-z_][a-z0-9_.-]*(?::[a-z_][a-z0-9_.-]*)?$/i;

/**
 * POST /api/v1/exec `{hosts: "role=web", script, timeoutMs?, interpreter?, runAs?, wait?}`: sends the script and,
 * with `wait` (default true), streams one JSON line per host result as it arrives, then a summary line.
 */
async function execHandler(c: Controller, ctx: RequestContext): Promise<unknown> {
  const body = await ctx.jsonObject();
  if (typeof body.script !== 'string' || body.script === '')
    throw badRequest('script: required, the command to run');
  if (typeof body.hosts !== 'string')
    throw badRequest('hosts: required, a selector such as role=web or web-* or *');
  const sel = parseSelectorText(body.hosts);
  if (!sel.ok) throw badRequest(`hosts: ${sel.error}`);
  const timeoutMs = body.timeoutMs === undefined ? undefined : Number(body.timeoutMs);
  if (timeoutMs !== undefined && !(timeoutMs > 0))
    throw badRequest('timeoutMs: a positive number of milliseconds');
  if (body.runAs !== undefined && (typeof body.runAs !== 'string' || !RUN_AS.test(body.runAs)))
    throw badRequest('runAs: a user name or user:group, e.g. "nobody" or "www-data:www-data"');
  const started = await c.exec.start({
    selector: sel.selector,
    script: body.script,
    interpreter: typeof body.interpreter === 'string' ? body.interpreter : undefined,
    timeoutMs,
    ...(typeof body.runAs === 'string' ? { runAs: body.runAs } : {}),
    requestedBy: ctx.actor?.name ?? 'unknown',
  });
  // Audited as soon as the task is out, not when the stream ends: a dropped stream must not hide it.
  ctx.auditDetail = {
    taskId: started.taskId,
    hosts: started.hosts.length,
    selector: body.hosts,
    script: body.script.slice(0, MAX_AUDITED_SCRIPT_CHARS),
  };
  await ctx.auditNow();
  if (body.wait === false) return started;
  const res = ctx.res;
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  res.write(`${JSON.stringify({ type: 'started', ...started })}\n`);
  const pending = new Set(started.hosts);
  const counts: Record<string, number> = {};
  await new Promise<void>((resolve) => {
    const finish = () => {
      unsubscribe();
      clearTimeout(timer);
      resolve();
    };
    const unsubscribe = c.exec.subscribe(started.taskId, (rec) => {
      if (!pending.delete(rec.hostId)) return;
      counts[rec.status] = (counts[rec.status] ?? 0) + 1;
      res.write(`${JSON.stringify({ type: 'result', ...rec })}\n`);
      if (pending.size === 0) finish();
    });
    // Hosts that never answer (disconnected mid-run) are reported as pending, not waited on forever.
    const timer = setTimeout(finish, (timeoutMs ?? 60_000) + 10_000);
    ctx.req.on('close', finish);
    if (pending.size === 0) finish();
  });
  res.end(
    `${JSON.stringify({ type: 'summary', taskId: started.taskId, hosts: started.hosts.length, ...counts, pending: [...pending] })}\n`,
  );
  return HANDLED;
}

/** Builds the controller's request handler: the API routes with bearer-token auth and audit. */
export function createControllerApi(c: Controller): (req: IncomingMessage, res: ServerResponse) => void {
  const tokens: ApiToken[] = [{ name: 'admin', role: 'admin', hash: hashToken(c.options.adminToken) }];
  if (c.options.viewerToken)
    tokens.push({ name: 'viewer', role: 'viewer', hash: hashToken(c.options.viewerToken) });
  const auth = new TokenAuthenticator(tokens, c.store, (err) =>
    c.logger.error('token lastUsedAt write failed', { err: String(err) }),
  );
  return createApiHandler(apiRoutes(c, ['admin', 'viewer']), {
    auth,
    logger: c.logger,
    audit: async (e) => {
      await c.store.appendAudit({
        id: randomUUID(),
        at: new Date().toISOString(),
        actor: e.actor,
        action: e.action,
        target: e.target,
        status: e.status,
        ...(e.detail === undefined ? {} : { detail: e.detail }),
      });
    },
  });
}
