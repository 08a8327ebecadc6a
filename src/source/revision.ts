/** What the source yields for a commit, and the git reads that build it. */
import type { SimpleGit } from 'simple-git';
import { gitErrorDetail } from './git.js';

export interface SourceSignature {
  /** `git verify-commit` accepted the commit. */
  verified: boolean;
  /** Human-readable outcome: the signer and key when there is one, or why it failed. */
  detail: string;
  /** With a trusted base: how many commits since it were checked. */
  commits?: number;
  /** The first commit since the trusted base that did not verify. */
  unverifiedSha?: string;
}

export interface SourceRevision {
  sha: string;
  author: string;
  authorEmail: string;
  /** Author date, ISO 8601 in UTC. */
  authoredAt: string;
  /** Full commit message, trailing whitespace trimmed. */
  message: string;
  /** Absolute path of the spec sub-path as of this commit; stays on disk until two newer revisions exist. */
  treeDir: string;
  /** Present only when signature verification is on. */
  signature?: SourceSignature;
}

export type CommitInfo = Omit<SourceRevision, 'treeDir' | 'signature'>;

const FIELD = '%x00';
/** One NUL-separated record; the message goes last because it may contain anything but NUL. */
const COMMIT_FORMAT = ['%H', '%an', '%ae', '%aI', '%B'].join(FIELD);

/**
 * SHA, author, date and message of the commit `ref` points to, in one git process (this runs on every poll),
 * or undefined when the ref does not exist (nothing fetched yet).
 */
export async function readCommit(git: SimpleGit, ref: string): Promise<CommitInfo | undefined> {
  let out: string;
  try {
    out = await git.raw([
      'log',
      '-1',
      '--no-show-signature',
      `--format=${COMMIT_FORMAT}`,
      `${ref}^{commit}`,
      '--',
    ]);
  } catch (error) {
    if (/unknown revision|bad revision|ambiguous argument/i.test(gitErrorDetail(error))) return undefined;
    throw error;
  }
  const [sha, author, authorEmail, date, ...message] = out.split('\0');
  if (sha === undefined || author === undefined || authorEmail === undefined || date === undefined) {
    throw new Error(`unexpected git log output for ${ref}`);
  }
  return {
    sha: sha.trim(),
    author,
    authorEmail,
    authoredAt: new Date(date).toISOString(),
    message: message.join('\0').trimEnd(),
  };
}

/** What each `%G?` status letter means (git-log(1), "pretty formats"). */
const SIGNATURE_STATUS: Record<string, string> = {
  G: 'good signature',
  B: 'bad signature',
  U: 'good signature, unknown validity',
  X: 'good signature, expired',
  Y: 'good signature, expired key',
  R: 'good signature, revoked key',
  E: 'signature cannot be checked (missing key?)',
  N: 'no signature',
};

/** `git verify-commit sha` decides; `%G?`, `%GS`, `%GK` describe. Never throws: a failure is `verified: false`. */
export async function verifyCommit(git: SimpleGit, sha: string): Promise<SourceSignature> {
  let verified = true;
  let failure = '';
  try {
    await git.raw(['verify-commit', sha]);
  } catch (error) {
    verified = false;
    failure = gitErrorDetail(error);
  }
  let described = '';
  try {
    const out = await git.raw(['log', '-1', `--format=%G?${FIELD}%GS${FIELD}%GK`, sha, '--']);
    const [status = '', signer = '', key = ''] = out.trim().split('\0');
    described = [
      SIGNATURE_STATUS[status] ?? `status ${status}`,
      signer && `by ${signer}`,
      key && `key ${key}`,
    ]
      .filter(Boolean)
      .join(' ');
  } catch (error) {
    described = `cannot describe signature: ${gitErrorDetail(error)}`;
  }
  const detail =
    verified || !failure || failure.startsWith('git exited') ? described : `${described}: ${failure}`;
  return { verified, detail };
}
