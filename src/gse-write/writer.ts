/**
 * GSE write-back: a data-route write (add_route, update_streamto...) becomes one Git commit on the branch
 * the controller follows, authored by the caller, and is answered only once the controller applied a
 * revision that contains it. Git stays the only source of truth: nothing is applied that is not committed.
 *
 * Each attempt: reset the private checkout to the branch head, decide the change against that head's
 * revision (plan.ts), validate the whole resulting tree with the controller's own loader and options (the
 * same checks as `gsectl validate` and the ingest of any commit), commit, push. A push refused because the
 * branch moved is retried from a fresh head, deciding and validating again: a re-decided change, not a
 * textual `git rebase`, so a retry can never push a tree nobody validated. At most `maxAttempts` attempts.
 * Calls are serialized in this process (one checkout); other writers (people, other replicas) are what the
 * retries are for.
 */
import { join } from 'node:path';
import { createSpecLoader, readTreeChecked, type SecretPolicy, type SizeLimits } from '../spec/load.js';
import type { LoadResult } from '../spec/types.js';
import { InvalidTreeError, NotAppliedError, RetriesExhaustedError } from './errors.js';
import { type CommitAction, planWrite } from './plan.js';
import { WorkCheckout } from './work-checkout.js';

/** Attempts of one call before RetriesExhaustedError. */
export const DEFAULT_MAX_ATTEMPTS = 5;
/** How long a call waits for the controller to apply its commit before NotAppliedError. */
export const DEFAULT_APPLY_TIMEOUT_MS = 60_000;
/** A git process silent this long is killed. */
export const DEFAULT_GIT_TIMEOUT_MS = 60_000;

export interface GseWriterOptions {
  /** The repo to push to (default in the controller: the repo it follows). */
  remoteUrl: string;
  /** The branch the controller follows. */
  branch: string;
  /** The spec tree's sub-path in the repo (`.` for the root). */
  specPath: string;
  /** The checkout's directory (the controller's `<stateDir>/gse-write/repo`). */
  workDir: string;
  /** What the controller allows specs to reference, so validation here matches its ingest. */
  secrets: SecretPolicy;
  limits?: Partial<SizeLimits>;
  /** Default DEFAULT_MAX_ATTEMPTS. */
  maxAttempts?: number;
  /** Default DEFAULT_APPLY_TIMEOUT_MS. */
  applyTimeoutMs?: number;
  /** Default DEFAULT_GIT_TIMEOUT_MS. */
  gitTimeoutMs?: number;
}

/** A revision the controller applied (accepted) or refused. */
export interface RevisionOutcome {
  sha: string;
  accepted: boolean;
  /** Why it was refused, for the message. */
  reason?: string;
}

export interface GseWriterDeps {
  /** Asks the controller to fetch the branch now (default: it notices on its own poll). */
  fetchNow(): Promise<unknown>;
  /** Hears every revision the controller applies or rejects; returns the unsubscribe function. */
  onRevision(listener: (outcome: RevisionOutcome) => void): () => void;
  /** The revision applied now, if any. */
  appliedRevision(): string | undefined;
  logger: { warn(message: string, fields?: Record<string, unknown>): void };
  /** Runs just before each push (tests move the branch here to force a retry). */
  beforePush?(attempt: number): Promise<void>;
}

/** One write as the API hands it over. */
export interface WriteRequest {
  action: CommitAction;
  body: Record<string, unknown>;
  /** The caller's name: bk_username, else the token's name. Becomes the commit author. */
  author: string;
  /** How the caller authenticated, for the commit message (`token bk-monitor`). */
  via: string;
  requestId: string;
}

export interface WriteResult {
  /** The `data` of GSE's answer. */
  data: Record<string, unknown>;
  /** The commit that carries the change. */
  sha: string;
  attempts: number;
}

/** The caller's name as a commit author: what git cannot hold in a name (`<`, `>`, line breaks) removed. */
export function authorName(name: string): string {
  return name.replace(/[<>\r\n]+/g, '').trim() || 'unknown';
}

/** `alice` -> `alice@bk` (letters, digits, `._-` kept): the author email of a GSE caller. */
export function authorEmail(name: string): string {
  return `${name.replace(/[^A-Za-z0-9._-]+/g, '-') || 'unknown'}@bk`;
}

export class GseWriter {
  private readonly loader = createSpecLoader();
  private lock: Promise<unknown> = Promise.resolve();
  private readonly maxAttempts: number;
  private readonly applyTimeoutMs: number;

  private constructor(
    private readonly options: GseWriterOptions,
    private readonly checkout: WorkCheckout,
    private readonly deps: GseWriterDeps,
  ) {
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.applyTimeoutMs = options.applyTimeoutMs ?? DEFAULT_APPLY_TIMEOUT_MS;
  }

