/** Every API route over the port, and the request handler with bearer-token auth and audit around them. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AuditEntry, createApiHandler } from '../app.js';
import { type ApiToken, type Authenticator, hashToken, TokenAuthenticator } from '../auth.js';
import { gseRoutes } from '../gse/dispatch.js';
import type { ApiPort } from '../port.js';
import type { Route } from '../router.js';
import { tokenRoutes } from '../token-routes.js';
import { agentRoutes } from './agents.js';
import { artifactRoutes } from './artifacts.js';
import { hookRoutes } from './hooks.js';
import { diffRoute, hostRoutes } from './hosts.js';
import { liveRoutes } from './live.js';
import { previewRoutes } from './preview.js';
import { rolloutRoutes } from './rollouts.js';
import { revisionRoutes, statusRoutes } from './status.js';
import { syncExecRoutes } from './sync-exec.js';

/** Names the flag tokens hold: a named token may never take them, whether the flag is set or not. */
export const RESERVED_TOKEN_NAMES: readonly string[] = ['admin', 'viewer'];

/** What `apiRoutes` authenticates with when given nothing: no credential is accepted. */
const NO_TOKENS: Authenticator = {
  authenticate: async () => ({ ok: false, reason: 'missing' }),
  authenticateApp: async () => ({ ok: false, reason: 'missing' }),
};

export interface ApiHandlerOptions {
  /** Clock for token timestamps and audit times. Default Date.now. */
  now?: () => number;
  /** Audit record ids. Default randomUUID. */
  newId?: () => string;
}

/**
 * Every API route over the port. `tokens` authenticates the artifact downloads' bearer tokens (they take
 * agent credentials too, so they check auth themselves; without it they accept agent credentials only) and
 * the GSE paths' credentials (bearer or bk_app_code/bk_app_secret; without it they answer 401), which
 * write their own audit records through `audit`.
 */
export function apiRoutes(
  port: ApiPort,
  reservedTokenNames: readonly string[] = RESERVED_TOKEN_NAMES,
  now: () => number = Date.now,
  given?: Authenticator,
  audit?: (entry: AuditEntry) => Promise<void>,
): Route[] {
  const tokens = given ?? NO_TOKENS;
  return [
    ...statusRoutes(port),
    ...hostRoutes(port),
    ...revisionRoutes(port),
    ...agentRoutes(port),
    diffRoute(port),
    ...previewRoutes(port),
    ...syncExecRoutes(port),
    ...rolloutRoutes(port),
    // Open streams re-check their token only against a real authenticator (the app checked it at the open).
    ...liveRoutes(port, { ...(given ? { auth: given } : {}), now }),
    ...artifactRoutes(port, tokens),
    ...hookRoutes(port),
    ...tokenRoutes({ store: port.tokens, audit: port.audit, reserved: reservedTokenNames, now }),
    // Last: its `/api/v1/gse/:action` and `/api/v2/...` patterns catch every GSE path not matched above
    // (the task and process calls included: they are actions of its table, src/api/gse/tasks.ts).
    ...gseRoutes({ port, auth: tokens, ...(audit ? { audit } : {}) }),
  ];
}

/** The `(req, res)` handler of the whole API over `port`: the flag tokens and named tokens, roles, audit. */
export function buildApiHandler(
  port: ApiPort,
  options: ApiHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const now = options.now ?? Date.now;
  const newId = options.newId ?? randomUUID;
  const tokens: ApiToken[] = [{ name: 'admin', role: 'admin', hash: hashToken(port.config.adminToken) }];
  if (port.config.viewerToken)
    tokens.push({ name: 'viewer', role: 'viewer', hash: hashToken(port.config.viewerToken) });
  const auth = new TokenAuthenticator(
    tokens,
    port.tokens,
    (err) => port.logger.error('token lastUsedAt write failed', { err: String(err) }),
    now,
  );
  const audit = async (e: AuditEntry): Promise<void> => {
    await port.audit.append({
      id: newId(),
      at: new Date(now()).toISOString(),
      actor: e.actor,
      action: e.action,
      target: e.target,
      status: e.status,
      ...(e.detail === undefined ? {} : { detail: e.detail }),
    });
  };
  return createApiHandler(apiRoutes(port, RESERVED_TOKEN_NAMES, now, auth, audit), {
    auth,
    logger: port.logger,
    audit,
  });
}
