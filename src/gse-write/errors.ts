/**
 * Typed errors of GSE write-back. Each carries the GSE envelope `code` the API answers with (`result: false`,
 * HTTP 200, as GSE refuses a call) and keeps its cause.
 */
import { CodedError } from '../kernel/errors.js';
import { formatSpecError, type SpecError } from '../spec/types.js';

/** GSE's "parameter invalid" family: a body this layer cannot read, or a change the validator refuses. */
export const GSE_WRITE_BAD_REQUEST = 1000001;
/** GSE's "not found" (GSE.md §2.2; callers also match the words "not found"). */
export const GSE_WRITE_NOT_FOUND = 1014505;
/** gse-gitops's: the channel or stream_to exists already, or is not this API's to change (hand-written). */
export const GSE_WRITE_CONFLICT = 1000409;
/** gse-gitops's: the push failed (rejected by the remote, or too many concurrent writers). */
export const GSE_WRITE_PUSH_FAILED = 1000502;
/** gse-gitops's: pushed, but the controller did not apply it in time (it may still). */
export const GSE_WRITE_NOT_APPLIED = 1000504;

export type GseWriteErrorCode =
  | 'GSE_WRITE_INVALID_CALL'
  | 'GSE_WRITE_NOT_FOUND'
  | 'GSE_WRITE_CONFLICT'
  | 'GSE_WRITE_INVALID_TREE'
  | 'GSE_WRITE_PUSH_REJECTED'
  | 'GSE_WRITE_GIT_FAILED'
  | 'GSE_WRITE_RETRIES_EXHAUSTED'
  | 'GSE_WRITE_NOT_APPLIED';

/** Base of every write-back error: `gseCode` is the envelope code. */
export abstract class GseWriteError extends CodedError<GseWriteErrorCode> {
  abstract readonly gseCode: number;
}

/** A field GSE would refuse; the message starts with the field path. */
export class InvalidCallError extends GseWriteError {
  readonly code = 'GSE_WRITE_INVALID_CALL';
  readonly gseCode = GSE_WRITE_BAD_REQUEST;
}

/** No channel / stream_to with that id. */
export class NotFoundError extends GseWriteError {
  readonly code = 'GSE_WRITE_NOT_FOUND';
  readonly gseCode = GSE_WRITE_NOT_FOUND;
}

/** It exists already, or it is declared by hand outside the write-back files. */
export class ConflictError extends GseWriteError {
  readonly code = 'GSE_WRITE_CONFLICT';
  readonly gseCode = GSE_WRITE_CONFLICT;
}

/** The tree with the change does not validate: nothing was committed or pushed. */
export class InvalidTreeError extends GseWriteError {
  readonly code = 'GSE_WRITE_INVALID_TREE';
  readonly gseCode = GSE_WRITE_BAD_REQUEST;
  constructor(
    readonly action: string,
    readonly errors: readonly SpecError[],
    /** The branch head itself is invalid (then no GSE write can land until it is fixed in Git). */
    readonly headSha?: string,
  ) {
    super(
      `${action}: ${headSha === undefined ? 'the spec tree with this change does not validate' : `the branch head ${headSha.slice(0, 12)} does not validate (fix it in Git first)`}, nothing was pushed: ${errors
        .slice(0, 5)
        .map(formatSpecError)
        .join('; ')}${errors.length > 5 ? ` (and ${errors.length - 5} more)` : ''}`,
    );
  }
}

/** The remote refused the push for another reason than a newer head (protected branch, hook, permissions). */
export class PushRejectedError extends GseWriteError {
  readonly code = 'GSE_WRITE_PUSH_REJECTED';
  readonly gseCode = GSE_WRITE_PUSH_FAILED;
  constructor(
    readonly branch: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `branch ${branch} rejects pushes from the controller's write-back (${detail}); allow the controller to push to it, or point --gse-write-repo at a repo it may push to`,
      options,
    );
  }
}

/** A git step of the checkout failed (the remote unreachable, the branch missing, a full disk). */
export class GitStepError extends GseWriteError {
  readonly code = 'GSE_WRITE_GIT_FAILED';
  readonly gseCode = GSE_WRITE_PUSH_FAILED;
  constructor(
    readonly step: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`write-back could not ${step}: ${detail}; nothing was pushed`, options);
  }
}

/** Every attempt lost the race to another writer. */
export class RetriesExhaustedError extends GseWriteError {
  readonly code = 'GSE_WRITE_RETRIES_EXHAUSTED';
  readonly gseCode = GSE_WRITE_PUSH_FAILED;
  constructor(
    readonly branch: string,
    readonly attempts: number,
  ) {
    super(
      `branch ${branch} moved under each of ${attempts} attempts (other writers); nothing of this call was pushed, try again`,
    );
  }
}

/** Pushed, but no applied revision contains the commit yet, or the controller rejected it. */
export class NotAppliedError extends GseWriteError {
  readonly code = 'GSE_WRITE_NOT_APPLIED';
  readonly gseCode = GSE_WRITE_NOT_APPLIED;
  constructor(
    readonly sha: string,
    reason: string,
  ) {
    super(`commit ${sha} was pushed but ${reason}`);
  }
}
