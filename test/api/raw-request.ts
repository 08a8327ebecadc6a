/**
 * A raw HTTP(S) request to a test controller, for what `ctl.api` cannot send: malformed JSON, oversized
 * bodies, arbitrary headers, and reading response headers. It trusts `ctl.ca` when the controller serves TLS.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { RunningController } from '../helpers/controller.js';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface RawInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** Sends one request to `path` on the controller and reads the whole response. */
export function rawRequest(ctl: RunningController, path: string, init: RawInit = {}): Promise<RawResponse> {
  const url = new URL(path, ctl.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let responded = false;
    let writeError: Error | undefined;
    const req = send(
      url,
      { method: init.method ?? 'GET', headers: init.headers, ...(ctl.ca ? { ca: ctl.ca } : {}) },
      (res) => {
        responded = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    // The server may answer (413) and close before the whole body is written: that is not a failure here.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
      else writeError = err;
    });
    req.on('close', () => {
      if (!responded) reject(writeError ?? new Error(`no response to ${init.method ?? 'GET'} ${path}`));
    });
    if (init.body !== undefined) req.end(init.body);
    else req.end();
  });
}

/** The `error.message` of an API error body, or undefined. */
export function errorMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const error = (body as { error?: { message?: unknown } }).error;
  return typeof error?.message === 'string' ? error.message : undefined;
}
