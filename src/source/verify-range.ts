/**
 * Signature checks over history: with a trusted base (the revision the controller applied last), every
 * commit in `base..head` must verify, so an unsigned commit cannot ride in under a signed one on top.
 * Without a base (the first revision), only the head is checked: the operator chose the repo and branch,
 * and its history up to that first head is the starting point they trust.
 */
import type { SimpleGit } from 'simple-git';
import { gitErrorDetail } from './git.js';
import { type SourceSignature, verifyCommit } from './revision.js';

const short = (sha: string): string => sha.slice(0, 12);

/** True when `sha` names a commit in the repo. */
async function hasCommit(git: SimpleGit, sha: string): Promise<boolean> {
  try {
    await git.raw(['cat-file', '-e', `${sha}^{commit}`]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Verifies `head` and, when `base` is given, every commit reachable from `head` and not from `base`
 * (merged side branches included), oldest first; stops at the first that fails and names it. Never throws.
 */
export async function verifyRange(
  git: SimpleGit,
  head: string,
  base: string | undefined,
): Promise<SourceSignature> {
  if (base === undefined || base === head) return verifyCommit(git, head);
  if (!/^[0-9a-f]{40,64}$/.test(base) || !(await hasCommit(git, base))) {
    return {
      verified: false,
      detail: `the applied revision ${short(base)} is not in the repository, so the commits since it cannot be checked; fetch a history that contains it`,
      commits: 0,
    };
  }
  let commits: string[];
  try {
    const out = await git.raw(['rev-list', '--reverse', `${base}..${head}`, '--']);
    commits = out.split('\n').filter((line) => line.trim() !== '');
  } catch (error) {
    return {
      verified: false,
      detail: `cannot list the commits since ${short(base)}: ${gitErrorDetail(error)}`,
      commits: 0,
    };
  }
  // The head is older than (or equal to) the base, e.g. a branch reset back: only the head itself is new.
  if (commits.length === 0) commits = [head];
  let headSignature: SourceSignature | undefined;
  for (const [i, sha] of commits.entries()) {
    const signature = await verifyCommit(git, sha);
    if (sha === head) headSignature = signature;
    if (!signature.verified) {
      return {
        verified: false,
        detail: `commit ${sha} (${i + 1} of ${commits.length} since ${short(base)}): ${signature.detail}`,
        unverifiedSha: sha,
        commits: commits.length,
      };
    }
  }
  // rev-list lists the head itself last, so this only runs should that ever not hold.
  headSignature ??= await verifyCommit(git, head);
  return {
    ...headSignature,
    detail: `${headSignature.detail} (${commits.length} commit${commits.length === 1 ? '' : 's'} since ${short(base)} verified)`,
    commits: commits.length,
  };
}
