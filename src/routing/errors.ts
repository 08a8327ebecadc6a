/** Typed errors of the router: each has a stable `code`, readonly context and keeps its `cause`. */
import { CodedError } from '../kernel/index.js';

export type RoutingErrorCode =
  | 'FILTER_INVALID'
  | 'SECRET_UNRESOLVED'
  | 'TARGET_CONFIG_INVALID'
  | 'TARGET_WRITE_FAILED'
  | 'TARGET_UNKNOWN'
  | 'SPOOL_IO'
  | 'SPOOL_FULL'
  | 'RUNNER_CLOSED'
  | 'ROUTER_CLOSED';

/** The base class: never construct directly, use one of the subclasses. */
export abstract class RoutingError extends CodedError<RoutingErrorCode> {}

/** A Route's filter cannot be compiled (bad regex, wrong value type for the op). */
export class FilterError extends RoutingError {
  readonly code = 'FILTER_INVALID';
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${message}`, options);
  }
}

/** A `SecretRef` could not be resolved. The message names the reference, never the value. */
export class SecretError extends RoutingError {
  readonly code = 'SECRET_UNRESOLVED';
  constructor(
    readonly ref: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`secret ${ref}: ${reason}`, options);
  }
}

/** A StreamTarget's spec cannot be turned into a writer (no kind declared, bad URL...). */
export class TargetConfigError extends RoutingError {
  readonly code = 'TARGET_CONFIG_INVALID';
  constructor(
    readonly target: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`target ${target}: ${message}`, options);
  }
}

/** A batch could not be written to a target (connection down, error reply, timeout). */
export class TargetWriteError extends RoutingError {
  readonly code = 'TARGET_WRITE_FAILED';
  constructor(
    readonly target: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`target ${target}: ${message}`, options);
  }
}

/** A route names a target that the router does not run. */
export class TargetUnknownError extends RoutingError {
  readonly code = 'TARGET_UNKNOWN';
  constructor(readonly target: string) {
    super(`no StreamTarget "${target}" is running`);
  }
}

/** Reading or writing the on-disk spool failed. */
export class SpoolIoError extends RoutingError {
  readonly code = 'SPOOL_IO';
  constructor(
    readonly dir: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`spool ${dir}: ${message}`, options);
  }
}

/** `append` was called on a spool already at its size limit (callers wait on `isFull()` first). */
export class SpoolFullError extends RoutingError {
  readonly code = 'SPOOL_FULL';
  constructor(
    readonly dir: string,
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`spool ${dir}: full (${bytes} of ${maxBytes} bytes)`);
  }
}

/** A target runner no longer accepts records (it is draining or stopped). */
export class RunnerClosedError extends RoutingError {
  readonly code = 'RUNNER_CLOSED';
  constructor(
    readonly target: string,
    readonly state: string,
  ) {
    super(`target ${target}: not accepting records (state ${state})`);
  }
}

/** `route()` was called after `close()`. */
export class RouterClosedError extends RoutingError {
  readonly code = 'ROUTER_CLOSED';
  constructor() {
    super('router is closed');
  }
}
