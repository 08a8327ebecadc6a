/** The small interfaces every engine module takes through its deps object, and their real defaults. */

/** Wall-clock time in epoch milliseconds; tests pass a fixed or stepping clock. */
export interface Clock {
  now(): number;
}

export type LogFields = Record<string, unknown>;

/** Structured logger: a message plus fields. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A logger that drops everything (the default where logging is optional). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** ISO-8601 time of `clock.now()`. */
export function isoNow(clock: Clock): string {
  return new Date(clock.now()).toISOString();
}
