/** The dashboard, health, readiness, /metrics and the controller's status, targets, routes and revisions. */
import { timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { hashToken } from '../auth.js';
import { DASHBOARD_HTML } from '../dashboard.js';
import { HttpError, unauthorized } from '../http-error.js';
import { page } from '../params.js';
import type { ApiPort, StatusParts } from '../port.js';
import { HANDLED, type Route } from '../router.js';
import { dashboardCsp } from '../security-headers.js';

/** Computed once: the dashboard page never changes at run time. */
const DASHBOARD_CSP = dashboardCsp(DASHBOARD_HTML);

/** The body of GET /api/v1/status. */
export function statusView(p: StatusParts) {
  const total = Object.values(p.bySyncState).reduce((a, b) => a + b, 0);
  return {
    lifecycle: p.lifecycle,
    startedAt: p.startedAt,
    revision: {
      applied: p.applied ?? null,
      // Only a rejection newer than what is applied is news.
      lastRejected:
        p.lastRejected && (!p.applied || p.lastRejected.seenAt >= p.applied.seenAt) ? p.lastRejected : null,
    },
    hosts: { total, connected: p.connected, bySyncState: p.bySyncState },
    source: p.source,
    hub: p.hub,
    targets: p.targets,
  };
}

/** The status routes. */
export function statusRoutes(port: ApiPort): Route[] {
  const metricsDigest = port.config.metricsToken
    ? Buffer.from(hashToken(port.config.metricsToken), 'hex')
    : undefined;
  return [
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
        const lifecycle = port.lifecycle();
        const revision = port.currentRevisionId();
        if (lifecycle !== 'running' || revision === undefined)
          throw new HttpError(
            503,
            'not_ready',
            revision !== undefined ? `controller is ${lifecycle}` : 'no revision applied yet',
          );
        return { ready: true, revision };
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
        const { contentType, text } = await port.metricsText();
        ctx.res.writeHead(200, { 'content-type': contentType });
        ctx.res.end(text);
        return HANDLED;
      },
    },
    {
      method: 'GET',
      pattern: '/api/v1/status',
      role: 'viewer',
      handler: async () => statusView(await port.statusParts()),
    },
  ];
}

/** The applied revision's targets and routes, and the revision history. */
export function revisionRoutes(port: ApiPort): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/api/v1/targets',
      role: 'viewer',
      handler: () => ({ items: port.targetHealth() }),
    },
    {
      method: 'GET',
      pattern: '/api/v1/routes',
      role: 'viewer',
      handler: () => {
        const stats = port.routerStats();
        return {
          items: port.dataSpecs().Route.map((r) => ({
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
      handler: (ctx) => port.listRevisions(page(ctx)),
    },
  ];
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

/** True when the Authorization header carries the metrics token (timing-safe on the hashes). */
function metricsTokenMatches(header: string | undefined, digest: Buffer): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return m?.[1] !== undefined && timingSafeEqual(Buffer.from(hashToken(m[1]), 'hex'), digest);
}
