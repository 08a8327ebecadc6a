/** What the Git source needs from the outside world, injectable so tests control time and output. */
import type { Clock, Logger } from '../kernel/index.js';

/** A pending timer; `clear()` cancels it (a no-op once fired). */
export interface TimerHandle {
  clear(): void;
}

/** Schedules callbacks. Tests pass a fake that records delays and fires on demand. */
export interface SourceTimer {
  set(callback: () => void, delayMs: number): TimerHandle;
}

export type { Clock };

/** The kernel's logger, under the name the source's callers know. */
export type SourceLogger = Logger;

export interface SourceDeps {
  /** Default: `setTimeout`. */
  timer?: SourceTimer;
  /** Default: `Date.now`. */
  clock?: Clock;
  /** Default: silent. */
  logger?: SourceLogger;
  /** Uniform in [0, 1), used for jitter. Default: `Math.random`. */
  random?: () => number;
  /**
   * With signature checks on: the last revision the consumer applied; every commit after it must verify.
   * Default: the last head this source yielded whose commits all verified (in memory only, so the first
   * head after a restart is checked alone unless this is given).
   */
  trustedBase?: () => Promise<string | undefined>;
}

export type ResolvedSourceDeps = Required<Omit<SourceDeps, 'trustedBase'>> & Pick<SourceDeps, 'trustedBase'>;

/** The real timer. */
export const systemTimer: SourceTimer = {
  set(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    return { clear: () => clearTimeout(handle) };
  },
};

export const systemClock: Clock = { now: () => Date.now() };

const noop = (): void => {};
export const silentLogger: SourceLogger = { debug: noop, info: noop, warn: noop, error: noop };

/** Fills every missing dependency with its real (or silent) default. */
export function resolveSourceDeps(deps: SourceDeps = {}): ResolvedSourceDeps {
  return {
    timer: deps.timer ?? systemTimer,
    clock: deps.clock ?? systemClock,
    logger: deps.logger ?? silentLogger,
    random: deps.random ?? Math.random,
    trustedBase: deps.trustedBase,
  };
}
