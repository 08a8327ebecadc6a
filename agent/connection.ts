/**
 * One agent's link to the controller: opens the ws, hands frames up, and reconnects until stopped. Each
 * failed connect or lost session moves on to the next controller address (controller-targets.ts) after a
 * jittered exponential backoff, or after the retry-after a busy controller answered with (never sooner).
 * It knows nothing of what the frames mean.
 */
import { lookup } from 'node:dns/promises';
import type { IncomingMessage } from 'node:http';
import type { LookupFunction } from 'node:net';
import WebSocket from 'ws';
import { decodeControllerFrame, encodeFrame } from '../src/protocol/codec.js';
import { CLOSE_CODES } from '../src/protocol/codes.js';
import { type ControllerToAgent, MAX_FRAME_BYTES, type Message } from '../src/protocol/messages.js';
import {
  nextReconnectDelayMs,
  type ReconnectWait,
  retryAfterFromHeaders,
  usesRestartStep,
} from './backoff.js';
import { type ControllerTarget, ControllerTargets, type ResolveAll } from './controller-targets.js';
import { describeConnectError } from './link-security.js';

/** One reconnect, as logged: where to, the how-many-th in a row, and the wait before it. */
export interface ReconnectAttempt {
  url: string;
  /** The address the connect is pinned to, when the URL's name has several. */
  address?: string;
  /** 1 for the first reconnect after a healthy session or the first failure; reset by markHealthy. */
  attempt: number;
  delayMs: number;
  /** The controller's retry-after, when it turned the last attempt away (the delay honours it). */
  retryAfterMs?: number;
}

export interface ConnectionHandlers {
  /** The socket is open: send hello. */
  onOpen(): void;
  onMessage(msg: ControllerToAgent): void;
  /** A frame from the controller that did not decode; logged by the caller. */
  onBadFrame(message: string): void;
  /** The socket closed; return false to stop reconnecting (the controller refused us for good). */
  onClose(code: number, reason: string): boolean;
  /** A connect attempt failed (refused, TLS certificate not trusted, ...): one line for the log. */
  onError?(message: string): void;
  /** About to wait `delayMs` and connect again: one line for the log. */
  onReconnect?(attempt: ReconnectAttempt): void;
}

export interface ConnectionDeps {
  /** Waits `ms`; tests pass one that records the delays and returns at once. */
  sleep(ms: number): Promise<void>;
  random(): number;
  /** All addresses of a host name (default dns.promises.lookup with all: true). */
  resolveAll?: ResolveAll;
  /** Wall-clock ms, for an HTTP-date Retry-After (default Date.now). */
  now?(): number;
}

export interface ConnectionOptions {
  /** The controller's agent URLs, tried in turn (the first is picked at random, to spread a fleet). */
  urls: readonly string[];
  /** PEM of the CA the controller's certificate must chain to (wss://); replaces the system roots. */
  ca?: string | Buffer;
}

const systemResolveAll: ResolveAll = (host) => lookup(host, { all: true });

