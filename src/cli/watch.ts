/**
 * `-w/--watch` for listings: run the command again every interval. On a terminal the screen is redrawn
 * under a header line (as `watch(1)` does); otherwise a new view is printed only when it changed (as
 * `kubectl get -w` does), so a pipe gets one block per change. A failed round prints its error and the
 * loop goes on; SIGINT or SIGTERM ends it with exit 0.
 */

/** How often by default. */
export const DEFAULT_WATCH_INTERVAL_MS = 2_000;

export interface WatchDeps {
  /** One round: the text to show, or an error to print in its place. */
  render(): Promise<string>;
  write(text: string): void;
  tty: boolean;
  intervalMs: number;
  /** The command line, for the header. */
  title: string;
  now(): Date;
  /** Resolves when the loop must stop (a signal). */
  stopped: Promise<unknown>;
}

const CLEAR = '\x1b[H\x1b[2J';

/** What one round prints, given the previous round's text (pure). */
export function watchFrame(
  text: string,
  previous: string | undefined,
  opts: { tty: boolean; title: string; at: Date; intervalMs: number },
): string | undefined {
  if (opts.tty) {
    const header = `Every ${opts.intervalMs / 1000}s: ${opts.title}    ${opts.at.toISOString()}`;
    return `${CLEAR}${header}\n\n${text}\n`;
  }
  if (text === previous) return undefined;
  return previous === undefined ? `${text}\n` : `\n${text}\n`;
}

/** Runs rounds until `stopped` resolves. */
export async function watchLoop(deps: WatchDeps): Promise<void> {
  let previous: string | undefined;
  let done = false;
  const stop = deps.stopped.then(() => {
    done = true;
  });
  while (!done) {
    let text: string;
    try {
      text = await deps.render();
    } catch (err) {
      text = `error: ${err instanceof Error ? err.message : String(err)} (retrying every ${deps.intervalMs / 1000}s; Ctrl-C to stop)`;
    }
    const frame = watchFrame(text, previous, {
      tty: deps.tty,
      title: deps.title,
      at: deps.now(),
      intervalMs: deps.intervalMs,
    });
    if (frame !== undefined) deps.write(frame);
    previous = text;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise((r) => (timer = setTimeout(r, deps.intervalMs))), stop]);
    clearTimeout(timer);
  }
}
