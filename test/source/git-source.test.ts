import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GitSource, type GitSourceOptions, type SourceRevision } from '../../src/source/index.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { FakeTimer, git, listFiles, record, removeDir, tempDir } from './support.js';

const SPEC_FILES = {
  'specs/targets.yaml': 'kind: StreamTarget\n',
  'specs/routes/a.yaml': 'kind: Route\n',
  'README.md': 'not a spec\n',
  'tools/build.sh': 'echo hi\n',
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(files: Record<string, string> = SPEC_FILES) {
  const repo = await gitRepo(files);
  const stateDir = await tempDir();
  cleanups.push(
    () => repo.cleanup(),
    () => removeDir(stateDir),
  );
  return { repo, stateDir };
}

async function open(repo: GitRepo, stateDir: string, extra: Partial<GitSourceOptions> = {}) {
  const timer = new FakeTimer();
  const source = await GitSource.create(
    { repo: repo.dir, stateDir, path: 'specs', watchLocal: false, ...extra },
    { timer, random: () => 0.5 },
  );
  cleanups.push(() => source.close());
  return { source, timer, log: record(source) };
}

describe('GitSource', () => {
  it('yields the first revision with sha, author, message and only the spec sub-tree when started', async () => {
    const { repo, stateDir } = await setup();
    const { source, log } = await open(repo, stateDir);

    await source.start();

    expect(log.errors).toEqual([]);
    expect(log.revisions).toHaveLength(1);
    const [first] = log.revisions as [SourceRevision];
    expect(first).toMatchObject({
      sha: await repo.head(),
      author: 'Test',
      authorEmail: 'test@example.com',
      message: 'initial',
    });
    expect(first.authoredAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    expect(first.signature).toBeUndefined();
    expect(first.treeDir).toMatch(new RegExp(`^${stateDir}/checkouts/${first.sha}-[0-9a-f]{8}/specs$`));
    expect(await listFiles(first.treeDir)).toEqual(['routes/a.yaml', 'targets.yaml']);
    expect(await readFile(join(first.treeDir, 'targets.yaml'), 'utf8')).toBe('kind: StreamTarget\n');
    expect(source.revision).toEqual(first);
  });

  it('checks out the whole repo when path is "."', async () => {
    const { repo, stateDir } = await setup();
    const { source, log } = await open(repo, stateDir, { path: '.' });

    await source.start();

    const [first] = log.revisions as [SourceRevision];
    expect(first.treeDir).toBe(join(stateDir, 'checkouts', first.sha));
    expect(await listFiles(first.treeDir)).toEqual([
      'README.md',
      'specs/routes/a.yaml',
      'specs/targets.yaml',
      'tools/build.sh',
    ]);
  });

  it.each([
    ['starts with a dash (never read as an option)', '-specs'],
    ['holds glob characters and a space (taken literally)', 'sp*cs [x]'],
  ])('checks out a spec path that %s', async (_what, path) => {
    const { repo, stateDir } = await setup({
      [`${path}/a.yaml`]: 'kind: Route\n',
      'spXcs x/decoy.yaml': 'not this\n',
      'README.md': 'not a spec\n',
    });
    const { source, log } = await open(repo, stateDir, { path });

    await source.start();

    expect(log.errors).toEqual([]);
    const [first] = log.revisions as [SourceRevision];
    expect(first.treeDir.endsWith(`/${path}`)).toBe(true);
    expect(await listFiles(first.treeDir)).toEqual(['a.yaml']);
    expect(await listFiles(join(first.treeDir, '..'))).toEqual([`${path}/a.yaml`]);
  });

  it('yields a new commit when fetchNow is called', async () => {
    const { repo, stateDir } = await setup();
    const { source, log } = await open(repo, stateDir);
    await source.start();

    const sha = await repo.commit(
      { 'specs/targets.yaml': 'kind: StreamTarget # v2\n' },
      'bump targets\n\nbody',
    );
    const head = await source.fetchNow();

    expect(head?.sha).toBe(sha);
    expect(log.revisions.map((r) => r.sha)).toEqual([log.revisions[0]?.sha, sha]);
    expect(head?.message).toBe('bump targets\n\nbody');
    expect(await readFile(join(head?.treeDir ?? '', 'targets.yaml'), 'utf8')).toBe(
      'kind: StreamTarget # v2\n',
    );
  });

  it('yields each SHA once when fetched again without a new commit', async () => {
    const { repo, stateDir } = await setup();
    const { source, log } = await open(repo, stateDir);
    await source.start();

    const again = await source.fetchNow();

    expect(again?.sha).toBe(await repo.head());
    expect(log.revisions).toHaveLength(1);
    expect(source.stats()).toMatchObject({ fetches: 2, fetchErrors: 0, consecutiveFailures: 0 });
  });

  it('coalesces concurrent fetchNow calls into one follow-up fetch when a fetch is in flight', async () => {
    const { repo, stateDir } = await setup();
    const { source } = await open(repo, stateDir);
    await source.start();
    const sha = await repo.commit({ 'specs/x.yaml': 'x\n' });
    const before = source.stats().fetches;

    const heads = await Promise.all(Array.from({ length: 8 }, () => source.fetchNow()));

    expect(new Set(heads.map((h) => h?.sha))).toEqual(new Set([sha]));
    expect(source.stats().fetches - before).toBe(2);
  });

  it('does not yield a commit on another branch when fetched', async () => {
    const { repo, stateDir } = await setup();
    const { source, log } = await open(repo, stateDir);
    await source.start();
    const first = log.revisions[0]?.sha;

    await git(repo.dir, 'checkout', '-q', '-b', 'dev');
    await repo.commit({ 'specs/dev.yaml': 'dev\n' }, 'on dev');
    await git(repo.dir, 'checkout', '-q', 'main');
    const head = await source.fetchNow();

    expect(head?.sha).toBe(first);
    expect(log.revisions).toHaveLength(1);
    const onMain = await repo.commit({ 'specs/main.yaml': 'main\n' }, 'on main');
    await source.fetchNow();
    expect(log.revisions.map((r) => r.sha)).toEqual([first, onMain]);
    expect(await listFiles(log.revisions[1]?.treeDir ?? '')).not.toContain('dev.yaml');
  });

  it('keeps the previous checkout intact while a new one is made and prunes beyond the last two', async () => {
    const { repo, stateDir } = await setup();
    const { source, log } = await open(repo, stateDir);
    await source.start();
    const first = log.revisions[0] as SourceRevision;
    const seenDuringLoad: string[][] = [];
    source.onRevision(async (revision) => {
      // While the controller loads the new tree, the last good one must still be readable and unchanged.
      if (revision.sha !== first.sha) seenDuringLoad.push(await listFiles(first.treeDir));
    });

    await repo.commit({ 'specs/targets.yaml': null, 'specs/new.yaml': 'new\n' }, 'second');
    const second = (await source.fetchNow()) as SourceRevision;

    expect(seenDuringLoad).toEqual([['routes/a.yaml', 'targets.yaml']]);
    expect(await readFile(join(first.treeDir, 'targets.yaml'), 'utf8')).toBe('kind: StreamTarget\n');
    expect(await listFiles(second.treeDir)).toEqual(['new.yaml', 'routes/a.yaml']);

    await repo.commit({ 'specs/third.yaml': 'third\n' }, 'third');
    const third = (await source.fetchNow()) as SourceRevision;

    await expect(stat(first.treeDir)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await listFiles(second.treeDir)).toEqual(['new.yaml', 'routes/a.yaml']);
    expect(await listFiles(third.treeDir)).toEqual(['new.yaml', 'routes/a.yaml', 'third.yaml']);
  });

  it('resumes without re-cloning and yields the head once when restarted', async () => {
    const { repo, stateDir } = await setup();
    const { source } = await open(repo, stateDir);
    await source.start();
    await source.close();
    const repoDir = join(stateDir, 'repo');
    const inode = (await stat(repoDir)).ino;
    await writeFile(join(repoDir, 'gse-test-marker'), 'kept');

    const { source: restarted, log } = await open(repo, stateDir);
    await restarted.start();
    await restarted.fetchNow();

    expect(log.revisions.map((r) => r.sha)).toEqual([await repo.head()]);
    expect((await stat(repoDir)).ino).toBe(inode);
    expect(await readFile(join(repoDir, 'gse-test-marker'), 'utf8')).toBe('kept');
  });

  it('stops scheduling fetches when closed', async () => {
    const { repo, stateDir } = await setup();
    const { source, timer } = await open(repo, stateDir);
    await source.start();
    expect(timer.pending()).toEqual([15_000]);

    await source.close();

    expect(timer.pending()).toEqual([]);
    await expect(source.fetchNow()).rejects.toMatchObject({ code: 'SOURCE_BAD_STATE' });
    expect(source.stats().state).toBe('closed');
  });
});
