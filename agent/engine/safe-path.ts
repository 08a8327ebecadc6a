/**
 * Managed paths on the host with no symlink anywhere under the root: every component from the root down is
 * `lstat`ed, the last one is opened with O_NOFOLLOW, and missing directories are created one at a time and
 * checked again, so a link planted by a local user (`/etc/app -> /root/.ssh`) can never turn a write, a
 * read for hashing, a chmod, a chown or a prune into one outside the declared file. Paths inside the
 * agent's own state dir are refused: a ConfigFile may not overwrite the agent's identity or ledgers.
 */
import { constants, lstatSync, mkdirSync, openSync, realpathSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { posix } from 'node:path';
import { hasErrno, NotADirectoryError, StateDirPathError, SymlinkInPathError } from './errors.js';
import { resolveManaged } from './paths.js';

/** Mode of directories the agent creates for managed files (their parents are ordinary system dirs). */
export const MANAGED_DIR_MODE = 0o755;

/** The absolute directory managed paths live under: the resolved root, or `/`. */
export function managedBase(root: string): string {
  return root === '' || root === '/' ? '/' : posix.resolve(root);
}

/** Components of `abs` below `base`, each as its full path (`/r/etc`, `/r/etc/app`, `/r/etc/app/x`). */
function componentsUnder(base: string, abs: string): string[] {
  const rest = abs === base ? '' : abs.slice(base === '/' ? 1 : base.length + 1);
  const out: string[] = [];
  let cur = base;
  for (const part of rest.split('/').filter(Boolean)) {
    cur = posix.join(cur, part);
    out.push(cur);
  }
  return out;
}

function inside(abs: string, dir: string): boolean {
  return abs === dir || abs.startsWith(dir === '/' ? '/' : `${dir}/`);
}

/** Throws StateDirPathError when `abs` is the state dir or inside it (by its path and by its real path). */
export async function refuseStateDir(path: string, abs: string, stateDir: string | undefined): Promise<void> {
  if (stateDir === undefined || stateDir === '') return;
  const dirs = new Set([posix.resolve(stateDir)]);
  dirs.add(realpathOr(stateDir));
  for (const dir of dirs) if (inside(abs, dir)) throw new StateDirPathError(path, dir);
}

/**
 * The state dir's real path (links resolved), or the dir resolved when it cannot be read. Read once per
 * process once it resolves: only root could re-point a component of the agent's own 0700 state dir.
 */
function realpathOr(dir: string): string {
  const known = realStateDirs.get(dir);
  if (known !== undefined) return known;
  try {
    const real = realpathSync.native(dir);
    realStateDirs.set(dir, real);
    return real;
  } catch {
    return posix.resolve(dir);
  }
}
const realStateDirs = new Map<string, string>();

/**
 * Checks every existing component of `abs` under `base` with lstat; throws SymlinkInPathError naming the
 * first symlink. Returns false when some component is absent (nothing at or below it exists yet).
 */
export async function assertNoSymlinks(path: string, base: string, abs: string): Promise<boolean> {
  for (const comp of componentsUnder(base, abs)) {
    try {
      const st = lstatSync(comp);
      if (st.isSymbolicLink()) throw new SymlinkInPathError(path, comp);
    } catch (err) {
      if (hasErrno(err, 'ENOENT') || hasErrno(err, 'ENOTDIR')) return false;
      throw err;
    }
  }
  return true;
}

/**
 * The host path of managed `path` under `root` after checking it: not in `stateDir`, no symlink in any
 * existing component. What it returns is still only safe to open with `openNoFollow`.
 */
export async function resolveManagedSafe(root: string, path: string, stateDir?: string): Promise<string> {
  const abs = resolveManaged(root, path);
  await refuseStateDir(path, abs, stateDir);
  await assertNoSymlinks(path, managedBase(root), abs);
  return abs;
}

/**
 * Opens `abs` with O_NOFOLLOW (plus `flags`); a symlink there is a SymlinkInPathError naming `path`. The
 * default read opens O_NONBLOCK too, so a FIFO planted at the path cannot hang the agent (callers check
 * `isFile()` on the handle; on a regular file O_NONBLOCK changes nothing).
 */
export async function openNoFollow(
  path: string,
  abs: string,
  flags = constants.O_RDONLY | constants.O_NONBLOCK,
): Promise<FileHandle> {
  try {
    return await open(abs, flags | constants.O_NOFOLLOW);
  } catch (err) {
    if (hasErrno(err, 'ELOOP')) throw new SymlinkInPathError(path, abs);
    throw err;
  }
}

/** As `openNoFollow`, synchronously, as a descriptor the caller closes (see local-fs.ts). */
export function openNoFollowFd(
  path: string,
  abs: string,
  flags = constants.O_RDONLY | constants.O_NONBLOCK,
): number {
  try {
    return openSync(abs, flags | constants.O_NOFOLLOW);
  } catch (err) {
    if (hasErrno(err, 'ELOOP')) throw new SymlinkInPathError(path, abs);
    throw err;
  }
}

/**
 * Creates the directories of `dir` under `base` one component at a time (MANAGED_DIR_MODE), refusing a
 * symlink or a non-directory at any of them, including one that appears between two steps. Returns the
 * directories it created, parents first (their parents need an fsync for the creation to be durable).
 */
export async function mkdirsNoFollow(path: string, base: string, dir: string): Promise<string[]> {
  const created: string[] = [];
  // The root itself is the operator's (`--root`), trusted as given; only what lies under it is checked.
  mkdirSync(base, { recursive: true });
  for (const comp of componentsUnder(base, dir)) {
    try {
      mkdirSync(comp, MANAGED_DIR_MODE);
      created.push(comp);
    } catch (err) {
      if (!hasErrno(err, 'EEXIST')) throw err;
    }
    const st = lstatSync(comp);
    if (st.isSymbolicLink()) throw new SymlinkInPathError(path, comp);
    if (!st.isDirectory()) throw new NotADirectoryError(comp);
  }
  return created;
}

/**
 * Safe-path checks for one converge batch, without redundant work: the state dir's real path is read once,
 * and each directory component is lstat-ed once per batch instead of once per file (200 files in one
 * directory cost one walk of it, not 200). The cache only serves reads and the creation of temp files;
 * every rename is preceded by `recheckDir`, an uncached walk, exactly as a single-file apply does, so a
 * directory swapped for a link after the batch checked it is still refused before anything lands there.
 */
export class BatchPathChecker {
  private readonly base: string;
  private stateDirs: string[] | undefined;
  /** Directory -> whether every component exists, or the symlink found in it. */
  private readonly dirs = new Map<string, boolean | SymlinkInPathError>();

  constructor(
    private readonly root: string,
    private readonly stateDir: string | undefined,
  ) {
    this.base = managedBase(root);
  }

  /**
   * As `resolveManagedSafe`, with the parents' checks shared across the batch. With `leaf: false` the last
   * component is left to the caller, which must then open it with `openNoFollow` (one lstat less per file).
   */
  async resolve(path: string, { leaf = true } = {}): Promise<string> {
    const abs = resolveManaged(this.root, path);
    for (const dir of this.stateDirList()) if (inside(abs, dir)) throw new StateDirPathError(path, dir);
    if (abs === this.base) return abs;
    const parent = posix.dirname(abs);
    if (!this.dirExists(path, parent)) return abs;
    if (leaf) await assertNoSymlinks(path, parent, abs);
    return abs;
  }

  /** Uncached walk of `dir` (right before renaming into it); returns false when some component is absent. */
  recheckDir(path: string, dir: string): Promise<boolean> {
    return assertNoSymlinks(path, this.base, dir);
  }

  /**
   * True when this batch found every component of `dir` an existing directory (no link): creating it is
   * then nothing to do. Like every cached answer, it serves the creation of temp files, never a rename.
   */
  knownDir(dir: string): boolean {
    if (dir === this.base) return true;
    return this.dirs.get(dir) === true;
  }

  /** Forgets what is cached about `dir` and below (after creating directories there). */
  forget(dir: string): void {
    for (const key of this.dirs.keys()) if (inside(key, dir) || inside(dir, key)) this.dirs.delete(key);
  }

  get managedBase(): string {
    return this.base;
  }

  private stateDirList(): string[] {
    const stateDir = this.stateDir;
    if (stateDir === undefined || stateDir === '') return [];
    this.stateDirs ??= [...new Set([posix.resolve(stateDir), realpathOr(stateDir)])];
    return this.stateDirs;
  }

  /** Whether every component of `dir` exists, each checked once per batch (parents before children). */
  private dirExists(path: string, dir: string): boolean {
    // The base is the operator's (`--root`), trusted as given; nothing above it is walked.
    if (dir === this.base || !inside(dir, this.base)) return true;
    let known = this.dirs.get(dir);
    if (known === undefined) {
      known = this.dirExists(path, posix.dirname(dir)) && this.lstatDir(path, dir);
      this.dirs.set(dir, known);
    }
    // Name the item being resolved, not the one that happened to fill the cache.
    if (known instanceof SymlinkInPathError) throw new SymlinkInPathError(path, known.component);
    return known;
  }

  /** One component: a directory (true), absent or not a directory (false), or the symlink it is. */
  private lstatDir(path: string, dir: string): boolean | SymlinkInPathError {
    try {
      const st = lstatSync(dir);
      if (st.isSymbolicLink()) return new SymlinkInPathError(path, dir);
      // A file where a directory should be: as if absent, so mkdirsNoFollow names it (NotADirectoryError).
      return st.isDirectory();
    } catch (err) {
      if (hasErrno(err, 'ENOENT') || hasErrno(err, 'ENOTDIR')) return false;
      throw err;
    }
  }
}
