/** The bare clone in `<stateDir>/repo`: created once, reused across restarts. */
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openGit } from './git.js';
import type { CompiledSourceOptions } from './options.js';

export const ORIGIN = 'origin';

/** Where the fetched head of `branch` is kept: `refs/remotes/origin/<branch>`. */
export function trackingRef(branch: string): string {
  return `refs/remotes/${ORIGIN}/${branch}`;
}

/** Creates the bare repo on first use; on later starts only re-points `origin` if the URL changed. */
export async function prepareBareRepo(options: CompiledSourceOptions): Promise<void> {
  await mkdir(options.repoDir, { recursive: true });
  const git = openGit(options.repoDir, { timeoutMs: options.fetchTimeoutMs });
  const exists = await access(join(options.repoDir, 'HEAD')).then(
    () => true,
    () => false,
  );
  if (!exists) await git.init(true);
  const remotes = await git.getRemotes(true);
  const origin = remotes.find((remote) => remote.name === ORIGIN);
  if (origin === undefined) {
    await git.addRemote(ORIGIN, options.remoteUrl);
  } else if (origin.refs.fetch !== options.remoteUrl) {
    await git.remote(['set-url', ORIGIN, options.remoteUrl]);
  }
}
