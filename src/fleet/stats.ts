/** Counters of the hub, for `hub.stats()`, /metrics and tests. */

export interface HubStats {
  /** Live, authenticated sessions. */
  connected: number;
  /** Connections that have not completed the handshake yet. */
  handshaking: number;
  /** Frames received, good or bad (oversized frames that ws cut off are counted in framesRejected only). */
  framesIn: number;
  /** Refused frames by error code (too_large, bad_json, bad_frame, bad_version, unknown_type, ...). */
  framesRejected: Record<string, number>;
  /** Handshakes refused (no hello, bad token or credential, revoked, pending, timeout). */
  authFailures: number;
  /** Handler calls that threw (their messages were not acked). */
  handlerErrors: number;
  /** Handler calls that resolved (their messages were acked or will be). */
  messagesHandled: number;
  /** Ack frames sent, and the ids they carried. */
  acksSent: number;
  idsAcked: number;
  /** Messages whose id was already handled (a replay or a re-send): acked again, not handled twice. */
  replaysIgnored: number;
  /** Handler calls running now, and frames read but waiting for a window slot, over all sessions. */
  inFlight: number;
  queued: number;
  /** Sessions whose socket is paused because their window is full. */
  pausedSessions: number;
  sessionsReplaced: number;
  /** Connections refused (4009) because a session for the same agent id was live and heard from. */
  duplicateSessionsRefused: number;
  /** Upgrades answered 503 because maxHandshakes connections were already authenticating. */
  handshakesRejected: number;
  /** Connections closed for too many bad frames (1008). */
  badFrameCloses: number;
}

/** The hub's cumulative counters; gauges (connected, inFlight...) are filled in by the hub on snapshot. */
export class HubCounters {
  framesIn = 0;
  readonly framesRejected: Record<string, number> = {};
  authFailures = 0;
  handlerErrors = 0;
  messagesHandled = 0;
  acksSent = 0;
  idsAcked = 0;
  replaysIgnored = 0;
  sessionsReplaced = 0;
  duplicateSessionsRefused = 0;
  handshakesRejected = 0;
  badFrameCloses = 0;

  /** Counts one refused frame under `code`. */
  reject(code: string): void {
    this.framesRejected[code] = (this.framesRejected[code] ?? 0) + 1;
  }
}

/** What the hub needs of a session to fill in the gauges. */
export interface SessionGauges {
  readonly inFlight: number;
  readonly queued: number;
  readonly paused: boolean;
}

/** A plain snapshot of counters plus gauges summed over live sessions (one pass, no copy). */
export function snapshotStats(
  c: HubCounters,
  sessions: Iterable<SessionGauges>,
  handshaking: number,
): HubStats {
  let connected = 0;
  let inFlight = 0;
  let queued = 0;
  let pausedSessions = 0;
  for (const s of sessions) {
    connected++;
    inFlight += s.inFlight;
    queued += s.queued;
    if (s.paused) pausedSessions++;
  }
  return {
    connected,
    handshaking,
    framesIn: c.framesIn,
    framesRejected: { ...c.framesRejected },
    authFailures: c.authFailures,
    handlerErrors: c.handlerErrors,
    messagesHandled: c.messagesHandled,
    acksSent: c.acksSent,
    idsAcked: c.idsAcked,
    replaysIgnored: c.replaysIgnored,
    inFlight,
    queued,
    pausedSessions,
    sessionsReplaced: c.sessionsReplaced,
    duplicateSessionsRefused: c.duplicateSessionsRefused,
    handshakesRejected: c.handshakesRejected,
    badFrameCloses: c.badFrameCloses,
  };
}
