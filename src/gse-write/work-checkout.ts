/**
 * The write-back's own checkout of the controller's repo (`<stateDir>/gse-write/repo`), separate from the
 * source's bare clone so a half-made commit never reaches what the controller reads. Each attempt resets it
 * to the remote branch head, writes, commits with the caller as author and pushes that commit to the branch.
 * Not safe for concurrent use: GseWriter serializes every call on it.
 */
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { SimpleGit } from 'simple-git';
import { gitErrorDetail, openGit } from '../source/git.js';
import { redactUrl } from '../source/options.js';
import { GitStepError, PushRejectedError } from './errors.js';

/** Who commits: the controller; the caller is the author. */
export const COMMITTER_NAME = 'gse-gitops';
export const COMMITTER_EMAIL = 'gse-gitops@localhost';

export interface WorkCheckoutOptions {
  /** Where the checkout lives; created on first use. */
  dir: string;
  /** The remote to fetch from and push to (a URL or a local path). */
  remoteUrl: string;
  branch: string;
  /** Kill a git process silent this long. */
  timeoutMs: number;
}

/** The outcome of a push: landed, or the branch moved meanwhile (fetch, decide again, retry). */
export type PushOutcome = 'pushed' | 'behind';

const BEHIND = /\[rejected\][^\n]*\((fetch first|non-fast-forward|stale info)\)/;

export class WorkCheckout {
  private constructor(
    private readonly git: SimpleGit,
    readonly options: WorkCheckoutOptions,
  ) {}

  /** Opens (initialising when new) the checkout at `options.dir`, with `origin` set to the remote. */
  static async open(options: WorkCheckoutOptions): Promise<WorkCheckout> {
    await mkdir(options.dir, { recursive: true });
    const git = openGit(options.dir, {
      timeoutMs: options.timeoutMs,
      config: [`user.name=${COMMITTER_NAME}`, `user.email=${COMMITTER_EMAIL}`],
    });
    const isRepo = await stat(join(options.dir, '.git')).then(
      () => true,
      () => false,
    );
    if (!isRepo) await git.raw(['init', '-q']);
    const remotes = await git.getRemotes();
    if (remotes.some((r) => r.name === 'origin'))
      await git.raw(['remote', 'set-url', 'origin', options.remoteUrl]);
    else await git.raw(['remote', 'add', 'origin', options.remoteUrl]);
    return new WorkCheckout(git, options);
  }

  private get remoteRef(): string {
    return `refs/remotes/origin/${this.options.branch}`;
  }

  /** Runs one git step; a failure is a GitStepError naming the step and git's reason (URLs redacted). */
  private async step<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw new GitStepError(what, redactUrl(gitErrorDetail(err)), { cause: err });
    }
  }

  /** Fetches the branch and makes the work tree exactly its head; returns the head SHA. */
  sync(): Promise<string> {
    return this.step(`fetch branch ${this.options.branch}`, async () => {
      await this.git.raw(['fetch', '-q', 'origin', `+refs/heads/${this.options.branch}:${this.remoteRef}`]);
      await this.git.raw(['checkout', '-q', '-f', '-B', this.options.branch, this.remoteRef]);
      await this.git.raw(['reset', '-q', '--hard', this.remoteRef]);
      await this.git.raw(['clean', '-q', '-fdx']);
      return (await this.git.revparse(['HEAD'])).trim();
    });
  }

  /** Writes (content) or deletes (null) repo-relative files. */
  writeFiles(files: Readonly<Record<string, string | null>>): Promise<void> {
    return this.step('write the spec files', async () => {
      for (const [path, content] of Object.entries(files)) {
        const full = join(this.options.dir, path);
        if (content === null) await rm(full, { force: true });
        else {
          await mkdir(dirname(full), { recursive: true });
          await writeFile(full, content);
        }
      }
    });
  }

  /** Commits every change of the work tree with `author`; the new SHA, or undefined when nothing changed. */
  commit(author: { name: string; email: string }, message: string): Promise<string | undefined> {
    return this.step('commit', async () => {
      await this.git.raw(['add', '-A']);
      if ((await this.git.raw(['status', '--porcelain'])).trim() === '') return undefined;
      await this.git.raw([
        'commit',
        '-q',
        '--no-verify',
        '-m',
        message,
        `--author=${author.name} <${author.email}>`,
      ]);
      return (await this.git.revparse(['HEAD'])).trim();
    });
  }

  /** Pushes HEAD to the branch: 'behind' when the branch moved; PushRejectedError for any other refusal. */
  async push(): Promise<PushOutcome> {
    try {
      await this.git.raw(['push', '--porcelain', 'origin', `HEAD:refs/heads/${this.options.branch}`]);
      return 'pushed';
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      if (BEHIND.test(text)) return 'behind';
      const remote = /\[remote rejected\][^\n]*/.exec(text)?.[0] ?? /^![^\n]*/m.exec(text)?.[0];
      throw new PushRejectedError(this.options.branch, redactUrl(remote?.trim() ?? gitErrorDetail(err)), {
        cause: err,
      });
    }
  }

  /** True when `ancestor` is `descendant` or one of its ancestors (fetching once when `descendant` is new here). */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    if (ancestor === descendant) return true;
    if (!(await this.has(descendant)))
      await this.git.raw(['fetch', '-q', 'origin', `+refs/heads/${this.options.branch}:${this.remoteRef}`]);
    if (!(await this.has(descendant)) || !(await this.has(ancestor))) return false;
    try {
      await this.git.raw(['merge-base', '--is-ancestor', ancestor, descendant]);
      return true;
    } catch {
      return false;
    }
  }

  private async has(sha: string): Promise<boolean> {
    try {
      await this.git.raw(['cat-file', '-e', `${sha}^{commit}`]);
      return true;
    } catch {
      return false;
    }
  }
}
