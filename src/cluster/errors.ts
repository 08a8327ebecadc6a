/** The cluster's typed errors. */
import { CodedError } from '../kernel/errors.js';

/** A leader-only write carried a fencing token that no longer holds the lease: a stale leader's write. */
export class FencedWriteRefusedError extends CodedError<'FENCED_WRITE_REFUSED'> {
  readonly code = 'FENCED_WRITE_REFUSED';
  constructor(
    readonly what: string,
    readonly token: number,
  ) {
    super(
      `${what}: refused, fencing token ${token} no longer holds the leader lease (another replica leads now)`,
    );
  }
}

/** Leader-only work asked of a replica that does not hold the lease. */
export class NotLeaderError extends CodedError<'NOT_LEADER'> {
  readonly code = 'NOT_LEADER';
  constructor(readonly what: string) {
    super(`${what}: this replica is not the leader; only the lease holder does this`);
  }
}

/** A host's record kept changing under the offline marking: it was retried and left as it is. */
export class OfflineMarkConflictError extends CodedError<'OFFLINE_MARK_CONFLICT'> {
  readonly code = 'OFFLINE_MARK_CONFLICT';
  constructor(
    readonly hostId: string,
    readonly attempts: number,
  ) {
    super(`host ${hostId}: not marked offline, its record changed under each of ${attempts} attempts`);
  }
}
