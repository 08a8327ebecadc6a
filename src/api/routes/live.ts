/**
 * GET /api/v1/events: the controller's changes as Server-Sent Events, for the dashboard. Authenticated like
 * every read (a viewer bearer token in the Authorization header; the dashboard reads the stream with fetch,
 * since EventSource cannot send a header and a token in the URL would end up in logs and history). The first
 * event, `hello`, carries the plots' ring buffers; then one event per change as the feed hears it (types in
 * src/controller/live-feed.ts), and a comment line every HEARTBEAT_MS so proxies and the client know the
 * stream is alive. Events are hints: the client re-reads what they name through the JSON API.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LiveEvent } from '../../controller/live-feed.js';
import type { Authenticator } from '../auth.js';
import type { ApiPort } from '../port.js';
import { HANDLED, type Route } from '../router.js';

/** A comment line this often keeps idle proxies from closing the stream. */
export const HEARTBEAT_MS = 15_000;
/** The client's reconnect delay, sent as the stream's `retry:` field. */
export const CLIENT_RETRY_MS = 3_000;
/**
 * Bytes a slow reader may leave unsent before its stream is ended (it reconnects and re-reads the API);
 * a stalled dashboard must not make the controller buffer without bound.
 */
export const MAX_UNSENT_BYTES = 1024 * 1024;

export interface LiveRouteOptions {
  /** Heartbeat interval; default HEARTBEAT_MS. */
  heartbeatMs?: number;
  /** Unsent bytes before a slow stream is ended; default MAX_UNSENT_BYTES. */
  maxUnsentBytes?: number;
  /**
   * Checks the stream's token again at every heartbeat and ends the stream once it no longer authenticates
   * (a revoked named token), so a revoke holds for open streams too; absent, only the open is checked.
   */
  auth?: Pick<Authenticator, 'authenticate'>;
  /** The clock of the hello event; default Date.now. */
  now?: () => number;
}

/** One SSE frame: an event name, an id and a JSON data line (JSON has no raw newlines). */
export function sseFrame(event: string, id: number, data: unknown): string {
  return `event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The event stream route. */
export function liveRoutes(port: ApiPort, options: LiveRouteOptions = {}): Route[] {
  const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  const maxUnsent = options.maxUnsentBytes ?? MAX_UNSENT_BYTES;
  return [
    {
      method: 'GET',
      pattern: '/api/v1/events',
      role: 'viewer',
      handler: (ctx) => {
        streamEvents(port, ctx.req, ctx.res, { ...options, heartbeatMs, maxUnsentBytes: maxUnsent });
        return HANDLED;
      },
    },
  ];
}

function streamEvents(
  port: ApiPort,
  req: IncomingMessage,
  res: ServerResponse,
  options: LiveRouteOptions & { heartbeatMs: number; maxUnsentBytes: number },
): void {
  const maxUnsent = options.maxUnsentBytes;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    // nginx and similar proxies buffer responses unless told not to.
    'x-accel-buffering': 'no',
  });
  res.socket?.setNoDelay(true);
  let id = 0;
  let closed = false;
  const write = (text: string): void => {
    if (closed) return;
    res.write(text);
    if (res.writableLength > maxUnsent) {
      port.logger.error('event stream reader too slow; stream ended', { unsent: res.writableLength });
      close();
      res.destroy();
    }
  };
  const unsubscribe = port.live.subscribe((event: LiveEvent) => {
    id += 1;
    write(sseFrame(event.type, id, event));
  });
  const recheck = (): void => {
    options.auth?.authenticate(req.headers.authorization).then(
      (result) => {
        if (result.ok || closed) return;
        close();
        res.end();
      },
      (err: unknown) => port.logger.error('event stream token check failed', { err: String(err) }),
    );
  };
  const heartbeat = setInterval(() => {
    write(': heartbeat\n\n');
    recheck();
  }, options.heartbeatMs);
  heartbeat.unref();
  const close = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unsubscribe();
  };
  res.on('close', close);
  res.on('error', close);
  write(`retry: ${CLIENT_RETRY_MS}\n\n`);
  id += 1;
  const now = options.now ?? Date.now;
  write(sseFrame('hello', id, { at: new Date(now()).toISOString(), ...port.live.history() }));
}
