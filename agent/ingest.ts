/**
 * The agent's local data intake: a Unix socket `<state-dir>/ingest.sock` (mode 0600) and, optionally, an
 * HTTP endpoint on 127.0.0.1. Local programs push JSON lines `{"channel": "...", ...fields}`; each becomes a
 * record (rid, receive time; the controller stamps the host), batched into `data` messages that go through
 * the agent's spool, so they survive restarts and leave it only when the controller acks them. A line
 * `{"event": "custom.<name>", ...fields}` raises that host event instead (routed and matched by Remediations
 * like the agent's own). Pushers are told a record or event is accepted only once it is spooled. While the spool holds more than `maxBacklog` un-acked
 * messages, no ingest socket is read (HTTP answers 503) until acks bring it under half of that.
 */
import { randomUUID } from 'node:crypto';
import { chmod, lstat, rm } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import { type AddressInfo, createConnection, createServer, type Server, type Socket } from 'node:net';
import type { DataMessage, HostEvent } from '../src/protocol/messages.js';
import { type Clock, hasErrno, type Logger } from './engine/index.js';
import { type AddOutcome, type BatcherOptions, DataBatcher } from './ingest-batcher.js';
import { IngestConnection } from './ingest-connection.js';
import { IngestListenError, IngestPathTooLongError, IngestSocketInUseError } from './ingest-errors.js';
import { createIngestHttpServer } from './ingest-http.js';
import { type EventInput, MAX_LINE_BYTES } from './ingest-parse.js';
import { createStamper } from './ingest-record.js';

/** The socket's file name in the agent's state dir. */
export const INGEST_SOCKET_NAME = 'ingest.sock';
/** Un-acked spooled messages above which ingest stops reading (500 records each: 500,000 records). */
export const MAX_UNACKED_MESSAGES = 1_000;
/** Reading resumes once the backlog is below this fraction of the limit (hysteresis, so it does not flap). */
export const RESUME_BELOW_FRACTION = 0.5;
/** Linux `sun_path` holds 108 bytes including the terminating NUL. */
export const UNIX_SOCKET_PATH_MAX_BYTES = 107;
/** How long `close()` lets pushers take their last answers before cutting them off. */
export const INGEST_CLOSE_TIMEOUT_MS = 2_000;
/** How long the start-up probe waits for an answer on an existing socket file. */
const STALE_PROBE_TIMEOUT_MS = 1_000;
const SOCKET_MODE = 0o600;

/** What ingest needs from the agent. */
export interface IngestSink {
  /** Appends the message to the spool (durable when it resolves) and sends it when the window allows. */
  append(msg: DataMessage): Promise<void>;
  /** Un-acked messages in the spool now. */
  backlog(): number;
}

export interface IngestOptions {
  /** Usually `<state-dir>/ingest.sock`. */
  socketPath: string;
  /** Port on 127.0.0.1 for `POST /v1/records`; absent: no HTTP; 0: any free port. */
  httpPort?: number;
  /** Default MAX_UNACKED_MESSAGES. */
  maxBacklog?: number;
  /** Message size and delay; defaults in ingest-batcher.ts (500 records, 50 ms). */
  batch?: BatcherOptions;
  /** Default MAX_LINE_BYTES. */
  maxLineBytes?: number;
  /** Default MAX_UNCONFIRMED_RECORDS_PER_CONNECTION. */
  maxUnconfirmedPerConnection?: number;
}

export interface IngestDeps {
  sink: IngestSink;
  /** This agent's id, which its records' rids start with. */
  agentId(): string;
  clock: Clock;
  logger: Logger;
  /** Message ids; default randomUUID. */
  newId?(): string;
  /**
   * Raises a pushed custom event as the agent's own host events go (spooled when it resolves). Default:
   * none, and pushed events are refused.
   */
  raiseEvent?(event: HostEvent): Promise<void>;
  /**
   * True while control work has the agent's priority (control-priority.ts): sockets are not read then;
   * call `onPriorityChanged()` when it changes. HTTP is not held (it would answer 503). Default: never.
   */
  held?(): boolean;
}

