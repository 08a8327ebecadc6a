/** decideRange: the Range header of a download, decided without I/O. */
import { describe, expect, it } from 'vitest';
import { decideRange, type RangeDecision } from '../../src/api/byte-range.js';

describe('decideRange', () => {
  const CASES: Array<{ name: string; header: string | undefined; size: number; want: RangeDecision }> = [
    { name: 'no header', header: undefined, size: 10, want: { kind: 'whole' } },
    { name: 'a closed range', header: 'bytes=2-5', size: 10, want: { kind: 'partial', start: 2, end: 5 } },
    { name: 'spaces around', header: 'bytes = 2 - 5', size: 10, want: { kind: 'partial', start: 2, end: 5 } },
    { name: 'an open end', header: 'bytes=7-', size: 10, want: { kind: 'partial', start: 7, end: 9 } },
    {
      name: 'an end past the size',
      header: 'bytes=7-99',
      size: 10,
      want: { kind: 'partial', start: 7, end: 9 },
    },
    { name: 'a suffix', header: 'bytes=-3', size: 10, want: { kind: 'partial', start: 7, end: 9 } },
    {
      name: 'a suffix over the size',
      header: 'bytes=-30',
      size: 10,
      want: { kind: 'partial', start: 0, end: 9 },
    },
    { name: 'the last byte', header: 'bytes=9-9', size: 10, want: { kind: 'partial', start: 9, end: 9 } },
    { name: 'a start at the size', header: 'bytes=10-', size: 10, want: { kind: 'unsatisfiable' } },
    { name: 'an empty suffix', header: 'bytes=-0', size: 10, want: { kind: 'unsatisfiable' } },
    { name: 'any range of an empty file', header: 'bytes=0-', size: 0, want: { kind: 'unsatisfiable' } },
    { name: 'a suffix of an empty file', header: 'bytes=-5', size: 0, want: { kind: 'unsatisfiable' } },
    {
      name: 'a start past 2^53',
      header: 'bytes=99999999999999999999-',
      size: 10,
      want: { kind: 'unsatisfiable' },
    },
    { name: 'several ranges', header: 'bytes=0-1,4-5', size: 10, want: { kind: 'whole' } },
    { name: 'another unit', header: 'items=0-1', size: 10, want: { kind: 'whole' } },
    { name: 'an end before the start', header: 'bytes=5-2', size: 10, want: { kind: 'whole' } },
    { name: 'no numbers', header: 'bytes=-', size: 10, want: { kind: 'whole' } },
    { name: 'not numbers', header: 'bytes=a-b', size: 10, want: { kind: 'whole' } },
  ];
  it.each(CASES)('decides $name', ({ header, size, want }) => {
    expect(decideRange(header, size)).toEqual(want);
  });
});
