/** JSON-lines logging to stderr, one object per line, with a level threshold. */

import { jsonLinesLogger, type Logger, type LogLevel } from '../kernel/index.js';

export type { Logger, LogLevel };

/** A logger writing `{"time","level","msg",...fields}` lines to `write` (default stderr). */
export function jsonLogger(
  level: LogLevel = 'info',
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  return jsonLinesLogger(level, write);
}
