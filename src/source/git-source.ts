/**
 * The Git source: keeps a bare clone of the spec repo in `<stateDir>/repo`, fetches the branch on a jittered
 * interval, on demand (webhooks) and on local ref changes, and yields each new head once, as a
 * `SourceRevision` whose `treeDir` is a stable checkout of the spec sub-path.
 *
 * Layout: a bare repo (objects and one remote-tracking ref, `refs/remotes/origin/<branch>`) plus one
 * directory per yielded commit under `<stateDir>/checkouts` (see checkouts.ts). Bare, because nothing must
 * ever edit a work tree the loader is reading; the checkouts are the work trees, written once each.
 *
 * "Clone" is `git init --bare` + `remote add` in `create()` and the first fetch in `start()`, so a remote
 * that is down at startup is the same failure as one that goes down later: reported, retried, never a crash.
 * A restarted controller reuses the existing bare repo (no re-clone) and yields its head once, even if the
 * remote is unreachable at that moment.
 */
import { mkdir } from 'node:fs/promises';
import type { SimpleGit } from 'simple-git';
import { jitterMs, retryDelayMs } from './backoff.js';
import { checkoutName, materializeCheckout, pruneCheckouts } from './checkouts.js';
import { Coalescer } from './coalescer.js';
import { type ResolvedSourceDeps, resolveSourceDeps, type SourceDeps, type TimerHandle } from './deps.js';
import {
  BranchNotFoundError,
  CheckoutError,
  SourceError,
  SourceFetchError,
  SourceStateError,
  SpecPathNotFoundError,
} from './errors.js';
import { gitErrorDetail, openGit } from './git.js';
import { type RefWatcher, watchLocalRefs } from './local-watch.js';
import {
  type CompiledSourceOptions,
  compileSourceOptions,
  type GitSourceOptions,
  INTERVAL_JITTER_RATIO,
  KEPT_CHECKOUTS,
  redactUrl,
} from './options.js';
import { type CommitInfo, readCommit, type SourceRevision } from './revision.js';
import { ORIGIN, prepareBareRepo, trackingRef } from './state-repo.js';
import { verifyRange } from './verify-range.js';

export type SourceState = 'created' | 'running' | 'closed';
/**
 * May return a promise: the source waits for it before pruning old checkouts or yielding the next head (so
 * a listener must not itself await `fetchNow()`, which would wait for the listener).
 */
export type RevisionListener = (revision: SourceRevision) => void | Promise<void>;
export type SourceErrorListener = (error: SourceError) => void;

/** Counters for the controller's Prometheus metrics. */
export interface SourceStats {
  state: SourceState;
  /** Fetch attempts, failed or not. */
  fetches: number;
  fetchErrors: number;
  /** Failures since the last success; non-zero means the source is backing off. */
  consecutiveFailures: number;
  /** Duration of the last attempt. */
  lastFetchMs: number | null;
  /** When the last attempt ended, ms since the epoch. */
  lastFetchAt: number | null;
  /** SHA of the last yielded revision. */
  headSha: string | null;
  lastError?: { code: string; message: string; at: number };
}

export class GitSource {
  private state: SourceState = 'created';
  private current: SourceRevision | undefined;
  /** Last head handled (yielded, or refused for a missing spec path), so each SHA is dealt with once. */
  private lastHandledSha: string | undefined;
  /** Last yielded head whose commits all verified: the base of the next check when no trustedBase is given. */
  private lastVerifiedSha: string | undefined;
  private failures = 0;
  private next: TimerHandle | undefined;
  private watcher: RefWatcher | undefined;
  private readonly revisionListeners = new Set<RevisionListener>();
  private readonly errorListeners = new Set<SourceErrorListener>();
  private readonly counters: Omit<SourceStats, 'state' | 'consecutiveFailures' | 'headSha'> = {
    fetches: 0,
    fetchErrors: 0,
    lastFetchMs: null,
    lastFetchAt: null,
  };
  private readonly cycle: Coalescer<SourceRevision | undefined>;
  private readonly git: SimpleGit;

  private constructor(
    readonly options: CompiledSourceOptions,
    private readonly deps: ResolvedSourceDeps,
  ) {
    this.cycle = new Coalescer(
      () => this.runCycle(),
      () => deps.clock.now(),
    );
    this.git = openGit(options.repoDir, {
      timeoutMs: options.fetchTimeoutMs,
      env: options.gnupgHome ? { GNUPGHOME: options.gnupgHome } : {},
      config: options.sshAllowedSignersFile
        ? [`gpg.ssh.allowedSignersFile=${options.sshAllowedSignersFile}`]
        : [],
    });
  }

