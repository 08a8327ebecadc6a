import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { GitSource, type GitSourceOptions } from '../../src/source/index.js';
import { gitRepo } from '../helpers/git-repo.js';
import { FakeTimer, git, record, removeDir, tempDir } from './support.js';

const run = promisify(execFile);
const hasSshKeygen = await run('ssh-keygen', ['-?']).then(
  () => true,
  (error: { code?: unknown }) => error.code !== 'ENOENT',
);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(repo: string, extra: Partial<GitSourceOptions> = {}) {
  const stateDir = await tempDir();
  cleanups.push(() => removeDir(stateDir));
  const source = await GitSource.create(
    { repo, stateDir, verifySignatures: true, watchLocal: false, ...extra },
    { timer: new FakeTimer() },
  );
  cleanups.push(() => source.close());
  const log = record(source);
  await source.start();
  return log;
}

describe('GitSource signature verification', () => {
  it('yields an unsigned head with verified=false when verifySignatures is on', async () => {
    const repo = await gitRepo({ 'a.yaml': 'a\n' });
    cleanups.push(() => repo.cleanup());

    const log = await start(repo.dir);

    expect(log.revisions).toHaveLength(1);
    expect(log.revisions[0]?.signature).toEqual({ verified: false, detail: 'no signature' });
  });

  describe.skipIf(!hasSshKeygen)('with an SSH-signed head', () => {
    async function signedRepo() {
      const repo = await gitRepo({ 'a.yaml': 'a\n' });
      const keys = await tempDir();
      cleanups.push(
        () => repo.cleanup(),
        () => removeDir(keys),
      );
      const key = join(keys, 'id_ed25519');
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'signer', '-f', key]);
      const allowedSigners = join(keys, 'allowed_signers');
      await writeFile(allowedSigners, `test@example.com ${(await readFile(`${key}.pub`, 'utf8')).trim()}\n`);
      await git(repo.dir, 'config', 'gpg.format', 'ssh');
      await git(repo.dir, 'config', 'user.signingkey', `${key}.pub`);
      await git(repo.dir, 'commit', '-q', '-S', '--allow-empty', '-m', 'signed');
      return { repo, allowedSigners };
    }

    it('yields verified=true when the key is an allowed signer', async () => {
      const { repo, allowedSigners } = await signedRepo();

      const log = await start(repo.dir, { sshAllowedSignersFile: allowedSigners });

      expect(log.revisions[0]?.sha).toBe(await repo.head());
      expect(log.revisions[0]?.signature?.verified).toBe(true);
      expect(log.revisions[0]?.signature?.detail).toMatch(/^good signature by test@example.com key SHA256:/);
    });

    it('yields verified=false when no allowed signers are configured', async () => {
      const { repo } = await signedRepo();

      const log = await start(repo.dir);

      expect(log.revisions[0]?.sha).toBe(await repo.head());
      expect(log.revisions[0]?.signature?.verified).toBe(false);
    });
  });
});
