/** Wall-clock time behind an interface, so tests pass a fixed or stepping clock. */

/** Milliseconds since the epoch. */
export interface Clock {
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** ISO-8601 time of `clock.now()`. */
export function isoNow(clock: Clock): string {
  return new Date(clock.now()).toISOString();
}
