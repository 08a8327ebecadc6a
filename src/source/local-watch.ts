/**
 * Instant pick-up for a repo on local disk: watch the git dir's refs and fetch as soon as the branch moves.
 *
 * Why refs and not the work tree: the source serves commits, and only a ref update makes a new commit
 * visible to `git fetch`. Work-tree edits are uncommitted (nothing to fetch), fire on every editor save and
 * build artefact, can be huge to watch, and a bare repo has no work tree at all. A branch moves in exactly
 * three places: its loose ref `refs/heads/<branch>` (commit, push, reset), `packed-refs` (after `git gc` /
 * `pack-refs` the loose file disappears and the ref lives there), and `HEAD` (checkout in a non-bare repo).
 * We watch the directories that hold them, filtered to those entries: git replaces ref files by rename
 * (`main.lock` -> `main`), and a watch on the file itself is lost once `pack-refs` deletes it.
 */
import { join, resolve, sep } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import type { Clock, SourceLogger, SourceTimer, TimerHandle } from './deps.js';
import { gitErrorDetail, openGit } from './git.js';

/** Git writes a ref, its reflog and maybe packed-refs in quick succession; one fetch covers them all. */
export const WATCH_DEBOUNCE_MS = 25;
/** Finding the git dir is local and instant; anything slower means something is wrong. */
const GIT_DIR_TIMEOUT_MS = 10_000;

export interface RefWatcher {
  /** The git dir whose refs are watched (the common dir for a linked worktree). */
  readonly gitDir: string;
  close(): Promise<void>;
}

export interface RefWatchOptions {
  /** A bare repo, a repo with a `.git` dir, or a linked worktree. */
  repoPath: string;
  branch: string;
  timer: SourceTimer;
  clock: Clock;
  logger: SourceLogger;
  /**
   * Called (debounced) when the branch may have moved, with the time (`clock`) the first change of the burst
   * was heard: a fetch started after it sees the move.
   */
  onChange: (heardAt: number) => void;
}

/** The git dir holding `repoPath`'s refs, or undefined when it is not (yet) a git repo. */
export async function findGitDir(repoPath: string): Promise<string | undefined> {
  try {
    const git = openGit(repoPath, { timeoutMs: GIT_DIR_TIMEOUT_MS });
    const out = (await git.raw(['rev-parse', '--git-common-dir'])).trim();
    return out ? resolve(repoPath, out) : undefined;
  } catch {
    return undefined;
  }
}

/** Watches the refs of `repoPath`'s branch; resolves once the watch is armed, or undefined if not a repo. */
export async function watchLocalRefs(options: RefWatchOptions): Promise<RefWatcher | undefined> {
  const gitDir = await findGitDir(options.repoPath);
  if (gitDir === undefined) {
    options.logger.warn('source: local repo not found, ref watch disabled', { repo: options.repoPath });
    return undefined;
  }
  const branchRef = join(gitDir, 'refs', 'heads', ...options.branch.split('/'));
  const allowed = new Set([gitDir, join(gitDir, 'HEAD'), join(gitDir, 'packed-refs'), branchRef]);
  // Every directory on the way to the loose ref must be let through, or chokidar will not descend.
  for (let dir = join(branchRef, '..'); dir.startsWith(gitDir + sep); dir = join(dir, '..')) allowed.add(dir);

  let pending: TimerHandle | undefined;
  /** When the first event of the burst being debounced was heard. */
  let heardAt: number | undefined;
  const watcher: FSWatcher = watch(gitDir, { ignoreInitial: true, ignored: (path) => !allowed.has(path) });
  watcher.on('all', (event, path) => {
    options.logger.debug('source: ref change', { event, path });
    heardAt ??= options.clock.now();
    pending?.clear();
    pending = options.timer.set(() => {
      const at = heardAt as number;
      pending = undefined;
      heardAt = undefined;
      options.onChange(at);
    }, WATCH_DEBOUNCE_MS);
  });
  watcher.on('error', (error) => {
    options.logger.warn('source: ref watch error', { error: gitErrorDetail(error) });
  });
  await new Promise<void>((ready) => watcher.once('ready', ready));

  return {
    gitDir,
    async close() {
      pending?.clear();
      pending = undefined;
      await watcher.close();
    },
  };
}
