/**
 * The HTTP side of every GSE path (GSE.md §2): one Route per path family (actions.ts), which authenticates
 * (Bearer, or `bk_app_code`/`bk_app_secret` as the BlueKing tools send it), finds the action, checks the
 * token's role, calls the handler and answers in GSE's envelope with a `request_id`, errors included:
 * 401, 403, 404 (unknown action), 400 (bad JSON), 413, 500. Calls that change something are audited here,
 * since the app's own audit needs its bearer auth.
 */
import { randomBytes } from 'node:crypto';
import type { JsonValue } from '../../store/types.js';
import type { AuditEntry } from '../app.js';
import { type Authenticator, type AuthResult, roleAllows } from '../auth.js';
import { toHttpError } from '../error-map.js';
import type { ApiPort } from '../port.js';
import { HANDLED, type RequestContext, type Route, sendJson } from '../router.js';
import { FAMILY_PATHS, findAction, GSE_ACTIONS, type GseActionTable, NOT_SERVED } from './actions.js';
import { BKAPI_AUTH_HEADER, type GseCredentials, gseCredentials, withoutCredentials } from './credentials.js';
import {
  GSE_FORBIDDEN,
  GSE_INTERNAL,
  GSE_UNAUTHORIZED,
  GSE_UNKNOWN_ACTION,
  type GseEnvelope,
  GseError,
  gseCodeOfStatus,
} from './envelope.js';

/** The response header that carries the request id, as the BlueKing API gateway names it. */
export const REQUEST_ID_HEADER = 'x-bkapi-request-id';

export interface GseRoutesDeps {
  port: ApiPort;
  auth: Authenticator;
  /** Writes one audit record (the app's audit sink); absent, writes are not audited (tests). */
  audit?(entry: AuditEntry): Promise<void>;
  /** The action table; default GSE_ACTIONS. */
  actions?: GseActionTable;
  /** A request id; default 32 random hex digits, the form GSE's gateway uses. */
  newRequestId?(): string;
}

