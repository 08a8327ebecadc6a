/**
 * Typed errors of the local ingest (the agent's `ingest.sock` and HTTP endpoint), and the codes of the
 * per-line problems it reports back to pushers.
 */
import { CodedError } from '../src/kernel/index.js';

export type IngestErrorCode = 'INGEST_SOCKET_IN_USE' | 'INGEST_PATH_TOO_LONG' | 'INGEST_LISTEN_FAILED';

/** Why a pushed line (or part of it) was not accepted; sent to the pusher as `code`. */
export type LineProblemCode =
  | 'bad_json'
  | 'not_object'
  | 'no_channel'
  | 'bad_event'
  | 'line_too_long'
  | 'spool_failed'
  | 'closing';

/** Base class: `code` tells callers what went wrong without parsing the message. */
export abstract class IngestError extends CodedError<IngestErrorCode> {}

/** Another live process answers on the socket path (two agents on one state dir). */
export class IngestSocketInUseError extends IngestError {
  readonly code = 'INGEST_SOCKET_IN_USE';
  constructor(readonly path: string) {
    super(
      `${path}: another process is listening on this ingest socket (is a second agent using this state dir?)`,
    );
  }
}

/** Unix socket paths are limited to 107 bytes on Linux; a deeper state dir cannot host the socket. */
export class IngestPathTooLongError extends IngestError {
  readonly code = 'INGEST_PATH_TOO_LONG';
  constructor(
    readonly path: string,
    readonly maxBytes: number,
  ) {
    super(`${path}: a unix socket path may hold at most ${maxBytes} bytes; use a shorter --state-dir`);
  }
}

/** The socket or the HTTP port could not be bound. */
export class IngestListenError extends IngestError {
  readonly code = 'INGEST_LISTEN_FAILED';
  constructor(
    readonly address: string,
    cause: unknown,
  ) {
    super(`cannot listen on ${address}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}
