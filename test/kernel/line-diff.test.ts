import { describe, expect, it } from 'vitest';
import { diffLines, splitLines, unifiedDiff } from '../../src/kernel/line-diff.js';

/** Applies a diff's ops to `a`; must give `b`, and keep every kept line equal on both sides. */
function replay(lines: ReturnType<typeof diffLines>): { a: string[]; b: string[] } {
  return {
    a: lines.filter((l) => l.op !== '+').map((l) => l.text),
    b: lines.filter((l) => l.op !== '-').map((l) => l.text),
  };
}

describe('diffLines', () => {
  const cases: Array<{ name: string; a: string[]; b: string[]; edits: number }> = [
    { name: 'equal', a: ['x', 'y'], b: ['x', 'y'], edits: 0 },
    { name: 'empty to lines', a: [], b: ['x', 'y'], edits: 2 },
    { name: 'lines to empty', a: ['x', 'y'], b: [], edits: 2 },
    { name: 'one changed line', a: ['a', 'b', 'c'], b: ['a', 'B', 'c'], edits: 2 },
    { name: 'insert in the middle', a: ['a', 'c'], b: ['a', 'b', 'c'], edits: 1 },
    { name: 'classic ABCABBA/CBABAC', a: [...'ABCABBA'], b: [...'CBABAC'], edits: 5 },
  ];
  it.each(cases)('finds a shortest script when $name', ({ a, b, edits }) => {
    const lines = diffLines(a, b);
    expect(replay(lines)).toEqual({ a, b });
    expect(lines.filter((l) => l.op !== ' ').length).toBe(edits);
  });

  it('stays correct on random texts', () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let round = 0; round < 200; round++) {
      const a = Array.from({ length: Math.floor(rnd() * 30) }, () => String(Math.floor(rnd() * 5)));
      const b = Array.from({ length: Math.floor(rnd() * 30) }, () => String(Math.floor(rnd() * 5)));
      expect(replay(diffLines(a, b))).toEqual({ a, b });
    }
  });
});

describe('unifiedDiff', () => {
  it('is empty when the texts are equal', () => {
    expect(unifiedDiff('a\n', 'a\n', { from: 'x', to: 'y' })).toBe('');
  });

  it('writes hunks with context and line numbers like diff -u', () => {
    const from = `${Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join('\n')}\n`;
    const to = from.replace('line 2\n', 'line two\n').replace('line 11\n', 'line 11\nline 11b\n');
    expect(unifiedDiff(from, to, { from: 'host', to: 'git' })).toBe(
      [
        '--- host',
        '+++ git',
        '@@ -1,5 +1,5 @@',
        ' line 1',
        '-line 2',
        '+line two',
        ' line 3',
        ' line 4',
        ' line 5',
        '@@ -9,4 +9,5 @@',
        ' line 9',
        ' line 10',
        ' line 11',
        '+line 11b',
        ' line 12',
        '',
      ].join('\n'),
    );
  });

  it('shows a whole new file against an empty one', () => {
    expect(unifiedDiff('', 'a\nb\n', { from: 'host', to: 'git' })).toBe(
      '--- host\n+++ git\n@@ -0,0 +1,2 @@\n+a\n+b\n',
    );
  });

  it('marks a missing final newline', () => {
    expect(unifiedDiff('a\nb', 'a\nb\n', { from: 'host', to: 'git' })).toBe(
      '--- host\n+++ git\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n',
    );
  });

  it('splits lines without an empty last line', () => {
    expect(splitLines('a\nb\n')).toEqual(['a', 'b']);
    expect(splitLines('')).toEqual([]);
  });
});
