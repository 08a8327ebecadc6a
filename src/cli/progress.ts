/**
 * Progress for long CLI calls (`sync --wait`, `exec`, `rollout status`): a bar redrawn in place when the
 * stream is a terminal, plain lines (one per change) when it is a pipe or a file, so logs stay readable.
 */

const BAR_WIDTH = 30;

/** A text progress bar of `done` out of `total`: `[#########.....] 3/5`. */
export function progressBar(done: number, total: number, width = BAR_WIDTH): string {
  const share = total === 0 ? 1 : Math.min(1, Math.max(0, done / total));
  const filled = Math.round(share * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

/** Where progress goes: stderr, normally; a test passes its own. */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

/** One progress line: `update` draws it (a bar on a terminal), `clear` lifts it before other output. */
export class ProgressLine {
  private shown = '';
  private last = '';

  constructor(private readonly stream: ProgressStream = process.stderr) {}

  /** Shows `done/total` with a label and a note; on a pipe, writes a line only when the text changes. */
  update(done: number, total: number, label = 'progress', note = ''): void {
    const tty = this.stream.isTTY === true;
    const tail = note ? `, ${note}` : '';
    const text = tty ? `${progressBar(done, total)} ${label}${tail}` : `${label} ${done}/${total}${tail}`;
    if (text === this.last) return;
    this.last = text;
    if (tty) {
      this.stream.write(`\r${text}\x1b[K`);
      this.shown = text;
    } else this.stream.write(`${text}\n`);
  }

  /** Removes the bar from a terminal (before printing something else); redraws on the next `update`. */
  clear(): void {
    if (!this.shown) return;
    this.stream.write('\r\x1b[K');
    this.shown = '';
    this.last = '';
  }

  /** Ends the progress: on a terminal, leaves the last bar on its own line. */
  end(): void {
    if (this.shown) this.stream.write('\n');
    this.shown = '';
  }
}