/** A lookup that answers `address` whatever the name, so TLS still checks the URL's name. */
function pinnedLookup(address: string, family: 4 | 6): LookupFunction {
  return ((_host, options, callback) => {
    if (options?.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  }) as LookupFunction;
}

const CONNECT_TIMEOUT_MS = 10_000;

export class AgentConnection {
  private ws: WebSocket | undefined;
  private stopped = false;
  /** Attempts since the last healthy session (what onReconnect reports). */
  private attempt = 0;
  /** Exponential backoff steps taken since then (restart-step waits are not counted). */
  private backoffSteps = 0;
  /** When the controller last closed a healthy session as going away (restarting); cleared by a handshake. */
  private goingAwayAt: number | undefined;
  private loop: Promise<void> | undefined;
  private readonly targets: ControllerTargets;
  private target: ControllerTarget | undefined;
  private wake: () => void = () => {};
  private readonly stopping: Promise<void>;

  constructor(
    private readonly options: ConnectionOptions,
    private readonly handlers: ConnectionHandlers,
    private readonly deps: ConnectionDeps,
  ) {
    this.targets = new ControllerTargets(
      options.urls,
      deps.resolveAll ?? systemResolveAll,
      Math.floor(deps.random() * options.urls.length),
    );
    this.stopping = new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  /** The URL of the controller connected to (or being connected to). */
  get url(): string | undefined {
    return this.target?.url;
  }

  /** Starts connecting; resolves at once (the link lives until `stop`). */
  start(): void {
    if (this.loop) return;
    this.loop = this.run();
  }

  /** True when the socket is open. */
  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Sends a frame if the socket is open; returns false otherwise (the caller keeps it spooled). */
  send(msg: Message): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(encodeFrame(msg));
    return true;
  }

  /** Sends a message already encoded as its frame text (a spooled message as spooled); false when not open. */
  sendEncoded(json: string): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(json);
    return true;
  }

  /** Bytes queued in the socket but not yet written: the caller stops sending while this is high. */
  get bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  /** A successful handshake resets the backoff. */
  markHealthy(): void {
    this.attempt = 0;
    this.backoffSteps = 0;
    this.goingAwayAt = undefined;
  }

  private nowMs(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Closes the link and stops reconnecting. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    this.ws?.close(1000, 'agent stopping');
    await this.loop;
  }

  private async run(): Promise<void> {
    let target = await this.targets.next();
    while (!this.stopped) {
      const { reconnect, retryAfterMs, code } = await this.connectOnce(target);
      if (this.stopped) break;
      // A healthy session the controller closed as going away: it is restarting, come back soon.
      if (code === CLOSE_CODES.goingAway && this.attempt === 0) this.goingAwayAt = this.nowMs();
      if (!reconnect) {
        this.stopped = true;
        break;
      }
      const wait: ReconnectWait = {
        attempt: this.backoffSteps,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        ...(this.goingAwayAt === undefined ? {} : { sinceGoingAwayMs: this.nowMs() - this.goingAwayAt }),
      };
      const delayMs = nextReconnectDelayMs(wait, this.deps.random);
      if (!usesRestartStep(wait)) this.backoffSteps++;
      this.attempt++;
      target = await this.targets.next();
      this.handlers.onReconnect?.({
        url: target.url,
        ...(target.address === undefined ? {} : { address: target.address }),
        attempt: this.attempt,
        delayMs,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      });
      await Promise.race([this.deps.sleep(delayMs), this.stopping]);
    }
  }

  private connectOnce(
    target: ControllerTarget,
  ): Promise<{ reconnect: boolean; retryAfterMs?: number; code: number }> {
    this.target = target;
    return new Promise((resolve) => {
      const ws = new WebSocket(target.url, {
        maxPayload: MAX_FRAME_BYTES,
        handshakeTimeout: CONNECT_TIMEOUT_MS,
        perMessageDeflate: false,
        // Pinned: only this CA is trusted, so a certificate from any public CA for the same name is refused.
        ...(this.options.ca ? { ca: this.options.ca } : {}),
        ...(target.address === undefined ? {} : { lookup: pinnedLookup(target.address, target.family ?? 4) }),
      });
      this.ws = ws;
      let settled = false;
      let retryAfterMs: number | undefined;
      let answered = false;
      const done = (code: number, reason: string) => {
        if (settled) return;
        settled = true;
        if (this.ws === ws) this.ws = undefined;
        const reconnect = this.handlers.onClose(code, reason);
        resolve(retryAfterMs === undefined ? { reconnect, code } : { reconnect, retryAfterMs, code });
      };
      // An HTTP answer instead of an upgrade: a busy controller says when to come back (503 + Retry-After).
      ws.on('unexpected-response', (_req, res: IncomingMessage) => {
        answered = true;
        const status = res.statusCode ?? 0;
        if (status === 503 || status === 429)
          retryAfterMs = retryAfterFromHeaders(res.headers, (this.deps.now ?? Date.now)());
        if (retryAfterMs === undefined) this.handlers.onError?.(`controller answered HTTP ${status}`);
        res.resume();
        ws.terminate();
      });
      ws.on('open', () => this.handlers.onOpen());
      ws.on('message', (data: Buffer) => {
        const decoded = decodeControllerFrame(data);
        if (decoded.ok) this.handlers.onMessage(decoded.msg);
        else this.handlers.onBadFrame(`${decoded.code}: ${decoded.message}`);
      });
      ws.on('close', (code, reason) => done(code, reason.toString()));
      // 'error' is always followed by 'close' in ws; keep it from being thrown.
      ws.on('error', (err: Error & { code?: string }) => {
        // The HTTP answer was reported above; the abort that follows it is not news.
        if (!answered) this.handlers.onError?.(describeConnectError(err));
      });
    });
  }
}
