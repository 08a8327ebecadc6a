/**
 * Git push webhooks: authenticate, then validate the payload, and say whether the source should fetch.
 * The API layer calls `parseGitWebhook` with the raw body (signatures cover the exact bytes), answers with
 * `status` when `ok` is false, and otherwise calls `source.fetchNow()`.
 */
import {
  headerValue,
  safeEqual,
  verifyBearer,
  verifyGithubSignature,
  verifyHexSignature,
  type WebhookHeaders,
} from './webhook-auth.js';

export type { WebhookHeaders } from './webhook-auth.js';

export type WebhookProvider = 'github' | 'gitlab' | 'gitea' | 'plain';

export interface GitPushEvent {
  provider: WebhookProvider;
  /** Full ref name, `refs/heads/<branch>`; absent for a plain POST without one. */
  ref?: string;
  /** SHA the ref moved to. */
  after?: string;
  /** `owner/name` (or the project path) as the provider names it. */
  repository?: string;
}

export type WebhookResult =
  | { ok: true; event: GitPushEvent }
  | {
      ok: false;
      /** 401: authentication failed; 400: malformed push; 202: accepted but nothing to do. */
      status: 401 | 400 | 202;
      message: string;
      /** Set on 202: a valid delivery that does not concern the watched branch (or is not a push). */
      ignored?: true;
    };

export interface WebhookOptions {
  /** The branch the source follows; pushes to other refs answer 202 `ignored`. Unset: every push fetches. */
  branch?: string;
}

interface ProviderRule {
  provider: Exclude<WebhookProvider, 'plain'>;
  eventHeader: string;
  pushEvent: string;
  authenticate(headers: WebhookHeaders, secret: string, body: Uint8Array): string | undefined;
  repository(payload: Record<string, unknown>): unknown;
}

// Gitea also sends X-GitHub-Event (and GitHub-style signatures), so it must be recognized first.
const PROVIDERS: readonly ProviderRule[] = [
  {
    provider: 'gitea',
    eventHeader: 'x-gitea-event',
    pushEvent: 'push',
    authenticate: (h, secret, body) =>
      verifyHexSignature(headerValue(h, 'x-gitea-signature'), secret, body)
        ? undefined
        : 'X-Gitea-Signature missing or wrong',
    repository: (p) => field(p, 'repository', 'full_name'),
  },
  {
    provider: 'github',
    eventHeader: 'x-github-event',
    pushEvent: 'push',
    authenticate: (h, secret, body) =>
      verifyGithubSignature(headerValue(h, 'x-hub-signature-256'), secret, body)
        ? undefined
        : 'X-Hub-Signature-256 missing or wrong',
    repository: (p) => field(p, 'repository', 'full_name'),
  },
  {
    provider: 'gitlab',
    eventHeader: 'x-gitlab-event',
    pushEvent: 'Push Hook',
    authenticate: (h, secret) => {
      const token = headerValue(h, 'x-gitlab-token');
      return token !== undefined && safeEqual(token, secret) ? undefined : 'X-Gitlab-Token missing or wrong';
    },
    repository: (p) => field(p, 'project', 'path_with_namespace') ?? field(p, 'repository', 'name'),
  },
];

/**
 * Authenticates and parses a push webhook from GitHub, GitLab, Gitea or a plain POST. With a `secret`
 * (an empty one counts as none), every delivery must prove it; without, anyone may trigger a fetch, which
 * is harmless (a fetch only reads the configured remote) but wasteful.
 */
export function parseGitWebhook(
  headers: WebhookHeaders,
  rawBody: string | Uint8Array,
  secret?: string,
  options: WebhookOptions = {},
): WebhookResult {
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  const key = secret === '' ? undefined : secret;
  const rule = PROVIDERS.find((r) => headerValue(headers, r.eventHeader) !== undefined);
  if (rule === undefined) return parsePlain(headers, body, key, options);

  if (key !== undefined) {
    const refused = rule.authenticate(headers, key, body);
    if (refused !== undefined) return { ok: false, status: 401, message: `${rule.provider}: ${refused}` };
  }
  const eventName = headerValue(headers, rule.eventHeader);
  if (eventName !== rule.pushEvent) {
    return {
      ok: false,
      status: 202,
      ignored: true,
      message: `${rule.provider}: event "${eventName}" ignored`,
    };
  }
  const payload = parsePayload(headers, body);
  if (typeof payload === 'string') return { ok: false, status: 400, message: `${rule.provider}: ${payload}` };

  const ref = payload.ref;
  const after = payload.after ?? payload.checkout_sha;
  const repository = rule.repository(payload);
  if (typeof ref !== 'string') return badField(rule.provider, 'ref', 'a string');
  if (after !== undefined && after !== null && typeof after !== 'string') {
    return badField(rule.provider, 'after', 'a string');
  }
  return accept(
    {
      provider: rule.provider,
      ref,
      ...(typeof after === 'string' ? { after } : {}),
      ...(typeof repository === 'string' ? { repository } : {}),
    },
    options,
  );
}

/** Any POST; with a secret it needs `Authorization: Bearer <secret>` or a GitHub-style signature. */
function parsePlain(
  headers: WebhookHeaders,
  body: Uint8Array,
  secret: string | undefined,
  options: WebhookOptions,
): WebhookResult {
  if (
    secret !== undefined &&
    !verifyBearer(headerValue(headers, 'authorization'), secret) &&
    !verifyGithubSignature(headerValue(headers, 'x-hub-signature-256'), secret, body)
  ) {
    return {
      ok: false,
      status: 401,
      message: 'plain: Authorization: Bearer or X-Hub-Signature-256 required',
    };
  }
  // The body is optional and free-form; a JSON object with a string `ref` narrows the push, nothing else does.
  const payload = body.length > 0 ? parsePayload(headers, body) : undefined;
  const ref = typeof payload === 'object' && typeof payload.ref === 'string' ? payload.ref : undefined;
  const after = typeof payload === 'object' && typeof payload.after === 'string' ? payload.after : undefined;
  return accept(
    { provider: 'plain', ...(ref !== undefined ? { ref } : {}), ...(after !== undefined ? { after } : {}) },
    options,
  );
}

function accept(event: GitPushEvent, options: WebhookOptions): WebhookResult {
  if (
    options.branch !== undefined &&
    event.ref !== undefined &&
    event.ref !== `refs/heads/${options.branch}`
  ) {
    return {
      ok: false,
      status: 202,
      ignored: true,
      message: `${event.provider}: push to ${event.ref} ignored (following refs/heads/${options.branch})`,
    };
  }
  return { ok: true, event };
}

/** The JSON object in the body (GitHub may send it form-encoded as `payload=`), or why it is not one. */
function parsePayload(headers: WebhookHeaders, body: Uint8Array): Record<string, unknown> | string {
  let text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (/^application\/x-www-form-urlencoded/i.test(headerValue(headers, 'content-type') ?? '')) {
    const form = new URLSearchParams(text).get('payload');
    if (form === null) return 'body: form-encoded without a "payload" field';
    text = form;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return `body: invalid JSON (${error instanceof Error ? error.message : String(error)})`;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return 'body: expected a JSON object';
  return parsed as Record<string, unknown>;
}

function badField(provider: WebhookProvider, name: string, expected: string): WebhookResult {
  return { ok: false, status: 400, message: `${provider}: ${name}: expected ${expected}` };
}

function field(payload: Record<string, unknown>, outer: string, inner: string): unknown {
  const value = payload[outer];
  if (typeof value !== 'object' || value === null) return undefined;
  return (value as Record<string, unknown>)[inner];
}
