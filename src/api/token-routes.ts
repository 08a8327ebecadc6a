/**
 * Named API tokens (`/api/v1/tokens`, admin) and the audit log (`/api/v1/audit`, operator). A token's
 * secret is returned once, by the call that creates it; only its sha256 is stored. A token created with an
 * `appCode` also authenticates GSE calls that send `bk_app_code` = that code and `bk_app_secret` = the token.
 */
import type { JsonValue, TokenRecord } from '../store/types.js';
import { TOKEN_ROLES, type TokenRole } from '../store/types.js';
import { generateToken, hashToken } from './auth.js';
import { badRequest, conflict, notFound } from './http-error.js';
import { optional, page, timeParam } from './params.js';
import type { ApiAuditLog, ApiTokenStore } from './port.js';
import type { RequestContext, Route } from './router.js';

/** Token names: short, printable, safe in a URL path and a log line. */
const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** BlueKing app codes (`bk_app_code`): the same alphabet. */
const APP_CODE = TOKEN_NAME;

export interface TokenRoutesDeps {
  /** Where named tokens live (the Store satisfies it). */
  store: Omit<ApiTokenStore, 'findTokenByHash' | 'markTokenUsed'>;
  /** Where GET /api/v1/audit reads from. */
  audit: Pick<ApiAuditLog, 'list'>;
  /** Names the flag tokens hold (admin, viewer): a named token may not take them. */
  reserved: readonly string[];
  now(): number;
}

/** A token as the API shows it: never the hash. */
export type TokenView = Omit<TokenRecord, 'hash'>;

function view(rec: TokenRecord): TokenView {
  const { hash: _hidden, ...rest } = rec;
  return rest;
}

function nameParam(ctx: RequestContext, reserved: readonly string[]): string {
  const name = ctx.params.name as string;
  if (reserved.includes(name))
    throw badRequest(
      `token "${name}" comes from a serve flag (--${name}-token); rotate it by restarting the controller with a new value`,
    );
  return name;
}

/** The token and audit routes. */
export function tokenRoutes(deps: TokenRoutesDeps): Route[] {
  const { store, reserved } = deps;
  const revoke = async (ctx: RequestContext) => {
    const name = nameParam(ctx, reserved);
    ctx.auditDetail = { name };
    if (!(await store.revokeToken(name, new Date(deps.now()).toISOString())))
      throw notFound(`no token "${name}"; gsectl token list shows them`);
    const rec = await store.getToken(name);
    if (!rec) throw notFound(`no token "${name}"`);
    return view(rec);
  };
  return [
    {
      method: 'POST',
      pattern: '/api/v1/tokens',
      role: 'admin',
      handler: async (ctx) => {
        const body = await ctx.jsonObject();
        const { name, role, appCode } = body;
        if (typeof name !== 'string' || !TOKEN_NAME.test(name))
          throw badRequest(
            `name: ${typeof name === 'string' ? `"${name}" is` : 'required,'} 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit`,
          );
        if (typeof role !== 'string' || !(TOKEN_ROLES as readonly string[]).includes(role))
          throw badRequest(
            `role: ${typeof role === 'string' ? `"${role}"` : 'required'}; one of ${TOKEN_ROLES.join(', ')}`,
          );
        if (appCode !== undefined && (typeof appCode !== 'string' || !APP_CODE.test(appCode)))
          throw badRequest(
            `appCode: ${typeof appCode === 'string' ? `"${appCode}" is` : 'must be a string of'} 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit (the bk_app_code the BlueKing tool sends)`,
          );
        ctx.auditDetail = { name, role, ...(appCode === undefined ? {} : { appCode }) } satisfies JsonValue;
        if (reserved.includes(name))
          throw conflict(`name: "${name}" is reserved for the token given to gsectl serve; pick another`);
        const existing = await store.getToken(name);
        if (existing && existing.revokedAt === undefined)
          throw conflict(
            `name: token "${name}" exists; revoke it first (gsectl token revoke ${name}) or pick another`,
          );
        if (appCode !== undefined) {
          const holder = (await store.listTokens()).find(
            (t) => t.appCode === appCode && t.revokedAt === undefined && t.name !== name,
          );
          if (holder)
            throw conflict(
              `appCode: "${appCode}" belongs to token "${holder.name}"; revoke it first (gsectl token revoke ${holder.name}) or pick another`,
            );
        }
        const secret = generateToken();
        const rec: TokenRecord = {
          name,
          role: role as TokenRole,
          hash: hashToken(secret),
          createdAt: new Date(deps.now()).toISOString(),
          createdBy: ctx.actor?.name ?? 'unknown',
          ...(appCode === undefined ? {} : { appCode }),
        };
        await store.putToken(rec);
        return { ...view(rec), token: secret };
      },
    },
    {
      method: 'GET',
      pattern: '/api/v1/tokens',
      role: 'admin',
      handler: async () => ({ items: (await store.listTokens()).map(view) }),
    },
    { method: 'POST', pattern: '/api/v1/tokens/:name/revoke', role: 'admin', handler: revoke },
    { method: 'DELETE', pattern: '/api/v1/tokens/:name', role: 'admin', handler: revoke },
    {
      method: 'GET',
      pattern: '/api/v1/audit',
      role: 'operator',
      handler: (ctx) =>
        deps.audit.list({ ...page(ctx), actor: optional(ctx, 'actor'), since: timeParam(ctx, 'since') }),
    },
  ];
}