  /** Validates options and prepares `<stateDir>/repo` (reused when present); fetches nothing until `start()`. */
  static async create(options: GitSourceOptions, deps: SourceDeps = {}): Promise<GitSource> {
    const compiled = compileSourceOptions(options);
    await mkdir(compiled.checkoutsDir, { recursive: true });
    await prepareBareRepo(compiled);
    return new GitSource(compiled, resolveSourceDeps(deps));
  }

  /** Subscribes to new heads; returns the unsubscribe function. */
  onRevision(listener: RevisionListener): () => void {
    this.revisionListeners.add(listener);
    return () => this.revisionListeners.delete(listener);
  }

  /** Subscribes to fetch and checkout failures; returns the unsubscribe function. */
  onError(listener: SourceErrorListener): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** The last yielded revision. */
  get revision(): SourceRevision | undefined {
    return this.current;
  }

  /** Lifecycle: `created` until `start()`, `running`, then `closed`. */
  getState(): SourceState {
    return this.state;
  }

  /** Arms the local ref watch, then runs the first fetch; resolves when it is done (failures go to `onError`). */
  async start(): Promise<void> {
    if (this.state !== 'created') throw new SourceStateError(this.state, 'start');
    this.state = 'running';
    const { localPath, watchLocal, branch } = this.options;
    if (localPath !== undefined && watchLocal) {
      const watcher = await watchLocalRefs({
        repoPath: localPath,
        branch,
        timer: this.deps.timer,
        clock: this.deps.clock,
        logger: this.deps.logger,
        // A fetch that started after the move was heard has seen it (the webhook's, say): no second one.
        onChange: (heardAt) => this.fetchInBackground(heardAt),
      });
      // close() may have run while the watch was being armed.
      if (this.getState() !== 'running') await watcher?.close();
      else this.watcher = watcher;
    }
    await this.fetchNow().catch(() => undefined);
  }

  /**
   * Fetches now and resolves to the head revision. Concurrent calls share one fetch that starts after the
   * call (never an older in-flight one). Rejects with the `SourceError` of a failed attempt (also reported
   * through `onError`).
   */
  fetchNow(): Promise<SourceRevision | undefined> {
    if (this.state === 'closed') return Promise.reject(new SourceStateError(this.state, 'fetch'));
    return this.cycle.run();
  }

  /** A snapshot of the counters. */
  stats(): SourceStats {
    return {
      state: this.state,
      ...this.counters,
      consecutiveFailures: this.failures,
      headSha: this.current?.sha ?? null,
      ...(this.counters.lastError ? { lastError: { ...this.counters.lastError } } : {}),
    };
  }

  /** Stops the timer and the watch, and waits for an in-flight fetch to end. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.next?.clear();
    this.next = undefined;
    const watcher = this.watcher;
    this.watcher = undefined;
    await watcher?.close();
    await this.cycle.idle();
  }

  /** A fetch in the background; with `since`, an in-flight fetch that started after it will do. */
  private fetchInBackground(since?: number): void {
    if (this.state !== 'running') return;
    this.cycle.run(since).catch(() => undefined);
  }

  /** One fetch-and-yield pass; always schedules the next tick while running. */
  private async runCycle(): Promise<SourceRevision | undefined> {
    try {
      const fetchError = await this.fetchBranch();
      // A failed fetch still yields the local head once after a restart: serve what we had.
      if (fetchError === undefined || this.current === undefined) await this.yieldHead();
      if (fetchError !== undefined) throw fetchError;
      this.failures = 0;
      return this.current;
    } catch (error) {
      // Every failure was reported where it happened.
      const failure = asSourceError(error, 'unknown');
      if (!(failure instanceof SpecPathNotFoundError)) this.failures += 1;
      throw failure;
    } finally {
      this.scheduleNext();
    }
  }

