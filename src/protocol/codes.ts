/**
 * Close codes and error-frame codes both sides agree on, so an agent can tell "fix your credential" from
 * "wait for an operator" from "reconnect at once".
 */

/** ws close codes the controller uses (4000-4999 are application codes). */
export const CLOSE_CODES = {
  /** Controller shutting down: reconnect with back-off. */
  goingAway: 1001,
  /** Too many bad frames (policy violation). */
  policyViolation: 1008,
  /** A frame above the size limit (ws closes with this by itself). */
  tooLarge: 1009,
  /** Another connection with the same agent id took over this one. */
  replaced: 4000,
  /** Not authenticated: no hello, bad bootstrap token or bad credential. */
  unauthenticated: 4001,
  /** Authenticated but not allowed: revoked, or pending approval. */
  forbidden: 4003,
} as const;

/** `code` values of `error` frames sent by the controller, besides the codec's FrameErrorCode. */
export const ERROR_CODES = {
  notAuthenticated: 'not_authenticated',
  badToken: 'bad_token',
  badCredential: 'bad_credential',
  revoked: 'revoked',
  pendingApproval: 'pending_approval',
  /** A valid frame at the wrong moment, e.g. a second hello. */
  outOfOrder: 'out_of_order',
  /** The controller could not make a message durable; it was not acked and should be re-sent. */
  handlerFailed: 'handler_failed',
  /** Another connection with the same agent id took over; sent just before close 4000. */
  replaced: 'replaced',
  /** The connection is closed for sending too many bad frames. */
  tooManyBadFrames: 'too_many_bad_frames',
} as const;

export type ControllerErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];
