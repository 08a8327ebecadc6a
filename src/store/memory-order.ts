/**
 * Ordering and keyset pages for the in-memory store, matching what SQLite and Redis return: the same sort
 * columns, the same tie-breaks, the same opaque cursors (so a cursor of one listing fails on another).
 */
import { InvalidCursorError } from './errors.js';
import { decodeCursor, pageLimit, toPage } from './paging.js';
import type { Page, PageOptions } from './types.js';

/** One sort column's value: a number (epoch ms) or text. */
export type SortValue = number | string;

/** How one listing sorts: its cursor name, its sort columns (time first where it has one) and direction. */
export interface Ordering<T> {
  listing: string;
  descending: boolean;
  /** The type of each sort column, in order (cursors carry them as text). */
  columns: readonly ('number' | 'text')[];
  position(record: T): readonly SortValue[];
}

/**
 * Compares text by code point, which is the byte order of UTF-8 that SQLite and Redis sort by (JS `<`
 * compares UTF-16 code units, which differs only for characters beyond U+FFFF against U+E000-U+FFFF).
 */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Surrogates (U+D800-U+DFFF) stand for code points above U+FFFF: rank them above U+E000-U+FFFF. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

/** Compares two positions column by column (numbers numerically, text by code point). */
export function comparePositions(a: readonly SortValue[], b: readonly SortValue[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : compareText(String(x), String(y));
    if (c !== 0) return c;
  }
  return 0;
}

/** `records` sorted in the listing's order (newest first when descending). */
export function sortByOrdering<T>(records: Iterable<T>, ordering: Ordering<T>): T[] {
  const sign = ordering.descending ? -1 : 1;
  return [...records]
    .map((record) => ({ record, position: ordering.position(record) }))
    .sort((a, b) => sign * comparePositions(a.position, b.position))
    .map((entry) => entry.record);
}

/** The cursor's position, typed like the listing's columns; InvalidCursorError when it does not fit. */
function cursorPosition<T>(ordering: Ordering<T>, cursor: string): SortValue[] {
  const parts = decodeCursor(ordering.listing, cursor, ordering.columns.length);
  return parts.map((part, i) => {
    if (ordering.columns[i] !== 'number') return part;
    const n = Number(part);
    if (!Number.isSafeInteger(n)) throw new InvalidCursorError(ordering.listing);
    return n;
  });
}

/** One page of the records matching `keep`, in the listing's order, after the cursor's position. */
export function listPage<T>(
  records: Iterable<T>,
  ordering: Ordering<T>,
  keep: (record: T) => boolean,
  options: PageOptions,
): Page<T> {
  const limit = pageLimit(options.limit);
  const after = options.cursor === undefined ? undefined : cursorPosition(ordering, options.cursor);
  const sign = ordering.descending ? -1 : 1;
  const rows = sortByOrdering([...records].filter(keep), ordering).filter(
    (r) => after === undefined || sign * comparePositions(ordering.position(r), after) > 0,
  );
  return toPage(
    rows.slice(0, limit + 1),
    limit,
    ordering.listing,
    (r) => ordering.position(r).map(String),
    (r) => r,
  );
}
