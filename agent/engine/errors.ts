/** Typed errors of the agent engine: each has a stable `code`, readonly context and keeps its `cause`. */
import { CodedError, errorText } from '../../src/kernel/index.js';

export { errorText };

export type EngineErrorCode =
  | 'PATH_RELATIVE'
  | 'PATH_ESCAPE'
  | 'SPOOL_CLOSED'
  | 'SPOOL_WRITE_FAILED'
  | 'LOG_CLOSED'
  | 'CONTENT_HASH_MISMATCH'
  | 'OWNER_UNKNOWN'
  | 'NOT_A_FILE'
  | 'PATH_SYMLINK'
  | 'PATH_IN_STATE_DIR'
  | 'RUN_AS_REFUSED'
  | 'NOT_A_DIRECTORY'
  | 'STATE_DIR_SHARED';

/** Base class: `code` tells callers what went wrong without parsing the message. */
export abstract class EngineError extends CodedError<EngineErrorCode> {}

/** A managed path that is not absolute (`etc/x`). */
export class RelativePathError extends EngineError {
  readonly code = 'PATH_RELATIVE';
  constructor(readonly path: string) {
    super(`managed path must be absolute: ${JSON.stringify(path)}`);
  }
}

/** A managed path that would leave the root (`..` segments, NUL bytes). */
export class PathEscapeError extends EngineError {
  readonly code = 'PATH_ESCAPE';
  constructor(
    readonly path: string,
    readonly root: string,
  ) {
    super(`managed path escapes the root ${JSON.stringify(root || '/')}: ${JSON.stringify(path)}`);
  }
}

/** An operation on a spool after `close()`, or after a failed write left it unusable. */
export class SpoolClosedError extends EngineError {
  readonly code = 'SPOOL_CLOSED';
  constructor(
    readonly dir: string,
    reason = 'closed',
  ) {
    super(`spool ${dir} is ${reason}`);
  }
}

/** A spool append that could not be made durable (disk full, read-only file system...). */
export class SpoolWriteError extends EngineError {
  readonly code = 'SPOOL_WRITE_FAILED';
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`spool write to ${file} failed: ${errorText(cause)}`, { cause });
  }
}

/** An append log (task ledger, ack log) used after `close()`. */
export class LogClosedError extends EngineError {
  readonly code = 'LOG_CLOSED';
  constructor(readonly file: string) {
    super(`log ${file} is closed`);
  }
}

/** A ConfigFile whose decoded content does not hash to its declared `contentHash`. */
export class ContentHashMismatchError extends EngineError {
  readonly code = 'CONTENT_HASH_MISMATCH';
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`content of ${path} hashes to ${actual}, manifest says ${expected}`);
  }
}

/** An `owner` naming a user or group absent from /etc/passwd or /etc/group. */
export class OwnerUnknownError extends EngineError {
  readonly code = 'OWNER_UNKNOWN';
  constructor(
    readonly owner: string,
    readonly missing: string,
  ) {
    super(`owner ${JSON.stringify(owner)}: unknown ${missing}`);
  }
}

/** A managed path that exists but is not a regular file (a directory, a socket...). */
export class NotAFileError extends EngineError {
  readonly code = 'NOT_A_FILE';
  constructor(readonly path: string) {
    super(`${path} exists and is not a regular file`);
  }
}

/** A managed path with a symlink in one of its components under the root: the agent follows none. */
export class SymlinkInPathError extends EngineError {
  readonly code = 'PATH_SYMLINK';
  constructor(
    readonly path: string,
    readonly component: string,
  ) {
    super(
      `managed path ${path}: ${component} is a symlink, and the agent follows no symlink under its root; replace the link by a real directory or file, or declare another path`,
    );
  }
}

/** A managed path inside the agent's own state dir (identity, spool, ledgers, backups, ingest.sock). */
export class StateDirPathError extends EngineError {
  readonly code = 'PATH_IN_STATE_DIR';
  constructor(
    readonly path: string,
    readonly stateDir: string,
  ) {
    super(
      `managed path ${path} is inside the agent's state dir ${stateDir}, which holds its identity, spool and ledgers and is off limits to ConfigFiles; declare a path outside it`,
    );
  }
}

/** A script's `runAs` the agent cannot honour (not root, unknown user or group): it is never ignored. */
export class RunAsError extends EngineError {
  readonly code = 'RUN_AS_REFUSED';
  constructor(
    readonly runAs: string,
    readonly reason: string,
  ) {
    super(`runAs ${JSON.stringify(runAs)}: ${reason}`);
  }
}

/** A component of a managed path's parent that exists and is not a directory. */
export class NotADirectoryError extends EngineError {
  readonly code = 'NOT_A_DIRECTORY';
  constructor(readonly path: string) {
    super(`${path} exists and is not a directory`);
  }
}

/** A state dir that is a shared directory (sticky bit, like /tmp): the agent needs one of its own. */
export class SharedStateDirError extends EngineError {
  readonly code = 'STATE_DIR_SHARED';
  constructor(readonly dir: string) {
    super(
      `state dir ${dir} is a shared directory (sticky bit, like /tmp) or not a directory; give the agent a directory of its own with --state-dir`,
    );
  }
}

/** True when `err` is a Node system error with this `code` (ENOENT, EEXIST...). */
export function hasErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as { code?: unknown }).code === code;
}
