/** The Git source: clone, fetch, watch and yield spec revisions; parse push webhooks. */
export { BASE_RETRY_DELAY_MS, MAX_RETRY_DELAY_MS, retryDelayMs } from './backoff.js';
export type { Clock, SourceDeps, SourceLogger, SourceTimer, TimerHandle } from './deps.js';
export {
  BranchNotFoundError,
  CheckoutError,
  SourceError,
  type SourceErrorCode,
  SourceFetchError,
  SourceOptionsError,
  SourceStateError,
  SpecPathNotFoundError,
} from './errors.js';
export {
  GitSource,
  type RevisionListener,
  type SourceErrorListener,
  type SourceState,
  type SourceStats,
} from './git-source.js';
export { WATCH_DEBOUNCE_MS } from './local-watch.js';
export {
  type CompiledSourceOptions,
  compileSourceOptions,
  DEFAULT_BRANCH,
  DEFAULT_FETCH_TIMEOUT_MS,
  DEFAULT_INTERVAL_MS,
  DEFAULT_SPEC_PATH,
  type GitSourceOptions,
  INTERVAL_JITTER_RATIO,
  KEPT_CHECKOUTS,
} from './options.js';
export type { SourceRevision, SourceSignature } from './revision.js';
export {
  type GitPushEvent,
  parseGitWebhook,
  type WebhookHeaders,
  type WebhookOptions,
  type WebhookProvider,
  type WebhookResult,
} from './webhook.js';