  /** Opens the private checkout (created on first use). */
  static async create(options: GseWriterOptions, deps: GseWriterDeps): Promise<GseWriter> {
    const checkout = await WorkCheckout.open({
      dir: options.workDir,
      remoteUrl: options.remoteUrl,
      branch: options.branch,
      timeoutMs: options.gitTimeoutMs ?? DEFAULT_GIT_TIMEOUT_MS,
    });
    return new GseWriter(options, checkout, deps);
  }

  /** Commits, pushes and waits for the controller to apply one GSE write; throws a GseWriteError. */
  async write(req: WriteRequest): Promise<WriteResult> {
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const landed = await this.exclusive(() => this.attempt(req, attempt));
      if (landed) {
        await this.awaitApplied(landed.sha);
        return { ...landed, attempts: attempt };
      }
    }
    throw new RetriesExhaustedError(this.options.branch, this.maxAttempts);
  }

  /** One attempt; undefined when the branch moved before the push landed. */
  private async attempt(
    req: WriteRequest,
    attempt: number,
  ): Promise<{ sha: string; data: Record<string, unknown> } | undefined> {
    const head = await this.checkout.sync();
    const root = this.options.specPath === '.' ? '' : `${this.options.specPath}/`;
    const tree = await this.readSpecTree();
    const current = await this.load(tree.files, tree.symlinks, head);
    if (!current.ok) throw new InvalidTreeError(req.action, current.errors, head);
    const plan = planWrite(req.action, req.body, current.revision, req.author);
    const next = new Map(tree.files);
    for (const [path, content] of Object.entries(plan.files)) {
      if (content === null) next.delete(path);
      else next.set(path, Buffer.from(content, 'utf8'));
    }
    const checked = await this.load(next, tree.symlinks, undefined);
    if (!checked.ok) throw new InvalidTreeError(req.action, checked.errors);
    await this.checkout.writeFiles(
      Object.fromEntries(Object.entries(plan.files).map(([path, content]) => [`${root}${path}`, content])),
    );
    const message = `gse: ${plan.summary}\n\nGSE call ${req.action} by ${req.author} (${req.via}), request_id ${req.requestId}\n`;
    const author = authorName(req.author);
    const sha = await this.checkout.commit({ name: author, email: authorEmail(author) }, message);
    // Nothing changed (an update to what is there already): the head carries it.
    if (sha === undefined) return { sha: head, data: plan.data };
    await this.deps.beforePush?.(attempt);
    if ((await this.checkout.push()) === 'behind') {
      this.deps.logger.warn('gse write-back: the branch moved, deciding again on its new head', {
        action: req.action,
        attempt,
      });
      return undefined;
    }
    return { sha, data: plan.data };
  }

  private async readSpecTree() {
    const dir =
      this.options.specPath === '.'
        ? this.options.workDir
        : join(this.options.workDir, this.options.specPath);
    return readTreeChecked(dir, this.options.limits?.maxRevisionBytes).catch(() => ({
      files: new Map<string, Buffer>(),
      symlinks: new Map<string, string>(),
      errors: [],
    }));
  }

  private load(
    files: ReadonlyMap<string, Buffer>,
    symlinks: ReadonlyMap<string, string>,
    id: string | undefined,
  ): Promise<LoadResult> {
    return this.loader.loadAsync(files, {
      ...(id === undefined ? {} : { id }),
      symlinks,
      secrets: this.options.secrets,
      ...(this.options.limits ? { limits: this.options.limits } : {}),
    });
  }

  /** Runs `work` when no other call uses the checkout. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lock.then(work, work);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Resolves once the controller applied `sha` or a revision after it; NotAppliedError on rejection or timeout. */
  private awaitApplied(sha: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unsubscribe();
        if (err) reject(err);
        else resolve();
      };
      const check = async (o: RevisionOutcome): Promise<void> => {
        if (o.sha === sha) {
          finish(
            o.accepted
              ? undefined
              : new NotAppliedError(sha, `the controller rejected it: ${o.reason ?? 'invalid'}`),
          );
          return;
        }
        if (o.accepted && (await this.exclusive(() => this.checkout.isAncestor(sha, o.sha)))) finish();
      };
      const hear = (o: RevisionOutcome): void => {
        check(o).catch((err: unknown) =>
          this.deps.logger.warn('gse write-back: cannot compare revisions', { sha, err: String(err) }),
        );
      };
      const unsubscribe = this.deps.onRevision(hear);
      const timer = setTimeout(
        () =>
          finish(
            new NotAppliedError(
              sha,
              `the controller did not apply it within ${this.applyTimeoutMs} ms (it may still; query to see)`,
            ),
          ),
        this.applyTimeoutMs,
      );
      // A call still waiting must not hold a stopping controller's process open.
      timer.unref();
      const applied = this.deps.appliedRevision();
      if (applied !== undefined) hear({ sha: applied, accepted: true });
      this.deps.fetchNow().catch((err: unknown) =>
        this.deps.logger.warn('gse write-back: fetch after push failed; waiting for the next poll', {
          err: String(err),
        }),
      );
    });
  }
}
