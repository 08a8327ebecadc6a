/** Typed errors of the state store: each has a stable `code`, readonly context and keeps its `cause`. */
import { CodedError } from '../kernel/index.js';

export type StoreErrorCode =
  | 'STORE_INVALID_RECORD'
  | 'STORE_CORRUPT_RECORD'
  | 'STORE_INVALID_QUERY'
  | 'STORE_INVALID_CURSOR'
  | 'STORE_CLOSED'
  | 'STORE_SCHEMA_TOO_NEW'
  | 'STORE_CONNECT_FAILED'
  | 'STORE_CONFLICT';

/** Base class of every error the store throws on purpose. */
export abstract class StoreError extends CodedError<StoreErrorCode> {}

/** A record handed to the store does not have the shape its type promises (`path` names the field). */
export class InvalidRecordError extends StoreError {
  readonly code = 'STORE_INVALID_RECORD';
  override readonly name = 'InvalidRecordError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

/** Data read back from SQLite or Redis is not a valid record: the database was changed behind our back. */
export class CorruptRecordError extends StoreError {
  readonly code = 'STORE_CORRUPT_RECORD';
  override readonly name = 'CorruptRecordError';
  constructor(
    readonly where: string,
    options?: { cause?: unknown },
  ) {
    const why = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`corrupt record at ${where}${why}`, options);
  }
}

/** A listing query has a bad option (limit, since, ...). */
export class InvalidQueryError extends StoreError {
  readonly code = 'STORE_INVALID_QUERY';
  override readonly name = 'InvalidQueryError';
  constructor(
    readonly option: string,
    readonly reason: string,
  ) {
    super(`${option}: ${reason}`);
  }
}

/** A cursor was not produced by this listing (or was tampered with). */
export class InvalidCursorError extends StoreError {
  readonly code = 'STORE_INVALID_CURSOR';
  override readonly name = 'InvalidCursorError';
  constructor(
    readonly listing: string,
    options?: { cause?: unknown },
  ) {
    super(`invalid cursor for ${listing}`, options);
  }
}

/** The store was used after `close()`. */
export class StoreClosedError extends StoreError {
  readonly code = 'STORE_CLOSED';
  override readonly name = 'StoreClosedError';
  constructor() {
    super('store is closed');
  }
}

/** The SQLite file was written by a newer version of this program (its `user_version` is higher). */
export class SchemaTooNewError extends StoreError {
  readonly code = 'STORE_SCHEMA_TOO_NEW';
  override readonly name = 'SchemaTooNewError';
  constructor(
    readonly path: string,
    readonly found: number,
    readonly supported: number,
  ) {
    super(`${path}: schema version ${found} is newer than the supported ${supported}`);
  }
}

/** The store could not reach its database at open. */
export class StoreConnectError extends StoreError {
  readonly code = 'STORE_CONNECT_FAILED';
  override readonly name = 'StoreConnectError';
  constructor(
    readonly target: string,
    options?: { cause?: unknown },
  ) {
    const why = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`cannot open store at ${target}${why}`, options);
  }
}

/** An optimistic update kept losing to concurrent writers (Redis, several replicas). */
export class StoreConflictError extends StoreError {
  readonly code = 'STORE_CONFLICT';
  override readonly name = 'StoreConflictError';
  constructor(
    readonly key: string,
    readonly attempts: number,
  ) {
    super(`${key}: gave up after ${attempts} conflicting concurrent updates`);
  }
}
