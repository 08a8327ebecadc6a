/**
 * gsectl's HTTP(S) transport on node:http/node:https: Node's fetch cannot take a CA without undici, and a
 * pinned CA (`--ca` / GSE_CA) is what lets gsectl trust a controller's private certificate.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';

export interface TransportRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** PEM CA for https:// (replaces the system roots). */
  ca?: string | Buffer;
}

/**
 * Sends one request and resolves with the response head; the body is read from the stream. node:https (and
 * with it tls and crypto, ~25 more built-in modules) is loaded only for an https:// URL: most of a plain
 * `gsectl exec` process is start-up.
 */
export async function send(req: TransportRequest): Promise<IncomingMessage> {
  const url = new URL(req.url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw Object.assign(new Error(`unsupported scheme ${url.protocol}`), { code: 'BAD_SCHEME' });
  const request = url.protocol === 'https:' ? (await import('node:https')).request : httpRequest;
  return new Promise((resolve, reject) => {
    const r = request(
      url,
      {
        method: req.method,
        headers: {
          ...req.headers,
          ...(req.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(req.body)) }),
        },
        ...(url.protocol === 'https:' && req.ca ? { ca: req.ca } : {}),
      },
      resolve,
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

/** The whole body as text. */
export async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
