/** Pagination helpers: limits, cursors and pages. */
import { describe, expect, it } from 'vitest';
import { InvalidCursorError, InvalidQueryError } from '../../src/store/errors.js';
import { decodeCursor, encodeCursor, pageLimit, timeKey, toPage } from '../../src/store/paging.js';

describe('pageLimit', () => {
  it.each([
    { input: undefined, limit: 100 },
    { input: 1, limit: 1 },
    { input: 1_000, limit: 1_000 },
    { input: 1_001, limit: 1_000 },
  ])('returns $limit when given $input', ({ input, limit }) => {
    expect(pageLimit(input)).toBe(limit);
  });

  it.each([
    { name: 'zero', input: 0 },
    { name: 'negative', input: -5 },
    { name: 'fractional', input: 2.5 },
    { name: 'NaN', input: Number.NaN },
  ])('throws InvalidQueryError when the limit is $name', ({ input }) => {
    expect(() => pageLimit(input)).toThrow(InvalidQueryError);
  });
});

describe('cursors', () => {
  it('returns the position when decoded for the listing that made it', () => {
    const cursor = encodeCursor('drift', ['1714521600000', 'a\u0000b']);
    expect(decodeCursor('drift', cursor, 2)).toEqual(['1714521600000', 'a\u0000b']);
  });

  it.each([
    { name: 'another listing', cursor: encodeCursor('audit', ['x']), arity: 1 },
    { name: 'another arity', cursor: encodeCursor('drift', ['x', 'y']), arity: 1 },
    { name: 'not base64 JSON', cursor: '%%%', arity: 1 },
    { name: 'a non-string part', cursor: Buffer.from('["drift",1]').toString('base64url'), arity: 1 },
  ])('throws InvalidCursorError when the cursor is from $name', ({ cursor, arity }) => {
    expect(() => decodeCursor('drift', cursor, arity)).toThrow(InvalidCursorError);
  });
});

describe('toPage', () => {
  it('sets nextCursor at the last kept row when there is one more row than the limit', () => {
    const page = toPage(
      [1, 2, 3],
      2,
      'n',
      (n) => [String(n)],
      (n) => n * 10,
    );
    expect(page.items).toEqual([10, 20]);
    expect(decodeCursor('n', page.nextCursor ?? '', 1)).toEqual(['2']);
  });

  it('omits nextCursor when the rows fit the limit', () => {
    expect(
      toPage(
        [1, 2],
        2,
        'n',
        (n) => [String(n)],
        (n) => n,
      ),
    ).toEqual({ items: [1, 2] });
  });
});

describe('timeKey', () => {
  it('sorts as text in time order when offsets and precision differ', () => {
    const keys = ['2024-05-01T08:00:00+08:00', '2024-05-01T00:00:00.5Z', '2024-04-30T23:59:59Z'].map(timeKey);
    expect(keys).toEqual([
      '2024-05-01T00:00:00.000Z',
      '2024-05-01T00:00:00.500Z',
      '2024-04-30T23:59:59.000Z',
    ]);
    expect([...keys].sort()).toEqual([keys[2], keys[0], keys[1]]);
  });
});
