/**
 * The one mapper from errors to HTTP statuses: what the caller got wrong is a 4xx with the store's or hub's
 * own message, a Git remote that fails is 502, a controller that is stopping is 503; anything else is 500
 * (and a log line, since it is a bug).
 */
import { ControllerStateError } from '../controller/controller.js';
import { AgentNotFoundError } from '../fleet/errors.js';
import { CallbackSecretMissingError, InvalidCallbackUrlError } from '../notify/notifier.js';
import { SourceError, SourceStateError } from '../source/errors.js';
import { InvalidCursorError, InvalidQueryError, InvalidRecordError } from '../store/errors.js';
import { HttpError } from './http-error.js';

/** The HttpError for `err`, or undefined when it is unexpected (a 500). */
export function toHttpError(err: unknown): HttpError | undefined {
  if (err instanceof HttpError) return err;
  if (err instanceof InvalidCursorError)
    return new HttpError(
      400,
      'bad_request',
      `cursor: ${err.message}; pass the nextCursor of the previous page unchanged`,
      undefined,
      { cause: err },
    );
  if (err instanceof InvalidQueryError || err instanceof InvalidRecordError)
    return new HttpError(400, 'bad_request', err.message, undefined, { cause: err });
  if (err instanceof InvalidCallbackUrlError || err instanceof CallbackSecretMissingError)
    return new HttpError(400, 'bad_request', err.message, undefined, { cause: err });
  if (err instanceof AgentNotFoundError)
    return new HttpError(404, 'not_found', err.message, undefined, { cause: err });
  if (err instanceof SourceStateError || err instanceof ControllerStateError)
    return new HttpError(503, 'unavailable', err.message, undefined, { cause: err });
  if (err instanceof SourceError)
    return new HttpError(502, 'git_unavailable', `git: ${err.message}`, { code: err.code }, { cause: err });
  return undefined;
}
