/** The base of every typed error: a stable `code` callers branch on, readonly context, and the `cause` kept. */

/**
 * Base class: subclasses declare `readonly code` (codes are UPPER_SNAKE inside the code base; codes that
 * cross an external contract, like the wire's `ERROR_CODES` or the API's error JSON, keep their own spelling).
 */
export abstract class CodedError<Code extends string = string> extends Error {
  abstract readonly code: Code;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The message of any thrown value, prefixed by its code when it has one the message does not name. */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
