/**
 * Checkouts: one directory per yielded commit under `<stateDir>/checkouts`, holding ONLY the spec sub-tree
 * (at its path, so `treeDir` is `<checkout>/<path>`). Written by one `git checkout <sha> -- <path>` with a
 * throw-away index and the temporary directory as work tree, then renamed into place: a directory named
 * after a commit is always complete, and the previous checkout is never touched while a new one is written.
 * Chosen over `git worktree add` (checks out the whole tree, leaves admin entries to prune) and
 * `git archive | tar` (a second program and a pipe); one git process matters, as each costs tens of ms.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckoutError, SpecPathNotFoundError } from './errors.js';
import { gitErrorDetail, openGit } from './git.js';

const TEMP_PREFIX = '.tmp-';

export interface CheckoutRequest {
  repoDir: string;
  checkoutsDir: string;
  sha: string;
  /** Normalized sub-path, `.` for the root. */
  path: string;
  timeoutMs: number;
}

/** Directory name of a checkout: the SHA, plus a hash of the sub-path so a changed `path` option never reuses one. */
export function checkoutName(sha: string, path: string): string {
  if (path === '.') return sha;
  return `${sha}-${createHash('sha256').update(path).digest('hex').slice(0, 8)}`;
}

/** Writes the sub-tree of `sha` under `<checkoutsDir>/<name>` (reusing a complete one) and returns `treeDir`. */
export async function materializeCheckout(req: CheckoutRequest): Promise<string> {
  const target = join(req.checkoutsDir, checkoutName(req.sha, req.path));
  const treeDir = req.path === '.' ? target : join(target, ...req.path.split('/'));
  if (await isDirectory(target)) {
    await touch(target);
    return treeDir;
  }
  const temp = join(req.checkoutsDir, `${TEMP_PREFIX}${checkoutName(req.sha, req.path)}-${randomUUID()}`);
  const index = `${temp}.index`;
  try {
    await mkdir(temp, { recursive: true });
    const git = openGit(req.repoDir, { timeoutMs: req.timeoutMs, env: { GIT_INDEX_FILE: index } });
    try {
      // No `--`: then git reports "Updated N paths from <sha>" on stderr, and simple-git, which waits 50 ms
      // more after a git process that printed nothing, hands the result on at once. The commit is a full SHA
      // (unambiguous: the temp work tree is empty) and `./` keeps a path starting with `-` from reading as an
      // option; --literal-pathspecs keeps glob characters literal.
      await git.raw(['--literal-pathspecs', `--work-tree=${temp}`, 'checkout', req.sha, `./${req.path}`]);
    } catch (error) {
      if (/did not match any file/.test(gitErrorDetail(error)))
        throw new SpecPathNotFoundError(req.sha, req.path);
      throw error;
    }
    // The path may name a file, not a directory.
    if (!(await isDirectory(req.path === '.' ? temp : join(temp, ...req.path.split('/'))))) {
      throw new SpecPathNotFoundError(req.sha, req.path);
    }
    await rename(temp, target).catch(async (error: unknown) => {
      // Another writer finished the same commit first: theirs is as good as ours.
      if (!(await isDirectory(target))) throw error;
    });
    await touch(target);
    return treeDir;
  } catch (error) {
    if (error instanceof SpecPathNotFoundError) throw error;
    throw new CheckoutError(req.sha, gitErrorDetail(error), { cause: error });
  } finally {
    await rm(temp, { recursive: true, force: true });
    await rm(index, { force: true });
  }
}

/**
 * Deletes checkouts beyond the `keep` most recently yielded (by mtime, which `materializeCheckout` refreshes)
 * and any temporary leftovers of an interrupted run. `currentName` is never deleted.
 */
export async function pruneCheckouts(
  checkoutsDir: string,
  keep: number,
  currentName: string,
): Promise<string[]> {
  const entries = await readdir(checkoutsDir, { withFileTypes: true }).catch(() => []);
  const dated: { name: string; mtimeMs: number }[] = [];
  const removed: string[] = [];
  for (const entry of entries) {
    const full = join(checkoutsDir, entry.name);
    if (entry.name.startsWith(TEMP_PREFIX)) {
      await rm(full, { recursive: true, force: true });
      removed.push(entry.name);
    } else if (entry.isDirectory() && entry.name !== currentName) {
      const info = await stat(full).catch(() => undefined);
      if (info) dated.push({ name: entry.name, mtimeMs: info.mtimeMs });
    }
  }
  dated.sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const old of dated.slice(Math.max(0, keep - 1))) {
    await rm(join(checkoutsDir, old.name), { recursive: true, force: true });
    removed.push(old.name);
  }
  return removed;
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function touch(path: string): Promise<void> {
  const now = new Date();
  await utimes(path, now, now).catch(() => undefined);
}
