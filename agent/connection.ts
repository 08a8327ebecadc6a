/**
 * One agent's link to the controller: opens the ws, hands frames up, and reconnects with jittered
 * exponential backoff until stopped. It knows nothing of what the frames mean.
 */
import WebSocket from 'ws';
import { decodeControllerFrame, encodeFrame } from '../src/protocol/codec.js';
import { type ControllerToAgent, MAX_FRAME_BYTES, type Message } from '../src/protocol/messages.js';
import { reconnectDelayMs } from './backoff.js';
import { describeConnectError } from './link-security.js';

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
}

export interface ConnectionDeps {
  /** Waits `ms`; tests pass one that records the delays and returns at once. */
  sleep(ms: number): Promise<void>;
  random(): number;
}

export interface ConnectionOptions {
  url: string;
  /** PEM of the CA the controller's certificate must chain to (wss://); replaces the system roots. */
  ca?: string | Buffer;
}

const CONNECT_TIMEOUT_MS = 10_000;

export class AgentConnection {
  private ws: WebSocket | undefined;
  private stopped = false;
  private attempt = 0;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly options: ConnectionOptions,
    private readonly handlers: ConnectionHandlers,
    private readonly deps: ConnectionDeps,
  ) {}

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

  /** Bytes queued in the socket but not yet written: the caller stops sending while this is high. */
  get bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  /** A successful handshake resets the backoff. */
  markHealthy(): void {
    this.attempt = 0;
  }

  /** Closes the link and stops reconnecting. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.ws?.close(1000, 'agent stopping');
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const { reconnect } = await this.connectOnce();
      if (this.stopped) break;
      if (!reconnect) {
        this.stopped = true;
        break;
      }
      await this.deps.sleep(reconnectDelayMs(this.attempt++, this.deps.random));
    }
  }

  private connectOnce(): Promise<{ reconnect: boolean }> {
    return new Promise((resolve) => {
      const ws = new WebSocket(this.options.url, {
        maxPayload: MAX_FRAME_BYTES,
        handshakeTimeout: CONNECT_TIMEOUT_MS,
        perMessageDeflate: false,
        // Pinned: only this CA is trusted, so a certificate from any public CA for the same name is refused.
        ...(this.options.ca ? { ca: this.options.ca } : {}),
      });
      this.ws = ws;
      let settled = false;
      const done = (code: number, reason: string) => {
        if (settled) return;
        settled = true;
        if (this.ws === ws) this.ws = undefined;
        resolve({ reconnect: this.handlers.onClose(code, reason) });
      };
      ws.on('open', () => this.handlers.onOpen());
      ws.on('message', (data: Buffer) => {
        const decoded = decodeControllerFrame(data);
        if (decoded.ok) this.handlers.onMessage(decoded.msg);
        else this.handlers.onBadFrame(`${decoded.code}: ${decoded.message}`);
      });
      ws.on('close', (code, reason) => done(code, reason.toString()));
      // 'error' is always followed by 'close' in ws; keep it from being thrown.
      ws.on('error', (err: Error & { code?: string }) => this.handlers.onError?.(describeConnectError(err)));
    });
  }
}
