/**
 * The fleet hub: a ws endpoint on an existing HTTP server where agents connect, authenticate and keep one
 * session each. Owns sessions by agent id; everything about one connection lives in AgentSession.
 *
 * One session per id: a second connection for an id whose session is live and heard from is refused
 * (4009, retryable), so two processes holding one identity cannot flap it back and forth; a session that
 * went silent (Unknown) or is closing may be replaced.
 */
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import { WebSocketServer } from 'ws';
import { CLOSE_CODES, ERROR_CODES } from '../protocol/codes.js';
import type { ControllerToAgent } from '../protocol/messages.js';
import { admitHello, CLOSE_INTERNAL_ERROR, SHUTDOWN_REASON } from './admission.js';
import { AdmissionGate, DEFAULT_MAX_RETRY_AFTER_MS } from './admission-rate.js';
import {
  type Clock,
  type HostState,
  type HubDeps,
  type HubHandlers,
  type Logger,
  type SessionInfo,
  silentLogger,
  systemClock,
} from './deps.js';
import { AgentNotFoundError, AgentStateError } from './errors.js';
import { HandledIds } from './handled-ids.js';
import { type HelloReceived, readHello } from './handshake.js';
import { KeyedQueue } from './keyed-queue.js';
import { type CompiledHubOptions, compileHubOptions, type HubOptions } from './options.js';
import type { AgentRecord, AgentRegistry } from './registry.js';
import { AgentSession } from './session.js';
import { HubCounters, type HubStats, snapshotStats } from './stats.js';
import {
  closedPromise,
  closeSocket,
  errorText,
  pathOf,
  refuseAndClose,
  rejectUpgrade,
  rejectUpgradeRetryAfter,
  setReadLimit,
} from './wire.js';

export type HubLifecycle = 'running' | 'closing' | 'closed';

const REPLACED_REASON = 'replaced by a newer connection';
const RESET_REASON = 'credential reset by an operator';

export class FleetHub {
  private readonly wss: WebSocketServer;
  private readonly live = new Map<string, AgentSession>();
  /** The live agent ids sorted, kept until the set of ids changes (a listing must not sort every call). */
  private sortedIds: string[] | undefined;
  private readonly sockets = new Set<WebSocket>();
  private readonly counters = new HubCounters();
  /** Serialises authentication and operator actions per agent id. */
  private readonly authQueue = new KeyedQueue();
  /** Serialises onConnect/onDisconnect per agent id, so a successor's connect follows its predecessor's disconnect. */
  private readonly lifecycle = new KeyedQueue();
  private readonly reported = new WeakSet<AgentSession>();
  /** Message ids already handled, across this hub's sessions: a replay is acked, not handled twice. */
  private readonly handled = new HandledIds();
  private handshaking = 0;
  private state: HubLifecycle = 'running';
  private closing: Promise<void> | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly registry: AgentRegistry;
  private readonly handlers: HubHandlers;
  /** Paces handshakes (admission-rate.ts): a reconnect storm is let in at a rate, not all at once. */
  private readonly admission: AdmissionGate;

  private constructor(
    private readonly server: HttpServer | HttpsServer,
    readonly options: CompiledHubOptions,
    deps: HubDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? silentLogger;
    this.registry = deps.registry;
    this.handlers = deps.handlers;
    this.admission = new AdmissionGate(
      {
        perSecond: options.admissionRate,
        burst: options.admissionBurst,
        maxRetryAfterMs: DEFAULT_MAX_RETRY_AFTER_MS,
      },
      () => this.clock.now(),
    );
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    server.on('upgrade', this.onUpgrade);
  }

  /** Compiles `options` (throws HubConfigError) and attaches the hub to `server` on `options.path` ('/agent'). */
  static async create(
    server: HttpServer | HttpsServer,
    options: HubOptions,
    deps: HubDeps,
  ): Promise<FleetHub> {
    return new FleetHub(server, compileHubOptions(options), deps);
  }

  /** running until close() is called, then closing, then closed. */
  get status(): HubLifecycle {
    return this.state;
  }

