/**
 * The agent's side of the handshake: who it says it is (`hello` with its credential or the bootstrap
 * token), the credential a `welcome` gives it, the controller's refusals, and whether a closed session is
 * worth reconnecting.
 */
import { ERROR_CODES } from '../src/protocol/codes.js';
import type { AgentFacts, HelloMessage } from '../src/protocol/messages.js';
import { type Identity, writeIdentity } from './identity.js';

/**
 * Refusals after which retrying cannot help; pending approval and session_live (a twin still connected) are
 * retried with back-off. reenroll_refused's message names the fix (`gsectl agents reset ID`).
 */
const FATAL_REFUSALS = new Set<string>([
  ERROR_CODES.badToken,
  ERROR_CODES.revoked,
  ERROR_CODES.reenrollRefused,
]);

/** After a close: connect again, enroll again with the bootstrap token, or stop for good. */
export type CloseDecision = 'reconnect' | 'reenroll' | 'fatal';

/**
 * What to do after the socket closed, given the code of the controller's last error on that session.
 * A credential the controller no longer knows (its store was reset) is re-enrolled when a token is at hand.
 */
export function closeDecision(refusal: string | undefined, canEnroll: boolean): CloseDecision {
  if (refusal === ERROR_CODES.badCredential) return canEnroll ? 'reenroll' : 'fatal';
  if (refusal && FATAL_REFUSALS.has(refusal)) return 'fatal';
  return 'reconnect';
}

export interface HandshakeConfig {
  stateDir: string;
  facts: AgentFacts;
  bootstrapToken?: string;
}

/** The identity exchange with the controller, one per agent, across reconnects. */
export class Handshake {
  private lastRefusal: string | undefined;
  private lastErrorCode: string | undefined;

  constructor(
    private readonly config: HandshakeConfig,
    private identity: Identity,
  ) {}

  get agentId(): string {
    return this.identity.agentId;
  }

  /** The id and credential (once enrolled), for the controller's artifact downloads. */
  get credentials(): { agentId: string; credential?: string } {
    return {
      agentId: this.identity.agentId,
      ...(this.identity.credential ? { credential: this.identity.credential } : {}),
    };
  }

  /** Why the controller last refused this agent, if it did. */
  get refusal(): string | undefined {
    return this.lastRefusal;
  }

  /** The `hello` that opens a session: the credential once enrolled, else the bootstrap token. */
  hello(manifestHash: string, spoolHighWater: number): HelloMessage {
    const { credential } = this.identity;
    return {
      v: 1,
      type: 'hello',
      agentId: this.identity.agentId,
      ...(credential ? { credential } : { bootstrapToken: this.config.bootstrapToken ?? '' }),
      facts: this.config.facts,
      manifestHash,
      spoolHighWater,
    };
  }

  /** A `welcome`: keeps the credential it carries (at enrollment) on disk, and clears the last refusal. */
  async welcomed(credential: string | undefined): Promise<void> {
    if (credential) {
      this.identity = { agentId: this.identity.agentId, credential };
      await writeIdentity(this.config.stateDir, this.identity);
    }
    this.lastRefusal = undefined;
  }

  /** An `error` from the controller: it decides the next close. */
  refused(code: string, message: string): void {
    this.lastErrorCode = code;
    this.lastRefusal = `${code}: ${message}`;
  }

  /** The socket closed: what to do next (a re-enrollment forgets the credential). */
  closed(): CloseDecision {
    const decision = closeDecision(this.lastErrorCode, Boolean(this.config.bootstrapToken));
    this.lastErrorCode = undefined;
    if (decision === 'reenroll') this.identity = { agentId: this.identity.agentId };
    return decision;
  }
}
