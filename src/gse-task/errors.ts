/**
 * GSE's answer codes for the task and process calls (GSE.md §2.2, §7.2, §7.5) and the one error a handler
 * throws: a GseError carries the envelope `code` the route answers with (`result: false`).
 */
import { CodedError } from '../kernel/errors.js';

/** GSE's "parameter invalid" family (as src/api/gse-status.ts): a request this layer cannot read. */
export const GSE_BAD_REQUEST = 1000001;
/**
 * A task id this controller never issued, or whose record is gone. GSE.md names no code for it; this one is
 * gse-gitops's, in GSE's family, and bk-job fails the step on any non-zero code, which is what it should do.
 */
export const GSE_TASK_NOT_FOUND = 1000003;
/** Envelope code of `get_proc_operate_result` while the task is still queued: poll again (GSE.md §7.5). */
export const GSE_TASK_QUEUED = 1000115;

/** `GSECode.AtomicErrorCode` and the codes bk-job fails an agent with (GSE.md §7.2). */
export const ATOMIC = {
  done: 0,
  running: 115,
  agentAbnormal: 117,
  fileTooLarge: 119,
  noUser: 122,
  terminated: 126,
  fileError: 104,
} as const;

/** `GSECode.Status` of an atomic task (GSE.md §7.2). */
export const SCRIPT_STATUS = {
  dispatched: 0,
  running: 1,
  success: 2,
  timeout: 3,
  discarded: 4,
  failed: 5,
} as const;

/** `GseDataErrCode` of a process operation's result entry (GSE.md §7.5). */
export const PROC_CODE = {
  success: 0,
  running: 115,
  agentAbnormal: 117,
  badOpType: 832,
  failed: 65535,
} as const;

/** A call GSE would refuse: the route answers `{result: false, code, message, data: null}`. */
export class GseError extends CodedError<'GSE_ERROR'> {
  readonly code = 'GSE_ERROR';
  constructor(
    /** The envelope code. */
    readonly gseCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** A malformed request: names the field and what it must be. */
export function badRequest(message: string): GseError {
  return new GseError(GSE_BAD_REQUEST, message);
}
