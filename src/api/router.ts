/**
 * A small HTTP router over node:http: method + path pattern (`/api/v1/hosts/:id`) -> handler. Handlers
 * return data (sent as JSON) or throw HttpError; one mapper writes every error. A framework would add
 * little here: the API is a handful of JSON routes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JsonValue } from '../store/types.js';
import { badRequest, HttpError } from './http-error.js';

export type Role = 'viewer' | 'operator' | 'admin';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The raw body (read lazily, capped). */
  body(): Promise<Buffer>;
  /** The body parsed as JSON (an empty body is `{}`); 400 when it is not JSON. */
  json(): Promise<unknown>;
  /** The body as a JSON object (an empty body is `{}`); 400 when it is not JSON or not an object. */
  jsonObject(): Promise<Record<string, unknown>>;
  /** Who is calling, once authenticated. */
  actor?: { name: string; role: Role };
  /** What the audit record of this call says beyond method and path (never a secret). */
  auditDetail?: JsonValue;
  /**
   * Writes the audit record now (with `detail`) rather than when the call ends: a streaming handler calls it
   * once its work has started, so the record exists even if the stream never finishes.
   */
  auditNow(detail?: JsonValue): Promise<void>;
}

/** What a handler returns: JSON data, or a raw response it wrote itself (`{ handled: true }`). */
export type HandlerResult = unknown;
export type Handler = (ctx: RequestContext) => Promise<HandlerResult> | HandlerResult;

export interface Route {
  method: string;
  pattern: string;
  /** Least role allowed; 'public' needs no token. */
  role: Role | 'public';
  /** A POST that changes nothing (the GSE queries): not audited. */
  readOnly?: boolean;
  handler: Handler;
}

interface CompiledRoute extends Route {
  regex: RegExp;
  names: string[];
}

export const MAX_BODY_BYTES = 1024 * 1024;
/** The marker a handler returns when it wrote the response itself (streaming, HTML). */
export const HANDLED = Symbol('handled');

/** Compiles `/a/:id/b` into a matcher. */
function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const src = route.pattern
    .split('/')
    .map((seg) => {
      if (seg.startsWith(':')) {
        names.push(seg.slice(1));
        return '([^/]+)';
      }
      return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { ...route, regex: new RegExp(`^${src}/?$`), names };
}

export class Router {
  private readonly routes: CompiledRoute[];

  constructor(routes: Route[]) {
    this.routes = routes.map(compile);
  }

  /** The route for a method and path, with its params; `methodMismatch` when only the method is wrong. */
  match(
    method: string,
    path: string,
  ): { route: CompiledRoute; params: Record<string, string> } | 'methodMismatch' | undefined {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.regex.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const params: Record<string, string> = {};
      route.names.forEach((n, i) => {
        const raw = m[i + 1] ?? '';
        try {
          params[n] = decodeURIComponent(raw);
        } catch {
          throw badRequest(`${n}: "${raw}" is not valid percent-encoding`);
        }
      });
      return { route, params };
    }
    return pathMatched ? 'methodMismatch' : undefined;
  }
}

const tooLarge = () =>
  new HttpError(413, 'too_large', `request body over ${MAX_BODY_BYTES} bytes; send less (limit 1 MiB)`);

/**
 * Reads a request body up to MAX_BODY_BYTES (413 beyond). An oversized body is refused from its
 * Content-Length before reading, or as soon as it passes the limit; the rest is not read, and the
 * response closes the connection (so the 413 still reaches the client instead of a reset).
 */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        req.off('data', onData);
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Writes a JSON response. */
export function sendJson(res: ServerResponse, status: number, data: unknown): void {
  const body = JSON.stringify(data);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    // A 413 leaves the body unread: close rather than parse the rest as the next request.
    ...(status === 413 ? { connection: 'close' } : {}),
  });
  res.end(body);
}
