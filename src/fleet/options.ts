/** Hub options: every one optional except the bootstrap token, compiled once into a config with defaults. */
import { MAX_FRAME_BYTES } from '../protocol/messages.js';
import { HubConfigError } from './errors.js';

/** How often agents send a heartbeat (told to them in `welcome`). */
export const DEFAULT_HEARTBEAT_MS = 10_000;
/** A host whose last frame is older than this many heartbeats is Unknown. */
export const UNKNOWN_AFTER_HEARTBEATS = 3;
/** Spooled messages an agent may have in flight (un-acked) at once. */
export const DEFAULT_WINDOW = 64;
/** Bad frames tolerated on one connection; the next one closes it with 1008. */
export const DEFAULT_MAX_BAD_FRAMES = 20;
/** Time a new connection has to send its hello. */
export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
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
  /** Time to wait for the first frame (default 10_000 ms). */
  helloTimeoutMs?: number;
  /** Time `close()` waits for drain and clean closes (default 5_000 ms). */
  closeTimeoutMs?: number;
  /** Upgrade path (default '/agent'). */
  path?: string;
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
    maxFrameBytes: positiveInt('maxFrameBytes', opts.maxFrameBytes, MAX_FRAME_BYTES),
    maxBadFrames: nonNegativeInt('maxBadFrames', opts.maxBadFrames, DEFAULT_MAX_BAD_FRAMES),
    helloTimeoutMs: positiveInt('helloTimeoutMs', opts.helloTimeoutMs, DEFAULT_HELLO_TIMEOUT_MS),
    closeTimeoutMs: nonNegativeInt('closeTimeoutMs', opts.closeTimeoutMs, DEFAULT_CLOSE_TIMEOUT_MS),
    path,
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
