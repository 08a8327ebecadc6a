/**
 * One authenticated agent connection: reads its frames after the handshake, answers heartbeats, runs the
 * message handler through the in-flight window (one per lane: control never waits behind data) and acks
 * what the handler made durable. A replayed id is acked again but not handled twice (see handled-ids.ts).
 */
import type WebSocket from 'ws';
import { decodeAgentFrame, encodeFrame, type RawFrame } from '../protocol/codec.js';
import { CLOSE_CODES, ERROR_CODES } from '../protocol/codes.js';
import { laneOf } from '../protocol/lanes.js';
import type { ControllerToAgent, HelloMessage, SpooledMessage } from '../protocol/messages.js';
import type { Clock, HubHandlers, Logger, SessionInfo } from './deps.js';
import { FrameTooLargeError } from './errors.js';
import { HandledIds } from './handled-ids.js';
import type { CompiledHubOptions } from './options.js';
import type { HubCounters } from './stats.js';
import { LanedWindow } from './window.js';
import { closeSocket, sendMessage, sendText } from './wire.js';

/** Bytes queued for sending to one agent beyond which it is deemed not reading and cut off. */
export const MAX_SEND_BUFFER_BYTES = 16 * 1024 * 1024;

export interface SessionContext {
  opts: CompiledHubOptions;
  clock: Clock;
  logger: Logger;
  counters: HubCounters;
  handlers: HubHandlers;
  /** Ids already handled, shared by the hub's sessions (default: a set of this session's own). */
  handled?: HandledIds;
}

export class AgentSession {
  readonly agentId: string;
  readonly connectedAtMs: number;
  lastSeenMs: number;
  private badFrames = 0;
  private closing = false;
  private closeStarted = false;
  /** The reason this side gave when it closed the connection, if it did. */
  closedFor: string | undefined;
  private pendingAcks: string[] = [];
  private ackTimer: NodeJS.Immediate | undefined;
  private readonly window: LanedWindow<SpooledMessage>;
  private readonly handled: HandledIds;

  constructor(
    readonly ws: WebSocket,
    readonly hello: HelloMessage,
    readonly remoteAddress: string,
    private readonly ctx: SessionContext,
  ) {
    this.agentId = hello.agentId;
    this.connectedAtMs = ctx.clock.now();
    this.lastSeenMs = this.connectedAtMs;
    this.handled = ctx.handled ?? new HandledIds();
    // Held until onConnect settles, so handlers see connect before messages. Both lanes get the window
    // `welcome` announces: a new agent keeps that many in flight per lane, an old one that many in all.
    this.window = new LanedWindow<SpooledMessage>(
      { control: ctx.opts.window, data: ctx.opts.window, held: true },
      laneOf,
      (msg) => this.handle(msg),
      {
        onFull: () => ws.pause(),
        onRoom: () => ws.resume(),
      },
    );
  }

  get inFlight(): number {
    return this.window.inFlight;
  }

  get queued(): number {
    return this.window.queued;
  }

  get paused(): boolean {
    return this.window.isFull;
  }

  /** Lets queued and future messages reach the handler (called once onConnect settled). */
  open(): void {
    this.window.open();
  }

  /** Handles one frame read from the socket. */
  receive(data: RawFrame, isBinary: boolean): void {
    if (this.closing) return;
    this.ctx.counters.framesIn++;
    this.lastSeenMs = this.ctx.clock.now();
    if (isBinary) {
      this.reject('bad_frame', 'binary frames are not accepted; send JSON text');
      return;
    }
    const decoded = decodeAgentFrame(data, this.ctx.opts.maxFrameBytes);
    if (!decoded.ok) {
      this.reject(decoded.code, decoded.message, decoded.ref);
      return;
    }
    const msg = decoded.msg;
    switch (msg.type) {
      case 'hello':
        this.reject(ERROR_CODES.outOfOrder, 'hello is only valid as the first frame');
        return;
      case 'heartbeat':
        this.send({ v: 1, type: 'heartbeat', time: new Date(this.ctx.clock.now()).toISOString() });
        return;
      case 'error':
        this.ctx.logger.warn('agent reported an error', {
          agentId: this.agentId,
          code: msg.code,
          message: msg.message,
          ref: msg.ref,
        });
        return;
      default: {
        const refused = this.window.push(msg);
        if (refused) this.close(CLOSE_CODES.policyViolation, refused.message);
      }
    }
  }

  /** Sends a message; false if the socket is not open. Throws FrameTooLargeError above maxFrameBytes. */
  send(msg: ControllerToAgent): boolean {
    if (this.closing) return false;
    const text = encodeFrame(msg);
    const bytes = Buffer.byteLength(text);
    if (bytes > this.ctx.opts.maxFrameBytes) {
      throw new FrameTooLargeError(this.agentId, bytes, this.ctx.opts.maxFrameBytes);
    }
    if (this.ws.bufferedAmount > MAX_SEND_BUFFER_BYTES) {
      this.close(CLOSE_CODES.policyViolation, 'agent is not reading its frames');
      return false;
    }
    return sendText(this.ws, text);
  }

