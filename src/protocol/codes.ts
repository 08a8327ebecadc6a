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
  /** Authenticated but not allowed: revoked, pending approval, or re-enrollment of a held id refused. */
  forbidden: 4003,
  /** Another session for this agent id is live and heard from: retry with back-off (it may be a stale twin). */
  sessionLive: 4009,
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
  /**
   * A bootstrap-token hello for an id that holds an approved credential: fatal for the agent, an operator
   * must run `gsectl agents reset ID` (e.g. for a wiped host) before it can enroll again.
   */
  reenrollRefused: 'reenroll_refused',
  /** A session for this agent id is already live and heard from recently; retryable with back-off. */
  sessionLive: 'session_live',
  /** An execResult the controller did not send to this host (or for a resource its manifest lacks). */
  resultRefused: 'result_refused',
} as const;

export type ControllerErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];
