/** Header access and timing-safe secret checks for Git webhooks. */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Node's `IncomingHttpHeaders` (any key case), or a fetch-style `Headers`. */
export type WebhookHeaders =
  | Readonly<Record<string, string | string[] | undefined>>
  | { get(name: string): string | null };

/** The value of header `name` (case-insensitive), first one if repeated. */
export function headerValue(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof headers.get === 'function') return headers.get(name) ?? undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (typeof first === 'string') return first;
  }
  return undefined;
}

/**
 * Constant-time string equality. Both sides are hashed first so that neither the content nor the length of
 * the secret leaks through timing (`timingSafeEqual` itself throws on different lengths).
 */
export function safeEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Hex HMAC-SHA256 of the raw body: the signature GitHub (after `sha256=`) and Gitea send. */
export function hmacSha256Hex(secret: string, body: Uint8Array): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** Checks a GitHub-style `sha256=<hex>` header value against the body. */
export function verifyGithubSignature(header: string | undefined, secret: string, body: Uint8Array): boolean {
  if (header === undefined || !header.startsWith('sha256=')) return false;
  return safeEqual(header.slice('sha256='.length).trim().toLowerCase(), hmacSha256Hex(secret, body));
}

/** Checks a bare hex HMAC-SHA256 header value (Gitea) against the body. */
export function verifyHexSignature(header: string | undefined, secret: string, body: Uint8Array): boolean {
  if (header === undefined) return false;
  return safeEqual(header.trim().toLowerCase(), hmacSha256Hex(secret, body));
}

/** Checks `Authorization: Bearer <secret>`. */
export function verifyBearer(header: string | undefined, secret: string): boolean {
  const match = header === undefined ? null : /^Bearer\s+(.+)$/i.exec(header.trim());
  return match?.[1] !== undefined && safeEqual(match[1], secret);
}
