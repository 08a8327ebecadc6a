/** Hub options: every one optional except the bootstrap token, compiled once into a config with defaults. */
import { MAX_FRAME_BYTES } from '../protocol/messages.js';
import { DEFAULT_ADMISSION_BURST, DEFAULT_ADMISSION_RATE_PER_SECOND } from './admission-rate.js';
import { HubConfigError } from './errors.js';

/** How often agents send a heartbeat (told to them in `welcome`). */
export const DEFAULT_HEARTBEAT_MS = 10_000;
/** A host whose last frame is older than this many heartbeats is Unknown. */
export const UNKNOWN_AFTER_HEARTBEATS = 3;
/** Spooled messages an agent may have in flight (un-acked) at once. */
export const DEFAULT_WINDOW = 64;
/** Bad frames tolerated on one connection; the next one closes it with 1008. */
export const DEFAULT_MAX_BAD_FRAMES = 20;
/** Time a new connection has to send its hello: short, so idle unauthenticated sockets do not pile up. */
export const DEFAULT_HELLO_TIMEOUT_MS = 5_000;
/** Largest frame read before the hello is authenticated; a hello is a few KiB, 4 MiB is for manifests. */
export const DEFAULT_PRE_AUTH_MAX_FRAME_BYTES = 64 * 1024;
/** Connections allowed to be between upgrade and authenticated at once; more get 503 + Retry-After. */
export const DEFAULT_MAX_HANDSHAKES = 256;
/** Time `close()` waits for in-flight handlers and for agents to close, before cutting them off. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;
/** The upgrade path agents connect to. */
export const DEFAULT_AGENT_PATH = '/agent';

export interface HubOptions {
  /** The secret agents enroll with. Required. */
  bootstrapToken: string;
  /** Approve newly enrolled agents at once (default true); when false they wait for `approve`. */
  autoApprove?: boolean;
  /** Heartbeat interval sent in `welcome` (default 10_000 ms). */
  heartbeatMs?: number;
  /** A session with no frame for this long is Unknown (default 3 × heartbeatMs). */
  unknownAfterMs?: number;
  /** Handler calls in flight per agent, also sent in `welcome` (default 64). */
  window?: number;
  /** Largest frame accepted; bigger ones close the connection with 1009 (default MAX_FRAME_BYTES, 4 MiB). */
  maxFrameBytes?: number;
  /** Bad frames tolerated per connection before closing it with 1008 (default 20). */
  maxBadFrames?: number;
  /** Time to wait for the first frame (default 5_000 ms). */
  helloTimeoutMs?: number;
  /** Largest frame accepted before authentication; bigger ones close with 1009 (default 65_536). */
  preAuthMaxFrameBytes?: number;
  /** Concurrent unauthenticated connections; beyond it upgrades get 503 with Retry-After (default 256). */
  maxHandshakes?: number;
  /** Time `close()` waits for drain and clean closes (default 5_000 ms). */
  closeTimeoutMs?: number;
  /** Upgrade path (default '/agent'). */
  path?: string;
  /**
   * Handshakes admitted per second; the excess gets 503 with a retry-after that spreads them out
   * (default DEFAULT_ADMISSION_RATE_PER_SECOND, 2,000; 0 turns pacing off).
   */
  admissionRate?: number;
  /** Handshakes admitted at once after a quiet period (default DEFAULT_ADMISSION_BURST, 400). */
  admissionBurst?: number;
}

export type CompiledHubOptions = Readonly<Required<HubOptions>>;

/** Fills defaults and validates; throws HubConfigError naming the bad field. */
export function compileHubOptions(opts: HubOptions): CompiledHubOptions {
  if (typeof opts.bootstrapToken !== 'string' || opts.bootstrapToken.length === 0) {
    throw new HubConfigError('bootstrapToken', 'is required');
  }
  const heartbeatMs = positiveInt('heartbeatMs', opts.heartbeatMs, DEFAULT_HEARTBEAT_MS);
  const path = opts.path ?? DEFAULT_AGENT_PATH;
  if (!path.startsWith('/'))
    throw new HubConfigError('path', `must start with "/", got ${JSON.stringify(path)}`);
  const maxFrameBytes = positiveInt('maxFrameBytes', opts.maxFrameBytes, MAX_FRAME_BYTES);
  const preAuthMaxFrameBytes = positiveInt(
    'preAuthMaxFrameBytes',
    opts.preAuthMaxFrameBytes,
    Math.min(DEFAULT_PRE_AUTH_MAX_FRAME_BYTES, maxFrameBytes),
  );
  if (preAuthMaxFrameBytes > maxFrameBytes) {
    throw new HubConfigError(
      'preAuthMaxFrameBytes',
      `must not exceed maxFrameBytes (${maxFrameBytes}), got ${preAuthMaxFrameBytes}`,
    );
  }
  return {
    bootstrapToken: opts.bootstrapToken,
    autoApprove: opts.autoApprove ?? true,
    heartbeatMs,
    unknownAfterMs: positiveInt(
      'unknownAfterMs',
      opts.unknownAfterMs,
      UNKNOWN_AFTER_HEARTBEATS * heartbeatMs,
    ),
    window: positiveInt('window', opts.window, DEFAULT_WINDOW),
    maxFrameBytes,
    preAuthMaxFrameBytes,
    maxHandshakes: positiveInt('maxHandshakes', opts.maxHandshakes, DEFAULT_MAX_HANDSHAKES),
    maxBadFrames: nonNegativeInt('maxBadFrames', opts.maxBadFrames, DEFAULT_MAX_BAD_FRAMES),
    helloTimeoutMs: positiveInt('helloTimeoutMs', opts.helloTimeoutMs, DEFAULT_HELLO_TIMEOUT_MS),
    closeTimeoutMs: nonNegativeInt('closeTimeoutMs', opts.closeTimeoutMs, DEFAULT_CLOSE_TIMEOUT_MS),
    path,
    admissionRate: nonNegativeInt('admissionRate', opts.admissionRate, DEFAULT_ADMISSION_RATE_PER_SECOND),
    admissionBurst: positiveInt('admissionBurst', opts.admissionBurst, DEFAULT_ADMISSION_BURST),
  };
}

function positiveInt(field: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1)
    throw new HubConfigError(field, `must be a positive integer, got ${v}`);
  return v;
}

function nonNegativeInt(field: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new HubConfigError(field, `must be a non-negative integer, got ${v}`);
  }
  return v;
}
