/** Small helpers for talking on a ws: typed sends and close reasons that fit the protocol limit. */
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { encodeFrame, type RawFrame } from '../protocol/codec.js';
import type { ControllerToAgent } from '../protocol/messages.js';

/** A close reason may carry at most 123 bytes (RFC 6455 §5.5). */
const MAX_CLOSE_REASON_BYTES = 123;

/** `reason` cut to what a close frame can carry, on a character boundary. */
export function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_CLOSE_REASON_BYTES) return reason;
  let out = '';
  for (const ch of reason) {
    if (Buffer.byteLength(out + ch) > MAX_CLOSE_REASON_BYTES - 3) break;
    out += ch;
  }
  return `${out}...`;
}

/** Sends a message if the socket is open; false otherwise. */
export function sendMessage(ws: WebSocket, msg: ControllerToAgent): boolean {
  return sendText(ws, encodeFrame(msg));
}

/** Sends a text frame if the socket is open; false otherwise. */
export function sendText(ws: WebSocket, text: string): boolean {
  if (ws.readyState !== WebSocket.OPEN) return false;
  ws.send(text);
  return true;
}

/** Starts the close handshake and reads again, so the peer's close frame is seen even if reading was paused. */
export function closeSocket(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  ws.close(code, closeReason(reason));
  ws.resume();
}

/** Sends an `error` frame, then closes with `code` and the same message as reason. */
export function refuseAndClose(ws: WebSocket, code: number, errorCode: string, message: string): void {
  sendMessage(ws, { v: 1, type: 'error', code: errorCode, message });
  closeSocket(ws, code, message);
}

/** The path of a request URL, or undefined when it does not parse. */
export function pathOf(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

/** Answers an upgrade request with a plain HTTP status (and extra headers) and closes the socket. */
export function rejectUpgrade(
  socket: Duplex,
  status: number,
  text: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  socket.on('error', () => {});
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${status} ${text}\r\n${extra}Connection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** Header carrying a retry-after in milliseconds; `Retry-After` (whole seconds) is sent beside it for other clients. */
export const RETRY_AFTER_MS_HEADER = 'X-Retry-After-Ms';

/** Turns an upgrade away with 503, telling the agent to come back in `retryAfterMs` (and not sooner). */
export function rejectUpgradeRetryAfter(socket: Duplex, retryAfterMs: number): void {
  const ms = Math.max(0, Math.ceil(retryAfterMs));
  rejectUpgrade(socket, 503, 'Service Unavailable', {
    'Retry-After': String(Math.max(1, Math.ceil(ms / 1000))),
    [RETRY_AFTER_MS_HEADER]: String(ms),
  });
}

/** Size in bytes of a frame as ws delivered it (before any decoding). */
export function rawFrameBytes(data: RawFrame): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (data instanceof Uint8Array) return data.byteLength;
  return data.reduce((n, part) => n + part.byteLength, 0);
}

/** The part of ws's (private) frame parser whose limit is checked on each frame header, before buffering. */
interface ReceiverLimit {
  _maxPayload: number;
}

/**
 * Sets the largest frame ws will read on this one socket, so an oversized frame is refused (1009) from its
 * header rather than after it was buffered. ws has no public per-socket limit; this reaches its receiver
 * (ws 8.x) and returns false when that shape is not there, in which case callers still check the frame
 * length after the read.
 */
export function setReadLimit(ws: WebSocket, bytes: number): boolean {
  const receiver = (ws as unknown as { _receiver?: Partial<ReceiverLimit> | null })._receiver;
  if (!receiver || typeof receiver._maxPayload !== 'number') return false;
  receiver._maxPayload = bytes;
  return true;
}

/** Resolves once the socket is closed. */
export function closedPromise(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => ws.once('close', () => resolve()));
}

/** The message of an error, or its string form. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
