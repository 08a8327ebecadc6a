/**
 * `--verify-signatures` over history: every commit between the trusted base (the applied revision) and the
 * new head must verify, with a real GPG key generated here.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GitSource } from '../../src/source/index.js';
import { gitRepo } from '../helpers/git-repo.js';
import { commitAs, type GpgKey, gpgKey, hasGpg, NO_GPG_REASON } from './gpg.js';
import { FakeTimer, record, removeDir, tempDir } from './support.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup() {
  const key = await gpgKey();
  const repo = await gitRepo({ 'a.yaml': 'a: 1\n' });
  const stateDir = await tempDir();
  cleanups.push(key.cleanup, repo.cleanup, () => removeDir(stateDir));
  return { key, repo, stateDir };
}

async function startSource(repoDir: string, stateDir: string, key: GpgKey, base: () => string | undefined) {
  const source = await GitSource.create(
    { repo: repoDir, stateDir, verifySignatures: true, watchLocal: false, gnupgHome: key.home },
    { timer: new FakeTimer(), trustedBase: async () => base() },
  );
  cleanups.push(() => source.close());
  const log = record(source);
  await source.start();
  return { source, log };
}

if (!hasGpg) console.warn(`skipping GPG signature range tests: ${NO_GPG_REASON}`);

describe.skipIf(!hasGpg)('GitSource signature verification over a range', () => {
  it('verifies only the head on the first revision, trusting the history before it', async () => {
    const { key, repo, stateDir } = await setup();
    const head = await commitAs(repo.dir, { 'b.yaml': 'b: 1\n' }, 'signed head', key);

    const { log } = await startSource(repo.dir, stateDir, key, () => undefined);

    expect(log.revisions[0]?.sha).toBe(head);
    expect(log.revisions[0]?.signature?.verified).toBe(true);
    expect(log.revisions[0]?.signature?.detail).toMatch(/^good signature by Signer <test@example.com>/);
  });

  it('rejects a signed head naming the unsigned commit under it when one sits between base and head', async () => {
    const { key, repo, stateDir } = await setup();
    const base = await commitAs(repo.dir, {}, 'signed base', key);
    const unsigned = await commitAs(repo.dir, { 'evil.yaml': 'x: 1\n' }, 'sneaked in', undefined);
    const head = await commitAs(repo.dir, { 'b.yaml': 'b: 2\n' }, 'signed on top', key);

    const { log } = await startSource(repo.dir, stateDir, key, () => base);

    const signature = log.revisions[0]?.signature;
    expect(log.revisions[0]?.sha).toBe(head);
    expect(signature?.verified).toBe(false);
    expect(signature?.unverifiedSha).toBe(unsigned);
    expect(signature?.detail).toBe(`commit ${unsigned} (1 of 2 since ${base.slice(0, 12)}): no signature`);
  });

  it('accepts the head when every commit since the base is signed', async () => {
    const { key, repo, stateDir } = await setup();
    const base = await commitAs(repo.dir, {}, 'base (unsigned, already applied)', undefined);
    await commitAs(repo.dir, { 'b.yaml': 'b: 1\n' }, 'one', key);
    await commitAs(repo.dir, { 'b.yaml': 'b: 2\n' }, 'two', key);

    const { log } = await startSource(repo.dir, stateDir, key, () => base);

    expect(log.revisions[0]?.signature?.verified).toBe(true);
    expect(log.revisions[0]?.signature?.commits).toBe(2);
    expect(log.revisions[0]?.signature?.detail).toMatch(/\(2 commits since [0-9a-f]{12} verified\)$/);
  });

  it('refuses to vouch for the head when the base is not in the repository', async () => {
    const { key, repo, stateDir } = await setup();
    await commitAs(repo.dir, {}, 'signed', key);
    const missing = 'f'.repeat(40);

    const { log } = await startSource(repo.dir, stateDir, key, () => missing);

    expect(log.revisions[0]?.signature?.verified).toBe(false);
    expect(log.revisions[0]?.signature?.detail).toMatch(
      /^the applied revision ffffffffffff is not in the repository/,
    );
  });

  it('checks from the last verified head when no base is given, so a later unsigned commit is caught', async () => {
    const { key, repo, stateDir } = await setup();
    await commitAs(repo.dir, {}, 'signed first', key);
    const source = await GitSource.create(
      { repo: repo.dir, stateDir, verifySignatures: true, watchLocal: false, gnupgHome: key.home },
      { timer: new FakeTimer() },
    );
    cleanups.push(() => source.close());
    const log = record(source);
    await source.start();
    expect(log.revisions[0]?.signature?.verified).toBe(true);
    const unsigned = await commitAs(repo.dir, { 'c.yaml': 'c: 1\n' }, 'unsigned', undefined);
    await commitAs(repo.dir, { 'c.yaml': 'c: 2\n' }, 'signed again', key);

    await source.fetchNow();

    expect(log.revisions[1]?.signature?.verified).toBe(false);
    expect(log.revisions[1]?.signature?.unverifiedSha).toBe(unsigned);
  });
});
