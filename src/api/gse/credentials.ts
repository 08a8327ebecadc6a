/**
 * Where BlueKing tools put their credentials (GSE.md §2.2): `bk_app_code`/`bk_app_secret` in the JSON body
 * (ESB) or the query string, or the API gateway's `X-Bkapi-Authorization` header, a JSON object with the
 * same keys and optionally `bk_username`. Pure: reads a request's parts, never the store.
 */

/** What a GSE call authenticates with. */
export type GseCredentials =
  | { kind: 'bearer'; header: string }
  | { kind: 'app'; appCode: string; appSecret: string; username?: string }
  | { kind: 'none' }
  | { kind: 'malformed'; message: string };

export const BKAPI_AUTH_HEADER = 'x-bkapi-authorization';

/** Body keys that carry credentials or a user: never passed on to an action, never logged. */
export const CREDENTIAL_KEYS = ['bk_app_code', 'bk_app_secret', 'bk_token', 'bk_username', 'access_token'];

export interface CredentialSources {
  authorization?: string;
  bkapiAuthorization?: string;
  query: URLSearchParams;
  /** The body when it is a JSON object. */
  body?: Record<string, unknown>;
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * The credentials of a call, in order: a Bearer token, the `X-Bkapi-Authorization` header, the body, the
 * query. A header that is not a JSON object is `malformed` (a 401 naming the header).
 */
export function gseCredentials(src: CredentialSources): GseCredentials {
  if (src.authorization && /^Bearer\s+\S+$/i.test(src.authorization))
    return { kind: 'bearer', header: src.authorization };
  const candidates: Array<Record<string, unknown>> = [];
  if (src.bkapiAuthorization !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(src.bkapiAuthorization);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return {
        kind: 'malformed',
        message:
          'X-Bkapi-Authorization: not a JSON object; send {"bk_app_code": "...", "bk_app_secret": "..."}',
      };
    candidates.push(parsed as Record<string, unknown>);
  }
  if (src.body) candidates.push(src.body);
  candidates.push(Object.fromEntries(src.query));
  for (const c of candidates) {
    const appCode = text(c.bk_app_code);
    const appSecret = text(c.bk_app_secret);
    if (appCode === undefined || appSecret === undefined) continue;
    const username = candidates.map((x) => text(x.bk_username)).find((u) => u !== undefined);
    return { kind: 'app', appCode, appSecret, ...(username === undefined ? {} : { username }) };
  }
  return { kind: 'none' };
}

/** The body without credential keys. */
export function withoutCredentials(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([k]) => !CREDENTIAL_KEYS.includes(k)));
}
