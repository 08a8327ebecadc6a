/**
 * GSE's answer envelope `{result, code, message, data, request_id}` (GSE.md §2.2) and the codes this API
 * answers with. Clients fail a call on `result: false` with `code` ≠ 0 and read `message`; the numbers
 * below that GSE.md does not list are this project's, in GSE's 7-digit style, and no client branches on them.
 */

export interface GseEnvelope<T = unknown> {
  result: boolean;
  code: number;
  message: string;
  data: T;
  request_id?: string;
}

export const GSE_OK = 0;
/** A request GSE cannot use: a missing or mistyped field, a body that is not JSON. */
export const GSE_BAD_REQUEST = 1000001;
/** No credentials, or credentials no token answers to. */
export const GSE_UNAUTHORIZED = 1000401;
/** The token's role does not allow the action. */
export const GSE_FORBIDDEN = 1000403;
/** No such action on that path family. */
export const GSE_UNKNOWN_ACTION = 1000404;
/** The controller failed (a bug, logged). */
export const GSE_INTERNAL = 1000500;
/** The controller is starting or stopping. */
export const GSE_UNAVAILABLE = 1000503;
/** `data/query_route`: no channel with that id (GSE.md §2.2: callers also match "not found"). */
export const GSE_ROUTE_NOT_FOUND = 1014505;
/** `cluster/list_agent_state`: none of the agent ids is known (GSE.md §2.2; nodeman reads it as empty). */
export const GSE_AGENT_NOT_FOUND = 1011003;

/** The success envelope. */
export function gseOk<T>(data: T): GseEnvelope<T> {
  return { result: true, code: GSE_OK, message: 'success', data };
}

/** A failed envelope (HTTP 200, as GSE answers a refused call). */
export function gseFail(code: number, message: string): GseEnvelope<null> {
  return { result: false, code, message, data: null };
}

/** A refused call as a typed error: the dispatcher writes it as an envelope with `status`. */
export class GseError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'GseError';
  }
}

/** The GSE code of an HTTP status the API layer produced. */
export function gseCodeOfStatus(status: number): number {
  if (status === 401) return GSE_UNAUTHORIZED;
  if (status === 403) return GSE_FORBIDDEN;
  if (status === 404) return GSE_UNKNOWN_ACTION;
  if (status === 503) return GSE_UNAVAILABLE;
  if (status >= 400 && status < 500) return GSE_BAD_REQUEST;
  return GSE_INTERNAL;
}