  /** Ignores further frames and drops queued ones (unacked, so the agent re-sends them); for shutdown. */
  stopReading(): void {
    this.closing = true;
    this.window.clear();
  }

  /** Closes the connection; queued messages are dropped (the agent re-sends them). */
  close(code: number, reason: string): void {
    if (this.closeStarted) return;
    this.closeStarted = true;
    this.closing = true;
    this.closedFor = reason;
    this.window.clear();
    closeSocket(this.ws, code, reason);
  }

  /** Called by the hub once the socket is closed, whoever closed it. */
  onSocketClosed(): void {
    this.closing = true;
    this.closeStarted = true;
    this.window.clear();
    if (this.ackTimer) clearImmediate(this.ackTimer);
    this.pendingAcks = [];
  }

  /** Resolves once no handler call is running. */
  drained(): Promise<void> {
    return this.window.idle();
  }

  /** Sends the acks collected so far now, rather than at the end of the tick. */
  flushAcks(): void {
    if (this.ackTimer) clearImmediate(this.ackTimer);
    this.ackTimer = undefined;
    if (this.pendingAcks.length === 0) return;
    const ids = this.pendingAcks;
    this.pendingAcks = [];
    if (sendMessage(this.ws, { v: 1, type: 'ack', ids })) {
      this.ctx.counters.acksSent++;
      this.ctx.counters.idsAcked += ids.length;
    }
  }

  /** Connected, or Unknown when no frame came for longer than unknownAfterMs. */
  status(now: number): SessionInfo['status'] {
    return now - this.lastSeenMs > this.ctx.opts.unknownAfterMs ? 'Unknown' : 'Connected';
  }

  /** The session as plain JSON. */
  info(now: number): SessionInfo {
    return {
      agentId: this.agentId,
      facts: this.hello.facts,
      connectedAt: new Date(this.connectedAtMs).toISOString(),
      lastSeen: new Date(this.lastSeenMs).toISOString(),
      remoteAddress: this.remoteAddress,
      status: this.status(now),
      manifestHash: this.hello.manifestHash,
      spoolHighWater: this.hello.spoolHighWater,
    };
  }

  /**
   * Runs the handler once per id: an id already handled (in this session or an earlier one) is only acked
   * again; one still being handled by an older session of this agent waits for that outcome.
   */
  private async handle(msg: SpooledMessage): Promise<void> {
    const seen = this.handled.check(this.agentId, msg.id);
    if (seen === 'handled' || (seen !== 'new' && (await seen.running))) {
      this.ctx.counters.replaysIgnored++;
      this.ctx.logger.debug('replayed message id acked, not handled again', {
        agentId: this.agentId,
        type: msg.type,
        id: msg.id,
      });
      this.queueAck(msg.id);
      return;
    }
    let settle!: (ok: boolean) => void;
    this.handled.track(
      this.agentId,
      msg.id,
      new Promise<boolean>((resolve) => {
        settle = resolve;
      }),
    );
    try {
      await this.ctx.handlers.onMessage(this.agentId, msg);
      settle(true);
    } catch (err) {
      settle(false);
      this.ctx.counters.handlerErrors++;
      this.ctx.logger.error('message handler failed; not acked', {
        agentId: this.agentId,
        type: msg.type,
        id: msg.id,
        error: err instanceof Error ? err.message : String(err),
      });
      sendMessage(this.ws, {
        v: 1,
        type: 'error',
        code: ERROR_CODES.handlerFailed,
        message: `${msg.type} ${msg.id} was not stored; re-send it`,
        ref: msg.id,
      });
      return;
    }
    this.ctx.counters.messagesHandled++;
    this.queueAck(msg.id);
  }

  private queueAck(id: string): void {
    this.pendingAcks.push(id);
    // Coalesce: every handler that resolves in this tick shares one ack frame.
    this.ackTimer ??= setImmediate(() => this.flushAcks());
  }

  private reject(code: string, message: string, ref?: string): void {
    this.ctx.counters.reject(code);
    this.badFrames++;
    this.ctx.logger.debug('frame rejected', { agentId: this.agentId, code, message });
    if (this.badFrames > this.ctx.opts.maxBadFrames) {
      this.ctx.counters.badFrameCloses++;
      const reason = `too many bad frames (${this.badFrames})`;
      sendMessage(this.ws, { v: 1, type: 'error', code: ERROR_CODES.tooManyBadFrames, message: reason });
      this.close(CLOSE_CODES.policyViolation, reason);
      return;
    }
    sendMessage(
      this.ws,
      ref === undefined
        ? { v: 1, type: 'error', code, message }
        : { v: 1, type: 'error', code, message, ref },
    );
  }
}
