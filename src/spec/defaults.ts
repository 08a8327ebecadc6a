/**
 * Defaults the loader fills in, as written in YAML. The schemas in `specs/` declare the same values as
 * `default` (a test keeps the two in step).
 */
export const DEFAULTS = {
  execTimeout: '60s',
  redisMode: 'stream',
  routeBatchMaxRecords: 500,
  routeBatchMaxDelay: '1s',
  routeFormat: 'json',
  rolloutBatchSize: '25%',
  rolloutMaxUnavailable: 1,
  rolloutMaxFailures: 0,
  rolloutPauseBetween: '0s',
  rolloutHealthDeadline: '30s',
  rolloutMode: 'auto',
  configTemplate: false,
  configMode: '0644',
  syncSelfHeal: true,
  syncPrune: false,
  remediationCooldown: '5m',
  remediationMaxConcurrent: 1,
  remediationMaxPerHour: 6,
  remediationDryRun: false,
  processEnsure: 'observed',
  processProbeInterval: '10s',
  checkInterval: '30s',
  checkCorePattern: 'core*',
  checkFailuresInARow: 3,
  checkCommandTimeout: '10s',
} as const;

const MS_PER_UNIT = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
const DURATION = /^([0-9]+)(ms|s|m|h)$/;

/** Milliseconds of a duration such as `30s`, `5m`, `200ms`, `1h` (already validated by the schema). */
export function parseDurationMs(text: string): number {
  const m = DURATION.exec(text);
  if (!m) throw new RangeError(`not a duration: ${text}`);
  return Number(m[1]) * MS_PER_UNIT[m[2] as keyof typeof MS_PER_UNIT];
}

/** The numeric value of an octal mode string such as `"0644"` (already validated by the schema). */
export function parseMode(text: string): number {
  return Number.parseInt(text, 8);
}
