/**
 * Typed errors of the Git source. Each has a stable `code` (what the API, metrics and logs key on), readonly
 * context fields, and keeps the underlying git failure as `cause`.
 */
import { CodedError } from '../kernel/index.js';

export type SourceErrorCode =
  | 'SOURCE_INVALID_OPTIONS'
  | 'SOURCE_FETCH_FAILED'
  | 'SOURCE_BRANCH_NOT_FOUND'
  | 'SOURCE_PATH_NOT_FOUND'
  | 'SOURCE_CHECKOUT_FAILED'
  | 'SOURCE_BAD_STATE';

/** Base class: every error the source reports or throws is one of these. */
export abstract class SourceError extends CodedError<SourceErrorCode> {}

/** An option given to `GitSource.create` is invalid; `field` names it. */
export class SourceOptionsError extends SourceError {
  readonly code = 'SOURCE_INVALID_OPTIONS';

  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** `git fetch` failed: remote unreachable, authentication refused, timed out, not a repository. */
export class SourceFetchError extends SourceError {
  readonly code: SourceErrorCode = 'SOURCE_FETCH_FAILED';

  constructor(
    /** The remote, with any credentials redacted. */
    readonly repo: string,
    readonly branch: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`fetch ${repo} (branch ${branch}) failed: ${detail}`, options);
  }
}

/** The remote answered but has no such branch. */
export class BranchNotFoundError extends SourceFetchError {
  override readonly code = 'SOURCE_BRANCH_NOT_FOUND';
}

/** The configured spec sub-path is absent (or not a directory) at a commit. */
export class SpecPathNotFoundError extends SourceError {
  readonly code = 'SOURCE_PATH_NOT_FOUND';

  constructor(
    readonly sha: string,
    readonly path: string,
  ) {
    super(`path "${path}" is not a directory at commit ${sha}`);
  }
}

/** Writing the checkout of a fetched commit to disk failed (disk full, permissions, ...). */
export class CheckoutError extends SourceError {
  readonly code = 'SOURCE_CHECKOUT_FAILED';

  constructor(
    readonly sha: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`checkout of ${sha} failed: ${detail}`, options);
  }
}

/** An operation was called in a lifecycle state that does not allow it. */
export class SourceStateError extends SourceError {
  readonly code = 'SOURCE_BAD_STATE';

  constructor(
    readonly state: string,
    readonly operation: string,
  ) {
    super(`cannot ${operation}: source is ${state}`);
  }
}