  /** Runs `git fetch`; a failure is counted and reported, and returned rather than thrown. */
  private async fetchBranch(): Promise<SourceError | undefined> {
    const { branch, displayUrl } = this.options;
    const started = this.deps.clock.now();
    this.counters.fetches += 1;
    let failure: SourceError | undefined;
    try {
      // --progress: output resets the inactivity timeout, so a long first clone is not mistaken for a hang.
      // --verbose: a line per ref even when nothing changed, so the fetch always prints something (simple-git
      // waits 50 ms more after a git process that printed nothing: a third of a webhook's way to the agents).
      await this.git.fetch(ORIGIN, `+refs/heads/${branch}:${trackingRef(branch)}`, [
        '--no-tags',
        '--progress',
        '--verbose',
      ]);
    } catch (error) {
      const detail = redactUrl(gitErrorDetail(error));
      failure = /couldn't find remote ref/i.test(detail)
        ? new BranchNotFoundError(displayUrl, branch, detail, { cause: error })
        : new SourceFetchError(displayUrl, branch, detail, { cause: error });
    }
    const ended = this.deps.clock.now();
    this.counters.lastFetchMs = ended - started;
    this.counters.lastFetchAt = ended;
    if (failure) {
      this.counters.fetchErrors += 1;
      this.report(failure);
    }
    return failure;
  }

  /** Yields the remote-tracking head if it is new: check out (and verify), notify, prune. */
  private async yieldHead(): Promise<void> {
    const ref = trackingRef(this.options.branch);
    const commit = await readCommit(this.git, ref).catch((error: unknown) => {
      const failure = asSourceError(error, ref);
      this.report(failure);
      throw failure;
    });
    if (commit === undefined || commit.sha === this.lastHandledSha) return;
    const { sha } = commit;
    let revision: SourceRevision;
    try {
      revision = await this.buildRevision(commit);
    } catch (error) {
      const failure = asSourceError(error, sha);
      // A missing spec path will not appear by retrying the same commit: report it once, wait for the next.
      if (failure instanceof SpecPathNotFoundError) this.lastHandledSha = sha;
      this.report(failure);
      throw failure;
    }
    this.lastHandledSha = sha;
    this.current = revision;
    this.deps.logger.info('source: new revision', {
      sha,
      treeDir: revision.treeDir,
      signature: revision.signature,
    });
    await this.notify(revision);
    const current = checkoutName(sha, this.options.path);
    const removed = await pruneCheckouts(this.options.checkoutsDir, KEPT_CHECKOUTS, current);
    if (removed.length > 0) this.deps.logger.debug('source: pruned checkouts', { removed });
  }

  private async buildRevision(commit: CommitInfo): Promise<SourceRevision> {
    const { repoDir, checkoutsDir, path, fetchTimeoutMs, verifySignatures } = this.options;
    const { sha } = commit;
    // Independent git processes: run them side by side, each costs tens of ms.
    const [treeDir, signature] = await Promise.all([
      materializeCheckout({ repoDir, checkoutsDir, sha, path, timeoutMs: fetchTimeoutMs }),
      verifySignatures ? this.verifySince(sha) : undefined,
    ]);
    if (signature?.verified) this.lastVerifiedSha = sha;
    return { ...commit, treeDir, ...(signature ? { signature } : {}) };
  }

  /** Verifies every commit between the trusted base and `sha` (only `sha` when there is no base yet). */
  private async verifySince(sha: string) {
    const base = this.deps.trustedBase ? await this.deps.trustedBase() : this.lastVerifiedSha;
    return verifyRange(this.git, sha, base);
  }

  private async notify(revision: SourceRevision): Promise<void> {
    const results = await Promise.allSettled(
      [...this.revisionListeners].map(async (listener) => listener(revision)),
    );
    for (const result of results) {
      if (result.status === 'rejected') {
        this.deps.logger.error('source: revision listener failed', { error: gitErrorDetail(result.reason) });
      }
    }
  }

  private report(error: SourceError): void {
    this.counters.lastError = { code: error.code, message: error.message, at: this.deps.clock.now() };
    this.deps.logger.warn('source: error', { code: error.code, message: error.message });
    for (const listener of this.errorListeners) {
      try {
        listener(error);
      } catch (thrown) {
        this.deps.logger.error('source: error listener failed', { error: gitErrorDetail(thrown) });
      }
    }
  }

  private scheduleNext(): void {
    if (this.state !== 'running') return;
    this.next?.clear();
    const base = this.failures > 0 ? retryDelayMs(this.failures) : this.options.intervalMs;
    const delayMs = jitterMs(base, INTERVAL_JITTER_RATIO, this.deps.random);
    this.next = this.deps.timer.set(() => {
      this.next = undefined;
      this.fetchInBackground();
    }, delayMs);
  }
}

/** `error` itself when typed; anything else failed while checking out `what` (a SHA or a ref). */
function asSourceError(error: unknown, what: string): SourceError {
  if (error instanceof SourceError) return error;
  return new CheckoutError(what, redactUrl(gitErrorDetail(error)), { cause: error });
}
