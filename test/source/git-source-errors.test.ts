import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BranchNotFoundError,
  GitSource,
  type GitSourceOptions,
  MAX_RETRY_DELAY_MS,
  SourceFetchError,
  SourceOptionsError,
  SpecPathNotFoundError,
} from '../../src/source/index.js';
import { gitRepo } from '../helpers/git-repo.js';
import { FakeTimer, git, record, removeDir, tempDir } from './support.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function open(options: Omit<GitSourceOptions, 'stateDir'>, stateDir?: string) {
  const dir = stateDir ?? (await tempDir());
  if (stateDir === undefined) cleanups.push(() => removeDir(dir));
  const timer = new FakeTimer();
  const clock = { now: () => 1_700_000_000_000 };
  const source = await GitSource.create(
    { watchLocal: false, ...options, stateDir: dir },
    { timer, clock, random: () => 0.5 },
  );
  cleanups.push(() => source.close());
  return { source, timer, log: record(source), stateDir: dir };
}

describe('GitSource errors', () => {
  it('reports a typed SourceFetchError and backs off 1 s, 2 s, 4 s ... up to the cap when the remote is unreachable', async () => {
    const parent = await tempDir();
    cleanups.push(() => removeDir(parent));
    const missing = join(parent, 'no-such-repo');
    const { source, timer, log } = await open({ repo: missing });

    await source.start();
    for (let fired = 0; fired < 8; fired++) {
      timer.fire();
      await timer.waitForCount(fired + 2);
    }

    expect(log.errors[0]).toBeInstanceOf(SourceFetchError);
    expect(log.errors[0]).toMatchObject({ code: 'SOURCE_FETCH_FAILED', branch: 'main' });
    expect(log.errors[0]?.message).toMatch(
      /^fetch .*no-such-repo \(branch main\) failed: .*not appear to be a git repository/,
    );
    expect(log.errors[0]?.cause).toBeInstanceOf(Error);
    expect(timer.delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 120_000, 120_000]);
    expect(MAX_RETRY_DELAY_MS).toBe(120_000);
    expect(log.revisions).toEqual([]);
    expect(source.stats()).toMatchObject({
      fetches: 9,
      fetchErrors: 9,
      consecutiveFailures: 9,
      lastFetchAt: 1_700_000_000_000,
      lastFetchMs: 0,
      headSha: null,
      lastError: { code: 'SOURCE_FETCH_FAILED' },
    });
  });

  it('reports BranchNotFoundError and returns to the normal interval once the branch appears', async () => {
    const repo = await gitRepo({ 'a.yaml': 'a\n' });
    cleanups.push(() => repo.cleanup());
    const { source, timer, log } = await open({ repo: repo.dir, branch: 'release' });

    await source.start();
    timer.fire();
    await timer.waitForCount(2);
    await git(repo.dir, 'branch', 'release');
    timer.fire();
    await timer.waitForCount(3);

    expect(log.errors).toHaveLength(2);
    expect(log.errors[0]).toBeInstanceOf(BranchNotFoundError);
    expect(log.errors[0]).toMatchObject({ code: 'SOURCE_BRANCH_NOT_FOUND', branch: 'release' });
    expect(timer.delays).toEqual([1_000, 2_000, 15_000]);
    expect(log.revisions.map((r) => r.sha)).toEqual([await repo.head()]);
    expect(source.stats().consecutiveFailures).toBe(0);
  });

  it('keeps the last revision and rejects fetchNow with the typed error when the remote goes away', async () => {
    const repo = await gitRepo({ 'a.yaml': 'a\n' });
    const { source, log } = await open({ repo: repo.dir });
    await source.start();
    const last = source.revision;
    await repo.cleanup();

    await expect(source.fetchNow()).rejects.toBeInstanceOf(SourceFetchError);

    expect(source.revision).toEqual(last);
    expect((await stat(last?.treeDir ?? '')).isDirectory()).toBe(true);
    expect(log.revisions).toHaveLength(1);
    expect(log.errors).toHaveLength(1);
  });

  it('yields the fetched head once on restart when the remote is unreachable', async () => {
    const repo = await gitRepo({ 'a.yaml': 'a\n' });
    const head = await repo.head();
    const first = await open({ repo: repo.dir });
    await first.source.start();
    await first.source.close();
    await repo.cleanup();

    const { source, log } = await open({ repo: repo.dir }, first.stateDir);
    await source.start();

    expect(log.revisions.map((r) => r.sha)).toEqual([head]);
    expect(log.errors.map((e) => e.code)).toEqual(['SOURCE_FETCH_FAILED']);
  });

  it('reports SpecPathNotFoundError once and yields nothing when the spec path is absent', async () => {
    const repo = await gitRepo({ 'a.yaml': 'a\n' });
    cleanups.push(() => repo.cleanup());
    const { source, timer, log } = await open({ repo: repo.dir, path: 'specs' });

    await source.start();
    await expect(source.fetchNow()).resolves.toBeUndefined();

    expect(log.errors).toHaveLength(1);
    expect(log.errors[0]).toBeInstanceOf(SpecPathNotFoundError);
    expect(log.errors[0]).toMatchObject({ code: 'SOURCE_PATH_NOT_FOUND', path: 'specs' });
    expect(log.revisions).toEqual([]);
    expect(timer.pending()).toEqual([15_000]);
  });

  it('reports SpecPathNotFoundError when the spec path names a file', async () => {
    const repo = await gitRepo({ specs: 'a file, not a directory\n' });
    cleanups.push(() => repo.cleanup());
    const { source, log } = await open({ repo: repo.dir, path: 'specs' });

    await source.start();

    expect(log.errors.map((e) => e.code)).toEqual(['SOURCE_PATH_NOT_FOUND']);
    expect(log.revisions).toEqual([]);
  });

  it.each([
    { name: 'empty repo', options: { repo: '' }, error: 'repo: required' },
    {
      name: 'option-like repo',
      options: { repo: '--upload-pack=x' },
      error: 'repo: must not start with "-"',
    },
    {
      name: 'bad branch',
      options: { repo: '/r', branch: 'a..b' },
      error: 'branch: "a..b" is not a valid branch name',
    },
    {
      name: 'option-like branch',
      options: { repo: '/r', branch: '-x' },
      error: 'branch: "-x" is not a valid branch name',
    },
    {
      name: 'escaping path',
      options: { repo: '/r', path: '../x' },
      error: 'path: must stay inside the repo',
    },
    { name: 'absolute path', options: { repo: '/r', path: '/etc' }, error: 'path: must be relative' },
    {
      name: 'tiny interval',
      options: { repo: '/r', intervalMs: 10 },
      error: 'intervalMs: must be a number of milliseconds >= 1000, got 10',
    },
  ])('rejects create with SourceOptionsError when given $name', async ({ options, error }) => {
    await expect(GitSource.create({ ...options, stateDir: '/nonexistent/never-created' })).rejects.toThrow(
      new SourceOptionsError(error.split(':')[0] ?? '', error.slice(error.indexOf(':') + 2)),
    );
  });
});
