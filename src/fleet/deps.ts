/** What the fleet hub depends on, injected through one deps object so tests swap fakes. */
import type { Clock as KernelClock, Logger } from '../kernel/index.js';
import type { AgentFacts, SpooledMessage } from '../protocol/messages.js';
import type { AgentRegistry } from './registry.js';

/** Cancels a timer set with `Clock.setTimer`. */
export type CancelTimer = () => void;

/** Time and timers, injectable so tests never wait for real. */
export interface Clock extends KernelClock {
  /** Runs `fn` once after `ms` milliseconds; the returned function cancels it. */
  setTimer(ms: number, fn: () => void): CancelTimer;
}

/** Structured logger; fields are plain JSON (the kernel's). */
export type { Logger };

export type HostState = 'Connected' | 'Unknown' | 'Disconnected';

/** A live agent session as the hub lists it (plain JSON, servable as is). */
export interface SessionInfo {
  agentId: string;
  facts: AgentFacts;
  /** ISO time the session was established. */
  connectedAt: string;
  /** ISO time of the last frame received from the agent. */
  lastSeen: string;
  remoteAddress: string;
  status: Exclude<HostState, 'Disconnected'>;
  /** Manifest hash and spool high-water mark the agent announced in its hello. */
  manifestHash: string;
  spoolHighWater: number;
}

/**
 * What the hub calls; all async. For one agent id, `onDisconnect` of an old session always completes
 * before `onConnect` of its successor, and `onMessage` is only called once `onConnect` has settled or
 * called its `ready`.
 */
export interface HubHandlers {
  /**
   * A session was established (after `welcome` was sent). `ready()` lets the session's messages reach
   * `onMessage` before this settles: a handler calls it once it can take them (the host known, its
   * manifest sent), so a report need not wait for the rest (a store write). The hub calls it anyway when
   * this settles.
   */
  onConnect?(session: SessionInfo, ready: () => void): Promise<void>;
  /** A session ended; `reason` says why (close reason or 'replaced by a newer connection'). */
  onDisconnect?(agentId: string, reason: string): Promise<void>;
  /**
   * A report, execResult, event or data message. Resolve only once it is durable: the hub acks it to the
   * agent then. Throwing means "not acked": the agent re-sends it, so handlers must dedupe by `msg.id`.
   */
  onMessage(agentId: string, msg: SpooledMessage): Promise<void>;
}

export interface HubDeps {
  registry: AgentRegistry;
  handlers: HubHandlers;
  /** Default: the system clock. */
  clock?: Clock;
  /** Default: a logger that drops everything. */
  logger?: Logger;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
