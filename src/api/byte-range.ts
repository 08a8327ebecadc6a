/**
 * The `Range: bytes=...` header of a download, decided purely (RFC 9110 §14): one range is served as 206,
 * a range past the end is 416, and anything else (no header, another unit, bad syntax, several ranges)
 * gets the whole file as 200. Several ranges would need a multipart body; no client of ours asks for one.
 */

/** What to send for a file of `size` bytes. */
export type RangeDecision =
  | { kind: 'whole' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const SINGLE = /^bytes=(\d*)-(\d*)$/;

/** The decision for `header` (a Range header or undefined) on a file of `size` bytes. */
export function decideRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return { kind: 'whole' };
  const m = SINGLE.exec(header.replace(/\s+/g, ''));
  if (!m) return { kind: 'whole' };
  const [first, last] = [m[1] ?? '', m[2] ?? ''];
  if (first === '' && last === '') return { kind: 'whole' };
  if (first === '') {
    // bytes=-n: the last n bytes (all of them when n exceeds the size).
    const n = Number(last);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  // A start past 2^53 is past any file's end; an end past it just means "to the end".
  const start = Number(first);
  if (!Number.isSafeInteger(start) || start >= size) return { kind: 'unsatisfiable' };
  const end = last === '' ? size - 1 : Number(last);
  if (end < start) return { kind: 'whole' };
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}
