/** Bearer tokens with a role each. Only hashes are held in memory; comparisons are timing-safe. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Role } from './router.js';

export interface ApiToken {
  name: string;
  role: Role;
  /** sha256 hex of the token. */
  hash: string;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** sha256 hex of a token, the form tokens are kept in. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** True when `role` is at least `needed`. */
export function roleAllows(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

export class TokenAuthenticator {
  private readonly tokens: Array<ApiToken & { digest: Buffer }>;

  constructor(tokens: ApiToken[]) {
    this.tokens = tokens.map((t) => ({ ...t, digest: Buffer.from(t.hash, 'hex') }));
  }

  /** The token's owner for an `Authorization: Bearer ...` header, or undefined. */
  authenticate(header: string | undefined): { name: string; role: Role } | undefined {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!m?.[1]) return undefined;
    const digest = Buffer.from(hashToken(m[1]), 'hex');
    let found: ApiToken | undefined;
    // Compare against every token so the time taken does not tell which one matched.
    for (const t of this.tokens) if (timingSafeEqual(t.digest, digest)) found = t;
    return found ? { name: found.name, role: found.role } : undefined;
  }
}
