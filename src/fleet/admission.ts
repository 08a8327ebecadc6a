/** Turns an authentication outcome into action: refuse (error frame + close) or let the session open. */
import WebSocket from 'ws';
import { CLOSE_CODES } from '../protocol/codes.js';
import type { HelloMessage } from '../protocol/messages.js';
import { authenticate } from './auth.js';
import type { Logger } from './deps.js';
import type { CompiledHubOptions } from './options.js';
import type { AgentRegistry } from './registry.js';
import type { HubCounters } from './stats.js';
import { closeSocket, errorText, refuseAndClose } from './wire.js';

/** ws close code for "the server hit an unexpected condition". */
export const CLOSE_INTERNAL_ERROR = 1011;
export const SHUTDOWN_REASON = 'controller shutting down';

export interface AdmissionContext {
  registry: AgentRegistry;
  options: CompiledHubOptions;
  counters: HubCounters;
  logger: Logger;
  /** ISO time for registry records. */
  now(): string;
  /** False once the hub is closing: late handshakes are turned away. */
  running(): boolean;
}

/** Authenticates `hello`; on refusal answers and closes `ws` and returns undefined. */
export async function admitHello(
  ws: WebSocket,
  hello: HelloMessage,
  remoteAddress: string,
  ctx: AdmissionContext,
): Promise<{ credential?: string } | undefined> {
  let outcome: Awaited<ReturnType<typeof authenticate>>;
  try {
    outcome = await authenticate(hello, {
      registry: ctx.registry,
      bootstrapToken: ctx.options.bootstrapToken,
      autoApprove: ctx.options.autoApprove,
      now: ctx.now,
    });
  } catch (err) {
    ctx.logger.error('agent registry failed during authentication', {
      agentId: hello.agentId,
      error: errorText(err),
    });
    refuseAndClose(
      ws,
      CLOSE_INTERNAL_ERROR,
      'internal',
      'controller could not check credentials; retry later',
    );
    return undefined;
  }
  if (!outcome.ok) {
    ctx.counters.authFailures++;
    ctx.logger.warn('agent refused', { agentId: hello.agentId, code: outcome.code, remoteAddress });
    refuseAndClose(ws, outcome.closeCode, outcome.code, outcome.message);
    return undefined;
  }
  // The agent may have gone, or the hub started closing, while the registry answered.
  if (ws.readyState !== WebSocket.OPEN) return undefined;
  if (!ctx.running()) {
    closeSocket(ws, CLOSE_CODES.goingAway, SHUTDOWN_REASON);
    return undefined;
  }
  return outcome.credential === undefined ? {} : { credential: outcome.credential };
}