/** Every GSE path as Routes: the families of FAMILY_PATHS, then 404 envelopes for other `/api/v2/` paths. */
export function gseRoutes(deps: GseRoutesDeps): Route[] {
  const routes: Route[] = FAMILY_PATHS.map(({ prefix, family }) => ({
    method: 'POST',
    pattern: `${prefix}:action`,
    role: 'public',
    readOnly: true,
    handler: (ctx) => dispatch(deps, family, ctx),
  }));
  for (const base of ['/api/v2/', '/api/bk-gse/prod/api/v2/'])
    for (const pattern of [`${base}:family/:action`, `${base}:family/:sub/:action`])
      routes.push({
        method: 'POST',
        pattern,
        role: 'public',
        readOnly: true,
        handler: (ctx) => dispatch(deps, undefined, ctx),
      });
  return routes;
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

async function authenticate(auth: Authenticator, creds: GseCredentials): Promise<AuthResult> {
  if (creds.kind === 'bearer') return auth.authenticate(creds.header);
  if (creds.kind === 'app') return auth.authenticateApp(creds.appCode, creds.appSecret);
  return { ok: false, reason: 'missing' };
}

function unauthorized(creds: GseCredentials, auth: AuthResult & { ok: false }): GseError {
  if (creds.kind === 'malformed') return new GseError(401, GSE_UNAUTHORIZED, creds.message);
  if (auth.reason === 'revoked')
    return new GseError(
      401,
      GSE_UNAUTHORIZED,
      `token "${auth.name}" was revoked; ask an admin for a new one`,
    );
  if (creds.kind === 'app')
    return new GseError(
      401,
      GSE_UNAUTHORIZED,
      `bk_app_code "${creds.appCode}": no token with this app code has this bk_app_secret; create one with gsectl token create --name NAME --role viewer --app-code ${creds.appCode}`,
    );
  return new GseError(
    401,
    GSE_UNAUTHORIZED,
    'missing or invalid credentials: send bk_app_code and bk_app_secret (body, query or X-Bkapi-Authorization) or Authorization: Bearer <token>',
  );
}

function unknownAction(family: string | undefined, action: string, path: string): GseError {
  const bare = action.replace(/^config_/, '');
  const why = NOT_SERVED[bare];
  if (why)
    return new GseError(404, GSE_UNKNOWN_ACTION, `${path}: GSE action ${action} is not served here. ${why}`);
  return new GseError(
    404,
    GSE_UNKNOWN_ACTION,
    family === undefined
      ? `${path}: no GSE action at this path; docs/GSE-MAPPING.md lists the paths served`
      : `${path}: unknown GSE action "${action}"; docs/GSE-MAPPING.md lists the actions served`,
  );
}

async function dispatch(
  deps: GseRoutesDeps,
  family: string | undefined,
  ctx: RequestContext,
): Promise<symbol> {
  const requestId = deps.newRequestId?.() ?? randomBytes(16).toString('hex');
  const path = new URL(ctx.req.url ?? '/', 'http://localhost').pathname;
  const action = ctx.params.action ?? '';
  let actor: { name: string; role: string } | undefined;
  let audited = false;
  let username: string | undefined;
  const send = async (status: number, envelope: GseEnvelope): Promise<symbol> => {
    if (audited && actor && deps.audit)
      await deps
        .audit({
          actor: actor.name,
          action: `POST ${path}`,
          target: path,
          status,
          detail: {
            action,
            ...(username === undefined ? {} : { bk_username: username }),
            ...handlerDetail(ctx.auditDetail),
            ...(envelope.result ? {} : { error: envelope.message }),
          },
        })
        .catch((err: unknown) => deps.port.logger.error('audit write failed', { err: String(err), path }));
    ctx.res.setHeader(REQUEST_ID_HEADER, requestId);
    sendJson(ctx.res, status, { ...envelope, request_id: requestId });
    return HANDLED;
  };
  try {
    let body: Record<string, unknown> | undefined;
    let bodyError: unknown;
    try {
      body = await ctx.jsonObject();
    } catch (err) {
      bodyError = err;
    }
    const creds = gseCredentials({
      authorization: ctx.req.headers.authorization,
      bkapiAuthorization: header(ctx.req.headers[BKAPI_AUTH_HEADER]),
      query: ctx.query,
      body,
    });
    const auth = await authenticate(deps.auth, creds);
    if (!auth.ok) throw unauthorized(creds, auth);
    actor = auth.actor;
    ctx.actor = auth.actor;
    username = creds.kind === 'app' ? creds.username : undefined;
    if (bodyError !== undefined) throw bodyError;
    const found = family === undefined ? undefined : findAction(deps.actions ?? GSE_ACTIONS, family, action);
    if (family === undefined || !found) throw unknownAction(family, action, path);
    const off = found.unavailable?.(deps.port);
    if (off !== undefined) throw new GseError(404, GSE_UNKNOWN_ACTION, `${path}: ${off}`);
    audited = !found.readOnly;
    if (!roleAllows(auth.actor.role, found.role))
      throw new GseError(
        403,
        GSE_FORBIDDEN,
        `${action} needs the ${found.role} role; token "${auth.actor.name}" is ${auth.actor.role}`,
      );
    const envelope = await found.handler({
      family,
      action,
      body: withoutCredentials(body ?? {}),
      actor: auth.actor,
      ...(username === undefined ? {} : { username }),
      requestId,
      port: deps.port,
      ctx,
    });
    return await send(200, envelope);
  } catch (err) {
    if (err instanceof GseError) return send(err.status, fail(err.code, err.message));
    const httpError = toHttpError(err);
    if (httpError) return send(httpError.status, fail(gseCodeOfStatus(httpError.status), httpError.message));
    deps.port.logger.error('gse action failed', { err: String(err), path, requestId });
    return send(500, fail(GSE_INTERNAL, `internal error (request_id ${requestId})`));
  }
}

/** What the handler added to its audit line (`task_id`, `refused`...), when it is an object. */
function handlerDetail(detail: JsonValue | undefined): Record<string, JsonValue> {
  return typeof detail === 'object' && detail !== null && !Array.isArray(detail) ? detail : {};
}

function fail(code: number, message: string): GseEnvelope<null> {
  return { result: false, code, message, data: null };
}
