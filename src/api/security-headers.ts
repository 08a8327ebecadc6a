/**
 * Headers every response carries. The dashboard is one page with one inline <style> and one inline
 * <script>: its CSP allows exactly those two blocks by sha256 hash (no 'unsafe-inline'), so markup injected
 * through data the page shows could not run script even if escaping were ever missed.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';

/** Every response: no framing, no MIME sniffing, no referrer leaking URLs. */
const COMMON_HEADERS: Record<string, string> = {
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** JSON and text responses load nothing and render nothing. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** Sets the common headers and the API's CSP; the dashboard replaces the CSP with `dashboardCsp`. */
export function setSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of Object.entries(COMMON_HEADERS)) res.setHeader(name, value);
  res.setHeader('content-security-policy', API_CSP);
}

function sha256Source(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** The bodies of every inline `<tag>...</tag>` in `html` (the page has no attributes on these tags). */
function inlineBlocks(html: string, tag: 'script' | 'style'): string[] {
  const re = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g');
  return [...html.matchAll(re)].map((m) => m[1] ?? '');
}

/** The dashboard's CSP: its own inline blocks by hash, API calls to the same origin, nothing else. */
export function dashboardCsp(html: string): string {
  const scripts = inlineBlocks(html, 'script').map(sha256Source).join(' ');
  const styles = inlineBlocks(html, 'style').map(sha256Source).join(' ');
  return [
    "default-src 'none'",
    `script-src ${scripts}`,
    `style-src ${styles}`,
    "connect-src 'self'",
    "img-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
