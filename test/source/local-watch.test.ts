import { afterEach, describe, expect, it } from 'vitest';
import { GitSource, type SourceRevision } from '../../src/source/index.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { git, record, removeDir, tempDir, waitFor } from './support.js';

/** So long that only the ref watch can explain a pick-up within the bounded wait. */
const NEVER_MS = 3_600_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function watched(repoPath: string) {
  const stateDir = await tempDir();
  cleanups.push(() => removeDir(stateDir));
  const source = await GitSource.create({ repo: repoPath, stateDir, intervalMs: NEVER_MS });
  cleanups.push(() => source.close());
  const log = record(source);
  await source.start();
  return { source, log };
}

async function repoWithCleanup(): Promise<GitRepo> {
  const repo = await gitRepo({ 'a.yaml': 'a\n' });
  cleanups.push(() => repo.cleanup());
  return repo;
}

const shas = (revisions: SourceRevision[]) => revisions.map((r) => r.sha);

describe('GitSource local ref watch', () => {
  it('picks up a commit without fetchNow when the repo is a local work tree', async () => {
    const repo = await repoWithCleanup();
    const { log } = await watched(repo.dir);
    const first = await repo.head();

    const second = await repo.commit({ 'b.yaml': 'b\n' }, 'second');

    await waitFor(() => log.revisions.length === 2, 'the watched commit');
    expect(shas(log.revisions)).toEqual([first, second]);
  });

  it('picks up a push into a bare repo given as a file:// URL', async () => {
    const repo = await repoWithCleanup();
    const bareParent = await tempDir();
    cleanups.push(() => removeDir(bareParent));
    const bare = `${bareParent}/fleet.git`;
    await git(bareParent, 'clone', '-q', '--bare', repo.dir, bare);
    const { log } = await watched(`file://${bare}`);

    const pushed = await repo.commit({ 'b.yaml': 'b\n' }, 'pushed');
    await git(repo.dir, 'push', '-q', bare, 'main');

    await waitFor(() => log.revisions.length === 2, 'the pushed commit');
    expect(log.revisions[1]?.sha).toBe(pushed);
  });

  it('keeps watching when git pack-refs moves the branch into packed-refs', async () => {
    const repo = await repoWithCleanup();
    const { log } = await watched(repo.dir);

    await git(repo.dir, 'pack-refs', '--all');
    const afterPack = await repo.commit({ 'c.yaml': 'c\n' }, 'after pack');

    await waitFor(() => log.revisions.at(-1)?.sha === afterPack, 'the commit after pack-refs');
  });

  it('does not yield when a different branch of the watched repo moves', async () => {
    const repo = await repoWithCleanup();
    const { source, log } = await watched(repo.dir);

    await git(repo.dir, 'checkout', '-q', '-b', 'dev');
    await repo.commit({ 'dev.yaml': 'dev\n' }, 'dev');
    // HEAD moved (checkout), so the watch fires a fetch; it must find main unchanged.
    await waitFor(() => source.stats().fetches >= 2, 'the fetch triggered by the HEAD change');
    await source.fetchNow();

    expect(shas(log.revisions)).toEqual([await git(repo.dir, 'rev-parse', 'main')]);
  });

  it('joins a fetch that started after the ref moved (a webhook for the same push) instead of fetching again', async () => {
    const repo = await repoWithCleanup();
    const stateDir = await tempDir();
    cleanups.push(() => removeDir(stateDir));
    let tick = 0;
    let source!: GitSource;
    let webhook: Promise<unknown> | undefined;
    const quiet = () => undefined;
    source = await GitSource.create(
      { repo: repo.dir, stateDir, intervalMs: NEVER_MS },
      {
        clock: { now: () => ++tick }, // every reading later than the one before
        logger: {
          info: quiet,
          warn: quiet,
          error: quiet,
          debug: (msg) => {
            // The push's webhook: a fetch that starts once the watch has heard the ref move, before the
            // watch's own debounced fetch.
            if (msg === 'source: ref change' && webhook === undefined) {
              webhook = new Promise((resolve) => setImmediate(resolve)).then(() => source.fetchNow());
            }
          },
        },
      },
    );
    cleanups.push(() => source.close());
    const log = record(source);
    await source.start();
    const before = source.stats().fetches;

    const second = await repo.commit({ 'b.yaml': 'b\n' }, 'second');
    await waitFor(() => log.revisions.at(-1)?.sha === second, 'the pushed commit');
    await webhook;
    await new Promise((resolve) => setTimeout(resolve, 100)); // past the watch's debounce
    await source.fetchNow(); // settles anything queued; counted below
    expect(source.stats().fetches - before).toBe(2); // the webhook's (joined by the watch) and this one
  });
});
