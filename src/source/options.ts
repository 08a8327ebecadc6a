/** Options of the Git source: what users pass, and the compiled form with every default filled in. */
import { isAbsolute, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SourceOptionsError } from './errors.js';

export const DEFAULT_BRANCH = 'main';
export const DEFAULT_SPEC_PATH = '.';
export const DEFAULT_INTERVAL_MS = 15_000;
/** Polls more often than this are refused: a Git server is not a queue. */
export const MIN_INTERVAL_MS = 1_000;
/** Each poll delay is spread by ±20% so replicas and restarts do not fetch in lockstep. */
export const INTERVAL_JITTER_RATIO = 0.2;
/** A git process that prints nothing for this long is killed and counted as a failed fetch. */
export const DEFAULT_FETCH_TIMEOUT_MS = 120_000;
/** Checkouts kept on disk: the newest (being loaded) and the one before it (the last good one). */
export const KEPT_CHECKOUTS = 2;

export interface GitSourceOptions {
  /** Remote URL (https, ssh, scp-like `git@host:x.git`, `file://`) or a local path (bare or not). */
  repo: string;
  /** Branch to follow. Default `main`. */
  branch?: string;
  /** Sub-path of the repo that holds the spec tree. Default `.` (the whole repo). */
  path?: string;
  /** Directory the source owns: `repo/` (the bare clone) and `checkouts/<sha>` live here. */
  stateDir: string;
  /** Poll interval. Default 15 000 ms, jittered ±20%. */
  intervalMs?: number;
  /** Check each new head with `git verify-commit`. Default false. */
  verifySignatures?: boolean;
  /** For a repo on local disk, fetch as soon as its branch ref moves. Default true. */
  watchLocal?: boolean;
  /** Kill a git process that stays silent this long. Default 120 000 ms. */
  fetchTimeoutMs?: number;
  /** SSH signatures: git's `gpg.ssh.allowedSignersFile`, the keys trusted to sign. Default: git's config. */
  sshAllowedSignersFile?: string;
  /** GPG signatures: the keyring directory (`GNUPGHOME`). Default: the process's. */
  gnupgHome?: string;
}

export interface CompiledSourceOptions {
  /** The remote as git fetches it. */
  remoteUrl: string;
  /** The remote with credentials redacted, for messages and logs. */
  displayUrl: string;
  /** Absolute path of the repo when it is on local disk (a path or `file://`), else undefined. */
  localPath: string | undefined;
  branch: string;
  /** Normalized posix sub-path, `.` for the root. */
  path: string;
  stateDir: string;
  /** `<stateDir>/repo`: a bare repo whose `origin` is the remote. */
  repoDir: string;
  /** `<stateDir>/checkouts`: one directory per yielded commit. */
  checkoutsDir: string;
  intervalMs: number;
  verifySignatures: boolean;
  watchLocal: boolean;
  fetchTimeoutMs: number;
  sshAllowedSignersFile: string | undefined;
  gnupgHome: string | undefined;
}

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
/** `user@host:path` or `host:path` with no slash before the colon: git's scp-like ssh syntax. */
const SCP_LIKE = /^[^/]+:/;
/**
 * A conservative subset of git's branch names: ASCII letters, digits, `._/-`, starting with a letter or digit
 * (so never read as an option), without the sequences git itself forbids.
 */
const BRANCH_CHARS = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;
const BRANCH_FORBIDDEN = /\.\.|\/\/|\/\.|[/.]$|\.lock$/;

/** Fills defaults (branch `main`, path `.`, interval 15 s, no signature check, local watch on) and validates. */
export function compileSourceOptions(options: GitSourceOptions): CompiledSourceOptions {
  const repo = options.repo?.trim();
  if (!repo) throw new SourceOptionsError('repo', 'required');
  if (repo.startsWith('-')) throw new SourceOptionsError('repo', 'must not start with "-"');
  if (!options.stateDir) throw new SourceOptionsError('stateDir', 'required');

  const branch = options.branch ?? DEFAULT_BRANCH;
  if (!BRANCH_CHARS.test(branch) || BRANCH_FORBIDDEN.test(branch)) {
    throw new SourceOptionsError('branch', `"${branch}" is not a valid branch name`);
  }

  const stateDir = resolve(options.stateDir);
  const localPath = localRepoPath(repo);
  return {
    remoteUrl: localPath ?? repo,
    displayUrl: redactUrl(repo),
    localPath,
    branch,
    path: normalizeSpecPath(options.path ?? DEFAULT_SPEC_PATH),
    stateDir,
    repoDir: join(stateDir, 'repo'),
    checkoutsDir: join(stateDir, 'checkouts'),
    intervalMs: durationMs('intervalMs', options.intervalMs ?? DEFAULT_INTERVAL_MS, MIN_INTERVAL_MS),
    verifySignatures: options.verifySignatures ?? false,
    watchLocal: options.watchLocal ?? true,
    fetchTimeoutMs: durationMs('fetchTimeoutMs', options.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS, 1),
    sshAllowedSignersFile: options.sshAllowedSignersFile ? resolve(options.sshAllowedSignersFile) : undefined,
    gnupgHome: options.gnupgHome ? resolve(options.gnupgHome) : undefined,
  };
}

/** The absolute local path of `repo` when it names a repo on this machine, else undefined. */
export function localRepoPath(repo: string): string | undefined {
  if (/^file:\/\//i.test(repo)) return fileURLToPath(repo);
  if (URL_SCHEME.test(repo)) return undefined;
  if (!isAbsolute(repo) && SCP_LIKE.test(repo)) return undefined;
  return resolve(repo);
}

/** `https://user:token@host/x` -> `https://***@host/x`: URLs may carry credentials; logs must not. */
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1***@');
}

function normalizeSpecPath(path: string): string {
  if (isAbsolute(path) || path.startsWith('/')) throw new SourceOptionsError('path', 'must be relative');
  const normal = posix.normalize(path.replaceAll('\\', '/')).replace(/\/+$/, '');
  if (normal === '' || normal === '.') return '.';
  if (normal === '..' || normal.startsWith('../')) {
    throw new SourceOptionsError('path', 'must stay inside the repo');
  }
  return normal;
}

function durationMs(field: string, value: number, min: number): number {
  if (!Number.isFinite(value) || value < min) {
    throw new SourceOptionsError(field, `must be a number of milliseconds >= ${min}, got ${value}`);
  }
  return Math.round(value);
}
