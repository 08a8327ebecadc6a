/** Pagination shared by both stores: limits, opaque cursors, and time keys that sort as text. */
import { InvalidCursorError, InvalidQueryError } from './errors.js';
import type { Page } from './types.js';
import { isTime } from './validate.js';

/** Page size when a listing is given no `limit`. */
export const DEFAULT_PAGE_LIMIT = 100;
/** Largest page a listing returns; a larger `limit` is capped to it. */
export const MAX_PAGE_LIMIT = 1000;

/** The page size for `limit`: default 100, capped at 1000; throws InvalidQueryError unless a positive integer. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1)
    throw new InvalidQueryError('limit', 'must be a positive integer');
  return Math.min(limit, MAX_PAGE_LIMIT);
}

/** An opaque cursor: the listing's name and the position of the last item returned. */
export function encodeCursor(listing: string, position: readonly string[]): string {
  return Buffer.from(JSON.stringify([listing, ...position]), 'utf8').toString('base64url');
}

/** The position inside a cursor of `listing`; throws InvalidCursorError for anything else. */
export function decodeCursor(listing: string, cursor: string, arity: number): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new InvalidCursorError(listing, { cause });
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== arity + 1 ||
    parsed[0] !== listing ||
    !parsed.every((part): part is string => typeof part === 'string')
  ) {
    throw new InvalidCursorError(listing);
  }
  return parsed.slice(1);
}

/** Milliseconds since the epoch of an ISO time already validated as a time. */
export function timeMs(iso: string): number {
  return Date.parse(iso);
}

/** A fixed-width UTC form of a time, so that text order is time order (Redis lex indexes). */
export function timeKey(iso: string): string {
  return new Date(Date.parse(iso)).toISOString();
}

/** Length of `timeKey` output: every time key has it. */
export const TIME_KEY_LENGTH = 24;

/** The `since` option as milliseconds, or undefined; throws InvalidQueryError when not a time. */
export function sinceMs(since: string | undefined): number | undefined {
  if (since === undefined) return undefined;
  if (!isTime(since)) throw new InvalidQueryError('since', 'must be an ISO 8601 time');
  return timeMs(since);
}

/**
 * Cuts `rows` (fetched with `limit + 1`) to a page; the extra row, when present, proves there is a next
 * page, whose cursor is the position of the last row kept.
 */
export function toPage<R, T>(
  rows: readonly R[],
  limit: number,
  listing: string,
  position: (row: R) => string[],
  item: (row: R) => T,
): Page<T> {
  const kept = rows.slice(0, limit);
  const last = kept.at(-1);
  const items = kept.map(item);
  if (rows.length <= limit || last === undefined) return { items };
  return { items, nextCursor: encodeCursor(listing, position(last)) };
}

/** The lowest Redis index member of a `since` filter (throws InvalidQueryError when not a time). */
export function sinceTimeKey(since: string | undefined): string | undefined {
  const ms = sinceMs(since);
  return ms === undefined ? undefined : new Date(ms).toISOString();
}
