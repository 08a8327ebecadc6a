/** Builds the request handler of the API: routing, authentication, roles, the error mapper, and audit. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JsonValue } from '../store/types.js';
import { type Authenticator, roleAllows } from './auth.js';
import { toHttpError } from './error-map.js';
import { badRequest, forbidden, HttpError, notFound, unauthorized } from './http-error.js';
import { HANDLED, type RequestContext, type Route, Router, readBody, sendJson } from './router.js';
import { setSecurityHeaders } from './security-headers.js';

export interface ApiLogger {
  error(message: string, fields?: Record<string, unknown>): void;
}

/** One audit entry as the app hands it over; the controller adds id and time. */
export interface AuditEntry {
  actor: string;
  action: string;
  target: string;
  /** HTTP status the call ended with (403 denied, 4xx refused, 5xx failed). */
  status: number;
  detail?: JsonValue;
}

export interface ApiAppDeps {
  auth: Authenticator;
  logger: ApiLogger;
  /**
   * Called once for every call that may change something (not GET/HEAD, not a read-only POST) by a known
   * token, whether it succeeded, was refused, or was denied for its role.
   */
  audit?(entry: AuditEntry): Promise<void>;
}

/** The `(req, res)` handler for every API route; a Node http.Server serves it. */
export function createApiHandler(
  routes: Route[],
  deps: ApiAppDeps,
): (req: IncomingMessage, res: ServerResponse) => void {
  const router = new Router(routes);
  return (req, res) => {
    handle(router, deps, req, res).catch((err: unknown) => {
      deps.logger.error('api handler crashed', { err: String(err) });
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'internal', message: 'internal error' } });
      else res.end();
    });
  };
}

/** Mutating calls are audited; GET/HEAD and POSTs marked readOnly are not. */
function audited(method: string, route: Route | undefined): boolean {
  return method !== 'GET' && method !== 'HEAD' && route !== undefined && route.readOnly !== true;
}

async function handle(
  router: Router,
  deps: ApiAppDeps,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  setSecurityHeaders(res);
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  let route: Route | undefined;
  let pattern: string | undefined;
  let actorName: string | undefined;
  let auditDone = false;
  let ctx: RequestContext | undefined;
  const writeAudit = async (status: number, detail: JsonValue | undefined): Promise<void> => {
    if (auditDone || !deps.audit || actorName === undefined || !audited(method, route)) return;
    auditDone = true;
    try {
      await deps.audit({
        actor: actorName,
        action: `${method} ${pattern ?? url.pathname}`,
        target: url.pathname,
        status,
        ...(detail === undefined ? {} : { detail }),
      });
    } catch (err) {
      // The call itself already happened; losing its audit line is logged loudly rather than hidden.
      deps.logger.error('audit write failed', { err: String(err), actor: actorName, path: url.pathname });
    }
  };
  try {
    const found = router.match(method, url.pathname);
    if (found === undefined) throw notFound(`no route ${method} ${url.pathname}`);
    if (found === 'methodMismatch')
      throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${url.pathname}`);
    route = found.route;
    pattern = found.route.pattern;
    let bodyPromise: Promise<Buffer> | undefined;
    const context: RequestContext = {
      req,
      res,
      params: found.params,
      query: url.searchParams,
      body: () => {
        bodyPromise ??= readBody(req);
        return bodyPromise;
      },
      json: async () => {
        const raw = await context.body();
        if (raw.length === 0) return {};
        try {
          return JSON.parse(raw.toString('utf8')) as unknown;
        } catch (err) {
          throw badRequest(`request body is not valid JSON: ${(err as Error).message}`);
        }
      },
      jsonObject: async () => {
        const value = await context.json();
        if (typeof value !== 'object' || value === null || Array.isArray(value))
          throw badRequest(
            `request body must be a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'null' : `a ${typeof value}`}`,
          );
        return value as Record<string, unknown>;
      },
      auditNow: (detail) => writeAudit(200, detail ?? context.auditDetail),
    };
    ctx = context;
    if (found.route.role !== 'public') {
      const auth = await deps.auth.authenticate(req.headers.authorization);
      if (!auth.ok) {
        if (auth.reason === 'revoked')
          throw unauthorized(`token "${auth.name}" was revoked; ask an admin for a new one`);
        throw unauthorized();
      }
      const actor = auth.actor;
      actorName = actor.name;
      if (!roleAllows(actor.role, found.route.role)) {
        throw forbidden(
          `${method} ${found.route.pattern} needs the ${found.route.role} role; token "${actor.name}" is ${actor.role}`,
        );
      }
      context.actor = actor;
    }
    const result = await found.route.handler(context);
    await writeAudit(res.statusCode || 200, context.auditDetail);
    if (result === HANDLED) return;
    sendJson(res, 200, result ?? {});
  } catch (err) {
    const httpError = toHttpError(err);
    const status = httpError?.status ?? 500;
    const base = ctx?.auditDetail;
    const detail: JsonValue = {
      error: httpError?.message ?? 'internal error',
      ...(base !== undefined && typeof base === 'object' && base !== null && !Array.isArray(base)
        ? base
        : {}),
    };
    await writeAudit(status, detail);
    if (!httpError) throw err;
    if (!res.headersSent)
      sendJson(res, httpError.status, {
        error: { code: httpError.code, message: httpError.message, details: httpError.details },
      });
    else res.end();
  }
}
