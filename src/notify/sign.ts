/** Signing of callback bodies: `X-GSE-Signature: sha256=<hex HMAC-SHA256 of the exact body>`. Pure. */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header carrying the body's signature. */
export const SIGNATURE_HEADER = 'X-GSE-Signature';
/** The header carrying the delivery id (the body's `id`), for receivers that dedupe before parsing. */
export const DELIVERY_HEADER = 'X-GSE-Delivery';

/** `sha256=<hex>`: the HMAC-SHA256 of the exact bytes of `body` under `secret`. */
export function signBody(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** True when `header` is the signature of `body` under `secret` (constant-time compare); what a receiver checks. */
export function verifySignature(body: string | Buffer, secret: string, header: string | undefined): boolean {
  if (header === undefined) return false;
  const expected = Buffer.from(signBody(body, secret));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
