/** Which StreamTargets a new revision adds, removes or changes (by name; a change is any spec difference). */
import type { StreamTarget } from '../spec/types.js';

export interface TargetDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

/** Compares the running targets with the next revision's. Key order inside a spec does not matter. */
export function diffTargets(
  current: ReadonlyMap<string, StreamTarget>,
  next: ReadonlyMap<string, StreamTarget>,
): TargetDiff {
  const added = [...next.keys()].filter((n) => !current.has(n));
  const removed = [...current.keys()].filter((n) => !next.has(n));
  const changed = [...next.keys()].filter((n) => {
    const cur = current.get(n);
    return cur !== undefined && stableJson(cur.spec) !== stableJson(next.get(n)?.spec);
  });
  return { added, removed, changed };
}

/** JSON with sorted object keys, so two equal specs compare equal whatever their key order. */
export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) =>
    val !== null && typeof val === 'object' && !Array.isArray(val)
      ? Object.fromEntries(
          Object.entries(val as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : val,
  );
}