/** Counters and flow state, for tests and diagnostics. */
export interface IngestStats {
  connections: number;
  paused: boolean;
  pausedConnections: number;
  /** Records spooled since start. */
  accepted: number;
  /** Lines or items refused (bad JSON, no channel, spool failure). */
  refused: number;
  /** Records waiting in the open message. */
  buffered: number;
  pauses: number;
}

export class IngestServer {
  private readonly connections = new Set<IngestConnection>();
  private readonly batcher: DataBatcher;
  private readonly resumeBelow: number;
  private readonly maxBacklog: number;
  private http: HttpServer | undefined;
  private isPaused = false;
  private closing: Promise<void> | undefined;
  private counts = { accepted: 0, refused: 0, pauses: 0 };

  private constructor(
    private readonly options: IngestOptions,
    private readonly deps: IngestDeps,
    private readonly server: Server,
  ) {
    this.maxBacklog = Math.max(1, options.maxBacklog ?? MAX_UNACKED_MESSAGES);
    this.resumeBelow = Math.max(1, Math.floor(this.maxBacklog * RESUME_BELOW_FRACTION));
    this.batcher = new DataBatcher(
      {
        append: (msg) => deps.sink.append(msg),
        stamp: createStamper({ agentId: deps.agentId, clock: deps.clock }),
        newId: deps.newId ?? randomUUID,
        onAppended: () => this.checkPressure(),
      },
      options.batch,
    );
  }

  /** Listens on the socket (removing a stale one first) and, when asked, on the HTTP port. */
  static async start(options: IngestOptions, deps: IngestDeps): Promise<IngestServer> {
    const path = options.socketPath;
    if (Buffer.byteLength(path) > UNIX_SOCKET_PATH_MAX_BYTES)
      throw new IngestPathTooLongError(path, UNIX_SOCKET_PATH_MAX_BYTES);
    await clearStaleSocket(path);
    const server = createServer({ allowHalfOpen: true });
    const ingest = new IngestServer(options, deps, server);
    server.on('connection', (socket) => ingest.accept(socket));
    await listen(server, path, path);
    await chmod(path, SOCKET_MODE);
    if (options.httpPort !== undefined) {
      try {
        await ingest.startHttp(options.httpPort);
      } catch (err) {
        await ingest.close();
        throw err;
      }
    }
    return ingest;
  }

  /** The HTTP port when listening (useful with port 0). */
  get httpPort(): number | undefined {
    return (this.http?.address() as AddressInfo | null)?.port;
  }

  /** True while ingest is not reading because the spool is over its limit. */
  get paused(): boolean {
    return this.isPaused;
  }

  /** The agent calls this when control work starts or stops holding data work back. */
  onPriorityChanged(): void {
    for (const c of this.connections) c.updateFlow();
  }

  /** The agent calls this after acks: reading resumes once the backlog is low enough. */
  onBacklogShrunk(): void {
    this.checkPressure();
  }

  stats(): IngestStats {
    let pausedConnections = 0;
    for (const c of this.connections) if (c.paused) pausedConnections += 1;
    return {
      connections: this.connections.size,
      paused: this.isPaused,
      pausedConnections,
      accepted: this.counts.accepted,
      refused: this.counts.refused,
      buffered: this.batcher.buffered,
      pauses: this.counts.pauses,
    };
  }

