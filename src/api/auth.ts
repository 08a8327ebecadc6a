/**
 * Bearer tokens with a role each: the bootstrap tokens from flags (admin, viewer), compared timing-safe from
 * memory, and named tokens from the Store, looked up by the sha256 of the secret on every request (no cache,
 * so a revocation holds from the next request on). A named token with an app code also answers GSE's
 * `bk_app_code`/`bk_app_secret` pair; the flag tokens never do.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TokenRecord } from '../store/types.js';
import type { Role } from './router.js';

export interface ApiToken {
  name: string;
  role: Role;
  /** sha256 hex of the token. */
  hash: string;
}

/** Who is calling. */
export interface Actor {
  name: string;
  role: Role;
}

/** What `authenticate` found: a caller, a known but revoked token, or nothing. */
export type AuthResult =
  | { ok: true; actor: Actor }
  | { ok: false; reason: 'missing' | 'unknown' | 'revoked'; name?: string };

export interface Authenticator {
  authenticate(header: string | undefined): Promise<AuthResult>;
  /** GSE's `bk_app_code`/`bk_app_secret`: the named token with that app code whose secret is `secret`. */
  authenticateApp(appCode: string, secret: string): Promise<AuthResult>;
}

/** What the authenticator needs of the Store (it satisfies this structurally). */
export interface TokenLookup {
  findTokenByHash(hash: string): Promise<TokenRecord | undefined>;
  markTokenUsed(name: string, at: string): Promise<void>;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
/** Bytes of randomness in a generated token: 256 bits, so sha256 of it cannot be brute-forced. */
export const TOKEN_BYTES = 32;
/** Prefix of generated tokens, so a leaked one is recognisable (secret scanners, logs). */
export const TOKEN_PREFIX = 'gse_';
/** `lastUsedAt` is written at most this often per token, so a busy token costs no write per request. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/** sha256 hex of a token, the form tokens are kept in. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new random token (`gse_` + 43 base64url characters). */
export function generateToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(TOKEN_BYTES).toString('base64url')}`;
}

/** True when `role` is at least `needed`. */
export function roleAllows(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

/** The secret of an `Authorization: Bearer ...` header, or undefined. */
function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return m?.[1];
}

export class TokenAuthenticator implements Authenticator {
  private readonly tokens: Array<ApiToken & { digest: Buffer }>;

  /**
   * `tokens` are the bootstrap tokens from flags; `store` holds the named ones (optional for tests);
   * `onError` hears a failed lastUsedAt write (which never fails the request).
   */
  constructor(
    tokens: ApiToken[],
    private readonly store?: TokenLookup,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = tokens.map((t) => ({ ...t, digest: Buffer.from(t.hash, 'hex') }));
  }

  /** Names the flag tokens hold, which named tokens may not take. */
  reservedNames(): string[] {
    return this.tokens.map((t) => t.name);
  }

  async authenticate(header: string | undefined): Promise<AuthResult> {
    const secret = bearer(header);
    if (!secret) return { ok: false, reason: 'missing' };
    const hash = hashToken(secret);
    const digest = Buffer.from(hash, 'hex');
    let found: ApiToken | undefined;
    // Compare against every flag token so the time taken does not tell which one matched.
    for (const t of this.tokens) if (timingSafeEqual(t.digest, digest)) found = t;
    if (found) return { ok: true, actor: { name: found.name, role: found.role } };
    if (!this.store) return { ok: false, reason: 'unknown' };
    // An index lookup by hash leaks at most timing about the hash, never about the secret behind it.
    const rec = await this.store.findTokenByHash(hash);
    if (!rec) return { ok: false, reason: 'unknown' };
    if (rec.revokedAt !== undefined) return { ok: false, reason: 'revoked', name: rec.name };
    this.touch(rec);
    return { ok: true, actor: { name: rec.name, role: rec.role } };
  }

  async authenticateApp(appCode: string, secret: string): Promise<AuthResult> {
    if (!this.store || appCode === '' || secret === '') return { ok: false, reason: 'missing' };
    const rec = await this.store.findTokenByHash(hashToken(secret));
    // A secret of another token (or of a token without this app code) is no better than a wrong secret.
    if (!rec || rec.appCode !== appCode) return { ok: false, reason: 'unknown' };
    if (rec.revokedAt !== undefined) return { ok: false, reason: 'revoked', name: rec.name };
    this.touch(rec);
    return { ok: true, actor: { name: rec.name, role: rec.role } };
  }

  private touch(rec: TokenRecord): void {
    const now = this.now();
    const last = rec.lastUsedAt === undefined ? 0 : Date.parse(rec.lastUsedAt);
    if (now - last < LAST_USED_RESOLUTION_MS) return;
    this.store?.markTokenUsed(rec.name, new Date(now).toISOString()).catch(this.onError);
  }
}
