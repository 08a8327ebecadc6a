/** The router's public surface: what the hub, the API and the controller import. */
export { BASE_RETRY_DELAY_MS, MAX_RETRY_DELAY_MS, retryDelayMs } from './backoff.js';
export * from './errors.js';
export { compileFilters, type RecordPredicate, readField } from './filters.js';
export { formatGse, type GseFormatOptions, type GseOutput } from './gse-format.js';
export { buildQueryRoute, buildQueryStreamTo, streamToId, streamToIds } from './gse-query.js';
export type { HostMatcherFactory } from './route-table.js';
export {
  type ReconfigureReport,
  Router,
  type RouterConfig,
  type RouterDeps,
  type RouterStats,
  type RouteStats,
  type TargetStats,
} from './router.js';
export {
  createSecretResolver,
  describeSecretRef,
  REDACTED,
  redact,
  redactUrl,
  type SecretResolver,
} from './secrets.js';
export { Spool } from './spool.js';
export { type DrainReport, TargetRunner } from './target-runner.js';
export { defaultOpenWriter, type OpenWriter, targetTypeOf } from './target-writers.js';
export type { Logger, OutRecord, TargetHealth, TargetWriter, WriterHealth } from './types.js';