  /** Live sessions, sorted by agent id (sorted again only after a session came or went). */
  sessions(): SessionInfo[] {
    const now = this.clock.now();
    this.sortedIds ??= [...this.live.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const out: SessionInfo[] = [];
    for (const id of this.sortedIds) {
      const session = this.live.get(id);
      if (session) out.push(session.info(now));
    }
    return out;
  }

  /** Live sessions, without building a listing. */
  get connectedCount(): number {
    return this.live.size;
  }

  /** Agents whose session is live but silent (heartbeat overdue), without building a listing. */
  silentAgentIds(): Set<string> {
    const now = this.clock.now();
    const out = new Set<string>();
    for (const [id, session] of this.live) if (session.status(now) === 'Unknown') out.add(id);
    return out;
  }

  /** One live session, or undefined. */
  session(agentId: string): SessionInfo | undefined {
    return this.live.get(agentId)?.info(this.clock.now());
  }

  /** Connected, Unknown (connected but silent beyond unknownAfterMs) or Disconnected. */
  hostState(agentId: string): HostState {
    return this.live.get(agentId)?.status(this.clock.now()) ?? 'Disconnected';
  }

  /** Sends to a connected agent; false if it is not connected. Throws FrameTooLargeError above maxFrameBytes. */
  send(agentId: string, msg: ControllerToAgent): boolean {
    return this.live.get(agentId)?.send(msg) ?? false;
  }

  /** Every enrolled agent, from the registry. */
  agents(): Promise<AgentRecord[]> {
    return this.registry.listAgents();
  }

  /** Lets a pending (or revoked) agent in; a revoked one must enroll again with the bootstrap token. */
  approve(agentId: string): Promise<AgentRecord> {
    return this.authQueue.run(agentId, async () => {
      const rec = await this.registry.getAgent(agentId);
      if (!rec) throw new AgentNotFoundError(agentId);
      const credentialHash = rec.status === 'revoked' ? '' : rec.credentialHash;
      const next: AgentRecord = { ...rec, status: 'approved', credentialHash, updatedAt: this.isoNow() };
      await this.registry.putAgent(next);
      this.logger.info('agent approved', { agentId });
      return next;
    });
  }

  /**
   * Clears an agent's credential so its next bootstrap-token enrollment is let in (the way back for a host
   * that lost its identity, or one whose credential leaked), and closes its live session. Under manual
   * approval the id goes back to pending: the operator approves the new enrollment too. A revoked agent
   * stays revoked (approve it instead). Throws AgentNotFoundError or AgentStateError.
   */
  reset(agentId: string): Promise<AgentRecord> {
    return this.authQueue.run(agentId, async () => {
      const rec = await this.registry.getAgent(agentId);
      if (!rec) throw new AgentNotFoundError(agentId);
      if (rec.status === 'revoked') {
        throw new AgentStateError(
          agentId,
          `agent ${agentId} is revoked; to let it enroll again run: gsectl agents approve ${agentId}`,
        );
      }
      const status = this.options.autoApprove ? rec.status : 'pending';
      const next: AgentRecord = { ...rec, status, credentialHash: '', updatedAt: this.isoNow() };
      await this.registry.putAgent(next);
      const session = this.live.get(agentId);
      if (session) {
        session.send({ v: 1, type: 'error', code: ERROR_CODES.badCredential, message: RESET_REASON });
        session.close(CLOSE_CODES.unauthenticated, RESET_REASON);
      }
      this.logger.info('agent credential reset', { agentId, status });
      return next;
    });
  }

  /** Revokes an agent: its credential stops working and its live session is closed with 4003. */
  revoke(agentId: string): Promise<AgentRecord> {
    return this.authQueue.run(agentId, async () => {
      const rec = await this.registry.getAgent(agentId);
      if (!rec) throw new AgentNotFoundError(agentId);
      const next: AgentRecord = { ...rec, status: 'revoked', updatedAt: this.isoNow() };
      await this.registry.putAgent(next);
      const session = this.live.get(agentId);
      if (session) {
        const message = `agent ${agentId} is revoked`;
        session.send({ v: 1, type: 'error', code: ERROR_CODES.revoked, message });
        session.close(CLOSE_CODES.forbidden, message);
      }
      this.logger.info('agent revoked', { agentId });
      return next;
    });
  }

  /** Counters and gauges. */
  stats(): HubStats {
    return snapshotStats(this.counters, this.live.values(), this.handshaking);
  }

  /**
   * Stops accepting, lets in-flight handlers finish and acks them (up to closeTimeoutMs), closes every
   * connection with 1001 and waits for the last onDisconnect. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.state = 'closing';
    this.server.off('upgrade', this.onUpgrade);
    const sessions = [...this.live.values()];
    for (const s of sessions) s.stopReading();
    await this.within(Promise.all(sessions.map((s) => s.drained())));
    for (const s of sessions) {
      s.flushAcks();
      s.close(CLOSE_CODES.goingAway, SHUTDOWN_REASON);
    }
    const sockets = [...this.sockets];
    for (const ws of sockets) {
      closeSocket(ws, CLOSE_CODES.goingAway, SHUTDOWN_REASON);
    }
    await this.within(Promise.all(sockets.map(closedPromise)));
    for (const ws of this.sockets) ws.terminate();
    await Promise.all(sockets.map(closedPromise));
    await this.authQueue.idle();
    await this.lifecycle.idle();
    this.wss.close();
    this.state = 'closed';
  }

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (pathOf(req.url) !== this.options.path) {
      // Other upgrade listeners on this server own other paths; alone, answer 404 rather than hang.
      if (this.server.listenerCount('upgrade') === 1) rejectUpgrade(socket, 404, 'Not Found');
      return;
    }
    if (this.state !== 'running') {
      rejectUpgrade(socket, 503, 'Service Unavailable');
      return;
    }
    if (this.handshaking >= this.options.maxHandshakes) {
      // Unauthenticated connections are bounded; a refused agent is booked a later slot, as paced ones are.
      this.counters.handshakesRejected++;
      rejectUpgradeRetryAfter(socket, this.admission.defer());
      return;
    }
    const admitted = this.admission.tryAdmit();
    if (!admitted.admit) {
      this.counters.handshakesRejected++;
      rejectUpgradeRetryAfter(socket, admitted.retryAfterMs);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.accept(ws, req.socket.remoteAddress ?? '').catch((err: unknown) => {
        this.logger.error('agent connection failed', { error: errorText(err) });
        closeSocket(ws, CLOSE_INTERNAL_ERROR, 'internal error');
      });
    });
  };

  private async accept(ws: WebSocket, remoteAddress: string): Promise<void> {
    this.sockets.add(ws);
    ws.on('error', (err: Error & { code?: string }) => {
      // ws closes the connection itself (1009 for an oversized frame, 1002/1007 for protocol errors).
      this.counters.reject(err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'too_large' : 'ws_protocol');
      this.logger.debug('ws error', { remoteAddress, code: err.code, error: err.message });
    });
    ws.on('close', () => this.sockets.delete(ws));
    this.handshaking++;
    try {
      const received = await readHello(ws, {
        opts: this.options,
        clock: this.clock,
        logger: this.logger,
        counters: this.counters,
      });
      if (!received) return;
      const agentId = received.hello.agentId;
      await this.authQueue.run(agentId, () => this.admit(ws, received, remoteAddress));
    } finally {
      this.handshaking--;
    }
  }

  /**
   * Authenticates the hello and, if accepted, establishes the session: refused while a twin is live and
   * heard from, replacing one that went silent or is closing.
   */
  private async admit(ws: WebSocket, received: HelloReceived, remoteAddress: string): Promise<void> {
    const admitted = await admitHello(ws, received.hello, remoteAddress, {
      registry: this.registry,
      options: this.options,
      counters: this.counters,
      logger: this.logger,
      now: () => this.isoNow(),
      running: () => this.state === 'running',
    });
    // A credential issued just now (an operator cleared the old one) outranks any older session.
    if (admitted && admitted.credential === undefined && this.liveTwin(received.hello.agentId)) {
      const agentId = received.hello.agentId;
      this.counters.duplicateSessionsRefused++;
      this.logger.warn('agent refused: a session for this id is live', { agentId, remoteAddress });
      refuseAndClose(
        ws,
        CLOSE_CODES.sessionLive,
        ERROR_CODES.sessionLive,
        `a session for agent ${agentId} is already live; retry later (if two hosts share this id, give one another --name)`,
      );
      received.detach();
      return;
    }
    if (admitted) this.establish(ws, received, remoteAddress, admitted.credential);
    else received.detach();
  }

  /** True when `agentId` has a session that is not closing and was heard from within unknownAfterMs. */
  private liveTwin(agentId: string): boolean {
    const old = this.live.get(agentId);
    if (!old || old.closedFor !== undefined) return false;
    return old.status(this.clock.now()) === 'Connected';
  }

  private establish(
    ws: WebSocket,
    received: HelloReceived,
    remoteAddress: string,
    credential?: string,
  ): void {
    const { hello } = received;
    const agentId = hello.agentId;
    const session = new AgentSession(ws, hello, remoteAddress, {
      opts: this.options,
      clock: this.clock,
      logger: this.logger,
      counters: this.counters,
      handlers: this.handlers,
      handled: this.handled,
    });
    const old = this.live.get(agentId);
    this.live.set(agentId, session);
    if (!old) this.sortedIds = undefined;
    if (old) {
      this.counters.sessionsReplaced++;
      old.send({ v: 1, type: 'error', code: ERROR_CODES.replaced, message: REPLACED_REASON });
      old.close(CLOSE_CODES.replaced, REPLACED_REASON);
      this.reportDisconnect(old, REPLACED_REASON);
    }
    session.send({
      v: 1,
      type: 'welcome',
      agentId,
      ...(credential === undefined ? {} : { credential }),
      heartbeatMs: this.options.heartbeatMs,
      window: this.options.window,
      stampsHost: true,
    });
    ws.on('message', (data, isBinary) => session.receive(data, isBinary));
    ws.on('close', (code, reason) => {
      session.onSocketClosed();
      if (this.live.get(agentId) === session) {
        this.live.delete(agentId);
        this.sortedIds = undefined;
      }
      this.reportDisconnect(
        session,
        session.closedFor ?? (reason.toString() || `connection closed (${code})`),
      );
    });
    // Authenticated: frames up to the full limit (manifests' reports can be large) from now on.
    setReadLimit(ws, this.options.maxFrameBytes);
    ws.resume();
    for (const frame of received.detach()) session.receive(frame.data, frame.isBinary);
    this.logger.info('agent connected', { agentId, remoteAddress, enrolled: credential !== undefined });
    const info = session.info(this.clock.now());
    const ready = (): void => session.open();
    this.lifecycle
      .run(agentId, async () => this.handlers.onConnect?.(info, ready))
      .catch((err: unknown) => this.handlerFailed('onConnect', agentId, err))
      .then(ready)
      .catch((err: unknown) => this.handlerFailed('session open', agentId, err));
  }

  /** Calls onDisconnect once per session, after that agent id's earlier lifecycle callbacks. */
  private reportDisconnect(session: AgentSession, reason: string): void {
    if (this.reported.has(session)) return;
    this.reported.add(session);
    const agentId = session.agentId;
    this.logger.info('agent disconnected', { agentId, reason });
    this.lifecycle
      .run(agentId, async () => this.handlers.onDisconnect?.(agentId, reason))
      .catch((err: unknown) => this.handlerFailed('onDisconnect', agentId, err));
  }

  private handlerFailed(handler: string, agentId: string, err: unknown): void {
    this.counters.handlerErrors++;
    this.logger.error(`${handler} handler failed`, { agentId, error: errorText(err) });
  }

  /** Resolves when `work` settles or closeTimeoutMs passed, whichever is first. */
  private within(work: Promise<unknown>): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.clock.setTimer(this.options.closeTimeoutMs, resolve);
      const settle = (): void => {
        cancel();
        resolve();
      };
      work.then(settle, settle);
    });
  }

  private isoNow(): string {
    return new Date(this.clock.now()).toISOString();
  }
}
