/**
 * The pure decisions of host checks (HostCheck): when a probe result raises an event. Every detector raises
 * once per transition: a level (disk over its threshold, mount read-only) fires when it becomes true and
 * re-arms when it is false again; a streak (a failing command) fires when it reaches its length; a new core
 * file fires once per file name that appears.
 */

/** A level after a probe, and whether this probe raises the event. */
export interface LevelStep {
  on: boolean;
  fire: boolean;
}

/** A level detector: fires when `on` becomes true (also at the first probe); nothing while it stays on. */
export function levelStep(wasOn: boolean | undefined, on: boolean): LevelStep {
  return { on, fire: on && wasOn !== true };
}

/** A failure streak after a run, and whether this run raises the event. */
export interface StreakStep {
  failures: number;
  fire: boolean;
}

/** A streak detector: fires on the run that makes `threshold` failures in a row; one success re-arms it. */
export function streakStep(failures: number, failed: boolean, threshold: number): StreakStep {
  if (!failed) return { failures: 0, fire: false };
  const next = failures + 1;
  return { failures: next, fire: next === threshold };
}

/** The names a directory listing holds now, and those that are new and match (sorted). */
export interface NewFilesStep {
  seen: Set<string>;
  fresh: string[];
}

/**
 * New files: `seen` is what the previous listing held (undefined before the first one, whose files existed
 * before the check started and are never reported). A name that left and came back is new again.
 */
export function newFilesStep(
  seen: ReadonlySet<string> | undefined,
  listing: readonly string[],
  matches: (name: string) => boolean,
): NewFilesStep {
  const now = new Set(listing);
  if (seen === undefined) return { seen: now, fresh: [] };
  const fresh = listing.filter((name) => !seen.has(name) && matches(name)).sort();
  return { seen: now, fresh };
}

/** Block counts of a file system, as statfs gives them. */
export interface BlockCounts {
  blocks: number;
  bfree: number;
  bavail: number;
}

/**
 * Used space in percent, as df computes it: used / (used + available to non-root users), rounded up to
 * 0.1; 0 for a file system with no blocks (proc, sysfs).
 */
export function usedPercent(s: BlockCounts): number {
  const used = s.blocks - s.bfree;
  const total = used + s.bavail;
  if (total <= 0) return 0;
  return Math.ceil((used / total) * 1000) / 10;
}

/** True when usage is strictly over the threshold. */
export function diskOver(percent: number, threshold: number): boolean {
  return percent > threshold;
}
