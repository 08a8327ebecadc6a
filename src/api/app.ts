/** Builds the request handler of the API: routing, authentication, roles, the error mapper, and audit. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { roleAllows, type TokenAuthenticator } from './auth.js';
import { badRequest, forbidden, HttpError, notFound, unauthorized } from './http-error.js';
import { HANDLED, type RequestContext, type Route, Router, readBody, sendJson } from './router.js';

export interface ApiLogger {
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface ApiAppDeps {
  auth: TokenAuthenticator;
  logger: ApiLogger;
  /** Called after every successful request that changed something (not GET), for the audit log. */
  audit?(entry: { actor: string; action: string; target: string; detail?: unknown }): Promise<void>;
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

async function handle(
  router: Router,
  deps: ApiAppDeps,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  try {
    const found = router.match(method, url.pathname);
    if (found === undefined) throw notFound(`no route ${method} ${url.pathname}`);
    if (found === 'methodMismatch')
      throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${url.pathname}`);
    const { route, params } = found;
    let bodyPromise: Promise<Buffer> | undefined;
    const ctx: RequestContext = {
      req,
      res,
      params,
      query: url.searchParams,
      body: () => {
        bodyPromise ??= readBody(req);
        return bodyPromise;
      },
      json: async () => {
        const raw = await ctx.body();
        if (raw.length === 0) return {};
        try {
          return JSON.parse(raw.toString('utf8')) as unknown;
        } catch {
          throw badRequest('request body is not valid JSON');
        }
      },
    };
    if (route.role !== 'public') {
      const actor = deps.auth.authenticate(req.headers.authorization);
      if (!actor) throw unauthorized();
      if (!roleAllows(actor.role, route.role)) {
        throw forbidden(
          `${method} ${route.pattern} needs the ${route.role} role; token "${actor.name}" is ${actor.role}`,
        );
      }
      ctx.actor = actor;
    }
    const result = await route.handler(ctx);
    if (result === HANDLED) return;
    if (method !== 'GET' && ctx.actor && deps.audit) {
      await deps.audit({ actor: ctx.actor.name, action: `${method} ${route.pattern}`, target: url.pathname });
    }
    sendJson(res, 200, result ?? {});
  } catch (err) {
    if (err instanceof HttpError) {
      if (!res.headersSent)
        sendJson(res, err.status, { error: { code: err.code, message: err.message, details: err.details } });
      else res.end();
      return;
    }
    throw err;
  }
}
