import { describe, expect, it } from 'vitest';
import { ProgressLine, progressBar } from '../../src/cli/progress.js';

/** A stream that keeps what was written. */
function sink(isTTY: boolean) {
  const writes: string[] = [];
  return { isTTY, writes, write: (t: string) => writes.push(t) };
}

describe('progressBar', () => {
  it('clamps past the ends and fills an empty total', () => {
    expect(progressBar(7, 5, 10)).toBe('[##########] 7/5');
    expect(progressBar(-1, 5, 10)).toBe('[..........] -1/5');
    expect(progressBar(0, 0, 10)).toBe('[##########] 0/0');
  });
});

describe('ProgressLine', () => {
  it('redraws one bar in place on a terminal, lifts it for other output and ends on its own line', () => {
    const out = sink(true);
    const p = new ProgressLine(out);
    p.update(1, 4, 'converged');
    p.update(1, 4, 'converged');
    p.clear();
    p.update(2, 4, 'converged', 'failed: web-1');
    p.end();
    expect(out.writes).toEqual([
      `\r${progressBar(1, 4)} converged\x1b[K`,
      '\r\x1b[K',
      `\r${progressBar(2, 4)} converged, failed: web-1\x1b[K`,
      '\n',
    ]);
  });

  it('writes plain lines, one per change, when the stream is not a terminal', () => {
    const out = sink(false);
    const p = new ProgressLine(out);
    p.update(0, 3, 'converged');
    p.update(0, 3, 'converged');
    p.update(3, 3, 'converged');
    p.clear();
    p.end();
    expect(out.writes).toEqual(['converged 0/3\n', 'converged 3/3\n']);
  });
});
