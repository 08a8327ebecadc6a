/** What a GSE action handler receives and returns; the dispatcher (dispatch.ts) builds the call. */
import type { Actor } from '../auth.js';
import type { ApiPort } from '../port.js';
import type { RequestContext, Role } from '../router.js';
import type { GseEnvelope } from './envelope.js';

/** One authenticated GSE call. */
export interface GseCall {
  /** The path family it came by (`cluster`, `task/extensions`, `esb`...). */
  family: string;
  /** The action name as the path spells it. */
  action: string;
  /** The JSON body, without credential keys (`{}` when empty). */
  body: Record<string, unknown>;
  /** The named token (or flag token) that authenticated the call. */
  actor: Actor;
  /** `bk_username` when the tool sent one (who acted, for audit lines and commit authors). */
  username?: string;
  requestId: string;
  port: ApiPort;
  ctx: RequestContext;
}

/** Answers in GSE's envelope; throws GseError (or HttpError) to refuse with an HTTP status. */
export type GseHandler = (call: GseCall) => Promise<GseEnvelope> | GseEnvelope;

export interface GseAction {
  /** Least role allowed. */
  role: Role;
  /** Changes nothing: not audited. Actions that change something are audited by the dispatcher. */
  readOnly: boolean;
  handler: GseHandler;
  /**
   * Why the action is not served on this controller (a feature that is off), checked before the role: such a
   * call answers 404 with this message, whoever asks. Undefined (or absent): served.
   */
  unavailable?(port: ApiPort): string | undefined;
}

/** A read: viewer role, not audited. */
export const read = (handler: GseHandler): GseAction => ({ role: 'viewer', readOnly: true, handler });
/** A write: operator role, audited. */
export const write = (handler: GseHandler): GseAction => ({ role: 'operator', readOnly: false, handler });