  /** Stops accepting, spools what was read, answers pushers, closes sockets and removes the socket file. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const httpClosed = this.http
      ? new Promise<void>((resolve) => this.http?.close(() => resolve()))
      : Promise.resolve();
    const shutdowns = [...this.connections].map((c) => c.shutdown());
    await this.batcher.flush();
    const timer = setTimeout(() => {
      for (const c of this.connections) c.destroy();
      this.http?.closeAllConnections();
    }, INGEST_CLOSE_TIMEOUT_MS);
    try {
      await Promise.all(shutdowns);
      this.http?.closeIdleConnections();
      await Promise.all([serverClosed, httpClosed]);
    } finally {
      clearTimeout(timer);
    }
    await rm(this.options.socketPath, { force: true });
  }

  private accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const conn = new IngestConnection(socket, {
      add: (inputs) => this.batcher.add(inputs),
      raise: (events) => this.raise(events),
      serverPaused: () => this.isPaused || (this.deps.held?.() ?? false),
      onClose: (c) => this.connections.delete(c),
      onCounted: (a, r) => this.count(a, r),
      logger: this.deps.logger,
      maxLineBytes: this.options.maxLineBytes ?? MAX_LINE_BYTES,
      ...(this.options.maxUnconfirmedPerConnection !== undefined
        ? { maxUnconfirmed: this.options.maxUnconfirmedPerConnection }
        : {}),
    });
    this.connections.add(conn);
  }

  private async startHttp(port: number): Promise<void> {
    const http = createIngestHttpServer({
      add: (inputs) => this.batcher.add(inputs),
      raise: (events) => this.raise(events),
      paused: () => this.isPaused || this.closing !== undefined,
      onCounted: (a, r) => this.count(a, r),
      logger: this.deps.logger,
      maxLineBytes: this.options.maxLineBytes ?? MAX_LINE_BYTES,
    });
    await listen(http, { port, host: '127.0.0.1' }, `127.0.0.1:${port}`);
    this.http = http;
  }

  /** Stamps each pushed event with the receive time and raises it, in order; counts what was spooled. */
  private async raise(events: readonly EventInput[]): Promise<AddOutcome> {
    const raiseEvent = this.deps.raiseEvent;
    if (!raiseEvent)
      return { accepted: 0, failed: events.length, error: 'this agent does not take pushed events' };
    const out: AddOutcome = { accepted: 0, failed: 0 };
    for (const e of events) {
      try {
        await raiseEvent({
          type: e.type,
          time: new Date(this.deps.clock.now()).toISOString(),
          fields: e.fields,
        });
        out.accepted += 1;
      } catch (err) {
        out.failed += 1;
        out.error ??= String(err);
      }
    }
    return out;
  }

  private count(accepted: number, refused: number): void {
    this.counts.accepted += accepted;
    this.counts.refused += refused;
  }

  private checkPressure(): void {
    const backlog = this.deps.sink.backlog();
    if (!this.isPaused && backlog >= this.maxBacklog) {
      this.isPaused = true;
      this.counts.pauses += 1;
      this.deps.logger.warn('ingest paused: spool backlog over its limit', { backlog, max: this.maxBacklog });
    } else if (this.isPaused && backlog < this.resumeBelow) {
      this.isPaused = false;
      this.deps.logger.info('ingest resumed', { backlog });
    } else {
      return;
    }
    for (const c of this.connections) c.updateFlow();
  }
}

/** The default socket path of an agent whose state lives in `stateDir`. */
export function ingestSocketPath(stateDir: string): string {
  return `${stateDir.replace(/\/+$/, '')}/${INGEST_SOCKET_NAME}`;
}

/** Removes a socket file no process answers on; refuses to touch one that answers, or a non-socket. */
async function clearStaleSocket(path: string): Promise<void> {
  try {
    const st = await lstat(path);
    if (!st.isSocket()) throw new IngestListenError(path, new Error('exists and is not a socket'));
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return;
    throw err;
  }
  if (await answers(path)) throw new IngestSocketInUseError(path);
  await rm(path, { force: true });
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    const done = (live: boolean) => {
      clearTimeout(timer);
      probe.destroy();
      resolve(live);
    };
    const timer = setTimeout(() => done(false), STALE_PROBE_TIMEOUT_MS);
    probe.once('connect', () => done(true));
    probe.once('error', () => done(false));
  });
}

function listen(
  server: Server | HttpServer,
  where: string | { port: number; host: string },
  label: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new IngestListenError(label, err));
    server.once('error', onError);
    server.listen(where, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
