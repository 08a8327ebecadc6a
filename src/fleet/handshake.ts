/**
 * The first moments of a connection: wait (bounded) for the first frame, which must be a valid `hello`,
 * and stop reading while it is authenticated. Frames the agent pipelined behind its hello are kept, in
 * order, for the session to replay. Until the hub raises it after authentication, the frame limit is the
 * small pre-auth one, so an unauthenticated peer cannot make the controller buffer or parse megabytes.
 */
import type WebSocket from 'ws';
import { decodeAgentFrame, type RawFrame } from '../protocol/codec.js';
import { CLOSE_CODES, ERROR_CODES } from '../protocol/codes.js';
import type { HelloMessage } from '../protocol/messages.js';
import type { Clock, Logger } from './deps.js';
import type { CompiledHubOptions } from './options.js';
import type { HubCounters } from './stats.js';
import { MAX_QUEUED_FRAMES } from './window.js';
import { rawFrameBytes, refuseAndClose, setReadLimit } from './wire.js';

/** `error` code of a frame above the pre-auth limit (the codec's name for an oversized frame). */
const TOO_LARGE = 'too_large';

export interface EarlyFrame {
  data: RawFrame;
  isBinary: boolean;
}

export interface HelloReceived {
  hello: HelloMessage;
  /** Stops buffering and returns what was read after the hello; the caller installs its own listener. */
  detach(): EarlyFrame[];
}

export interface HandshakeContext {
  opts: CompiledHubOptions;
  clock: Clock;
  logger: Logger;
  counters: HubCounters;
}

/** Resolves with the hello, or undefined when the connection was refused or closed before one came. */
export function readHello(ws: WebSocket, ctx: HandshakeContext): Promise<HelloReceived | undefined> {
  return new Promise((resolve) => {
    const early: EarlyFrame[] = [];
    let hello: HelloMessage | undefined;
    let settled = false;

    const finish = (value: HelloReceived | undefined): void => {
      if (settled) return;
      settled = true;
      cancelTimer();
      ws.off('close', onClose);
      resolve(value);
    };
    const refuse = (message: string): void => {
      ctx.counters.authFailures++;
      ctx.counters.reject(ERROR_CODES.notAuthenticated);
      refuseAndClose(ws, CLOSE_CODES.unauthenticated, ERROR_CODES.notAuthenticated, message);
      ws.off('message', onMessage);
      finish(undefined);
    };
    const tooLarge = (data: RawFrame): boolean => {
      const bytes = rawFrameBytes(data);
      if (bytes <= ctx.opts.preAuthMaxFrameBytes) return false;
      ctx.counters.authFailures++;
      ctx.counters.reject(TOO_LARGE);
      refuseAndClose(
        ws,
        CLOSE_CODES.tooLarge,
        TOO_LARGE,
        `a frame of ${bytes} bytes before authentication exceeds ${ctx.opts.preAuthMaxFrameBytes} bytes`,
      );
      ws.off('message', onMessage);
      finish(undefined);
      return true;
    };
    const onMessage = (data: RawFrame, isBinary: boolean): void => {
      if (tooLarge(data)) return;
      if (hello) {
        // Pipelined behind the hello, read before the pause took effect.
        if (early.length >= MAX_QUEUED_FRAMES) {
          refuseAndClose(
            ws,
            CLOSE_CODES.policyViolation,
            ERROR_CODES.outOfOrder,
            'too many frames before welcome',
          );
          return;
        }
        early.push({ data, isBinary });
        return;
      }
      ctx.counters.framesIn++;
      const decoded = isBinary ? undefined : decodeAgentFrame(data, ctx.opts.maxFrameBytes);
      if (!decoded?.ok) {
        const why = decoded ? `${decoded.code}: ${decoded.message}` : 'binary frame';
        refuse(`the first frame must be a valid hello (${why})`);
        return;
      }
      if (decoded.msg.type !== 'hello') {
        refuse(`the first frame must be hello, got ${decoded.msg.type}`);
        return;
      }
      hello = decoded.msg;
      ws.pause();
      const received = hello;
      finish({
        hello: received,
        detach() {
          ws.off('message', onMessage);
          return early.splice(0);
        },
      });
    };
    const onClose = (): void => {
      ws.off('message', onMessage);
      finish(undefined);
    };
    const cancelTimer = ctx.clock.setTimer(ctx.opts.helloTimeoutMs, () => {
      if (!hello) refuse(`no hello within ${ctx.opts.helloTimeoutMs} ms`);
    });

    // Refuses an oversized frame from its header; the length check above covers a ws without that hook.
    setReadLimit(ws, ctx.opts.preAuthMaxFrameBytes);
    ws.on('message', onMessage);
    ws.on('close', onClose);
  });
}
