/**
 * Durable, atomic replacement of many managed files as one batch: parents created with no symlink among
 * them, every temp file written and fsynced concurrently (O_EXCL|O_NOFOLLOW, never through a planted link),
 * then per directory an uncached re-check of every component right before its renames, the renames, and
 * one fsync of that directory. A SIGKILL at any point leaves each target either its old content or its new
 * one (rename is atomic; a temp file left behind is removed by the next batch, see `removeStaleTemps`).
 * 200 files cost about as many concurrent fsyncs as the thread pool runs, not 400 sequential ones.
 */
import {
  constants,
  fchmodSync,
  fchownSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname } from 'node:path';
import { SymlinkInPathError } from './errors.js';
import { fsyncDir, isStaleTempOf, tempPathFor, tempTargetName } from './fs-util.js';
import { fsyncFd, lstatOrUndefined, withFd } from './local-fs.js';
import type { OwnerIds } from './owner.js';
import { type BatchPathChecker, mkdirsNoFollow } from './safe-path.js';

export interface ManagedWrite {
  /** The managed path (for messages). */
  path: string;
  /** Its host path, from the checker. */
  abs: string;
  data: Buffer;
  mode: number;
  ids?: OwnerIds;
}

/** Groups indexes of `items` by the directory of their `abs`. */
function byDir<T extends { abs: string }>(items: readonly T[]): Map<string, number[]> {
  const dirs = new Map<string, number[]>();
  items.forEach((w, i) => {
    const dir = dirname(w.abs);
    const list = dirs.get(dir);
    if (list) list.push(i);
    else dirs.set(dir, [i]);
  });
  return dirs;
}

/**
 * Replaces every write's target; returns one entry per write: undefined when it landed durably, else the
 * error (a failed write leaves its target as it was and no temp file behind).
 */
export async function replaceManagedFiles(
  writes: readonly ManagedWrite[],
  checker: BatchPathChecker,
): Promise<(unknown | undefined)[]> {
  const errors: (unknown | undefined)[] = writes.map(() => undefined);
  const temps = writes.map((w) => tempPathFor(w.abs));
  const dirs = byDir(writes);
  const fail = (i: number, err: unknown) => {
    errors[i] ??= err;
  };

  // Parents, one directory at a time (they may share ancestors); a created one needs its parent fsynced.
  const createdParents = new Set<string>();
  for (const [dir, idx] of dirs) {
    if (checker.knownDir(dir)) continue; // seen whole and link-free by this batch's observations
    const first = writes[idx[0] as number] as ManagedWrite;
    try {
      for (const created of await mkdirsNoFollow(first.path, checker.managedBase, dir))
        createdParents.add(dirname(created));
    } catch (err) {
      for (const i of idx) fail(i, err);
    }
  }
  await Promise.all(
    [...createdParents].map((d) =>
      fsyncDir(d).catch((err: unknown) => {
        for (const [dir, idx] of dirs) if (dir.startsWith(d)) for (const i of idx) fail(i, err);
      }),
    ),
  );

  // Every temp file written and made durable, concurrently.
  await Promise.all(
    writes.map(async (w, i) => {
      if (errors[i] !== undefined) return;
      try {
        const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
        await withFd(temps[i] as string, flags, 0o600, (fd) => {
          writeFileSync(fd, w.data);
          fchmodSync(fd, w.mode);
          if (w.ids) fchownSync(fd, w.ids.uid, w.ids.gid);
          return fsyncFd(fd, dirname(temps[i] as string));
        });
      } catch (err) {
        fail(i, err);
      }
    }),
  );

  // Per directory: re-check the whole path uncached, rename, one fsync.
  await Promise.all(
    [...dirs].map(async ([dir, idx]) => {
      const live = idx.filter((i) => errors[i] === undefined);
      if (live.length === 0) return;
      try {
        // A link planted in a parent since the batch's first check: refuse rather than rename through it.
        await checker.recheckDir((writes[live[0] as number] as ManagedWrite).path, dir);
      } catch (err) {
        for (const i of live) fail(i, err);
        return;
      }
      let renamed = 0;
      for (const i of live) {
        const w = writes[i] as ManagedWrite;
        try {
          // A link planted at the target itself is refused, not replaced (as a single-file apply does).
          if (lstatOrUndefined(w.abs)?.isSymbolicLink()) throw new SymlinkInPathError(w.path, w.abs);
          renameSync(temps[i] as string, w.abs);
          renamed += 1;
        } catch (err) {
          fail(i, err);
        }
      }
      if (renamed > 0)
        await fsyncDir(dir).catch((err: unknown) => {
          for (const i of live) fail(i, err);
        });
    }),
  );

  writes.forEach((_w, i) => {
    if (errors[i] !== undefined) rmSync(temps[i] as string, { force: true });
  });
  return errors;
}

/**
 * Removes temp files that a killed agent left next to the targets in `abs` (one readdir per directory).
 * They are only ever its own `.name.gse-tmp-*` names beside a managed file, never a temp of this process.
 * `swept`: directories this process swept already, skipped (a temp is left behind only by a process that
 * died, so once per directory per process finds them all); each directory swept now is added.
 */
export async function removeStaleTemps(abs: readonly string[], swept?: Set<string>): Promise<number> {
  const names = new Map<string, Set<string>>();
  for (const a of abs) {
    const dir = dirname(a);
    if (swept?.has(dir)) continue;
    const set = names.get(dir) ?? new Set<string>();
    set.add(basename(a));
    names.set(dir, set);
  }
  let removed = 0;
  await Promise.all(
    [...names].map(async ([dir, targets]) => {
      let entries: string[] = [];
      try {
        entries = readdirSync(dir);
      } catch {
        // An unreadable directory has nothing this agent could sweep.
      }
      swept?.add(dir);
      const stale = entries.filter((n) => {
        const target = tempTargetName(n);
        return target !== undefined && targets.has(target) && isStaleTempOf(n, target);
      });
      if (stale.length === 0) return;
      for (const n of stale) {
        try {
          unlinkSync(`${dir}/${n}`);
        } catch {
          // Gone already, or not ours to remove: either way nothing is left to do.
        }
      }
      removed += stale.length;
      await fsyncDir(dir).catch(() => undefined);
    }),
  );
  return removed;
}
