/**
 * A line diff (Myers' O(ND) greedy algorithm) and its unified rendering, for `gsectl diff` and previews.
 * Small on purpose: texts are bounded (64 KiB a side as reported), and past MAX_EDIT_DISTANCE edits the
 * diff falls back to "replace everything", which is still a correct diff, only a longer one.
 */

/** One line of a diff: kept (' '), removed ('-') or added ('+'). */
export interface DiffLine {
  op: ' ' | '-' | '+';
  text: string;
}

/** Edits beyond which the search stops and the whole text is shown replaced (bounds time and memory). */
export const MAX_EDIT_DISTANCE = 2000;
/** Unchanged lines shown around each change in a unified diff (as `diff -u`). */
export const DEFAULT_CONTEXT_LINES = 3;

/** Splits text into lines; a final newline does not make an empty last line. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** The shortest edit script turning `a` into `b`, as kept/removed/added lines in order. */
export function diffLines(a: readonly string[], b: readonly string[]): DiffLine[] {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, MAX_EDIT_DISTANCE);
  // v[k + offset] = furthest x on diagonal k; the diagonals -d-1..d+1 are kept per d to walk the path back.
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      const down = k === -d || (k !== d && (v[k - 1 + offset] ?? 0) < (v[k + 1 + offset] ?? 0));
      let x = down ? (v[k + 1 + offset] ?? 0) : (v[k - 1 + offset] ?? 0) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[k + offset] = x;
      if (x >= n && y >= m) return backtrack(a, b, trace, d);
    }
  }
  return [...a.map((text) => ({ op: '-' as const, text })), ...b.map((text) => ({ op: '+' as const, text }))];
}

function backtrack(
  a: readonly string[],
  b: readonly string[],
  trace: Int32Array[],
  dEnd: number,
): DiffLine[] {
  const out: DiffLine[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = dEnd; d > 0; d--) {
    // trace[d] holds diagonals -d-1..d+1 of the state before step d.
    const v = trace[d] as Int32Array;
    const at = (k: number) => v[k + d + 1] ?? 0;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      out.push({ op: ' ', text: a[x] as string });
    }
    if (down) out.push({ op: '+', text: b[--y] as string });
    else out.push({ op: '-', text: a[--x] as string });
  }
  while (x > 0 && y > 0) {
    x--;
    y--;
    out.push({ op: ' ', text: a[x] as string });
  }
  return out.reverse();
}

/** Labels of the two sides of a unified diff. */
export interface UnifiedLabels {
  from: string;
  to: string;
}

/**
 * A unified diff (`--- from`, `+++ to`, `@@ -a,b +c,d @@` hunks with `context` lines around changes) of two
 * texts; '' when they are equal. A side that does not end in a newline says so, as `diff -u` does.
 */
export function unifiedDiff(
  from: string,
  to: string,
  labels: UnifiedLabels,
  context = DEFAULT_CONTEXT_LINES,
): string {
  if (from === to) return '';
  const lines = diffLines(linesMarked(from), linesMarked(to));
  const out = [`--- ${labels.from}`, `+++ ${labels.to}`];
  const changed = lines.map((l, i) => (l.op === ' ' ? -1 : i)).filter((i) => i >= 0);
  let i = 0;
  while (i < changed.length) {
    const first = changed[i] as number;
    let last = first;
    // Changes closer than two contexts apart share one hunk.
    while (i + 1 < changed.length && (changed[i + 1] as number) - last <= 2 * context)
      last = changed[++i] as number;
    i++;
    const start = Math.max(0, first - context);
    const end = Math.min(lines.length, last + context + 1);
    let aLine = 1;
    let bLine = 1;
    for (const l of lines.slice(0, start)) {
      if (l.op !== '+') aLine++;
      if (l.op !== '-') bLine++;
    }
    const hunk = lines.slice(start, end);
    const aCount = hunk.filter((l) => l.op !== '+').length;
    const bCount = hunk.filter((l) => l.op !== '-').length;
    out.push(`@@ -${range(aLine, aCount)} +${range(bLine, bCount)} @@`);
    for (const l of hunk) {
      if (!l.text.endsWith(NO_EOL)) out.push(`${l.op}${l.text}`);
      else out.push(`${l.op}${l.text.slice(0, -NO_EOL.length)}`, '\\ No newline at end of file');
    }
  }
  return `${out.join('\n')}\n`;
}

/** Marks a last line without a newline, so a missing final newline is a change like any other. */
const NO_EOL = '\u0000no-eol';

function linesMarked(text: string): string[] {
  const lines = splitLines(text);
  if (lines.length > 0 && !text.endsWith('\n')) lines[lines.length - 1] += NO_EOL;
  return lines;
}

/** `start,count` of a hunk side; an empty side starts at the line before it, as `diff -u` writes it. */
function range(start: number, count: number): string {
  return `${count === 0 ? start - 1 : start},${count}`;
}
