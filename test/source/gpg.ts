/** A real GPG signing key in a throwaway keyring, and commits signed (or not) with it, for signature tests. */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { removeDir, tempDir } from './support.js';

const run = promisify(execFile);

/** Whether gpg is installed; the tests that need it are skipped (with this reason) when it is not. */
export const hasGpg = await run('gpg', ['--version']).then(
  () => true,
  () => false,
);
export const NO_GPG_REASON = 'gpg is not installed (apt-get install gnupg)';

export interface GpgKey {
  /** The keyring directory (GNUPGHOME). */
  home: string;
  fingerprint: string;
  cleanup(): Promise<void>;
}

/** Generates an ed25519 signing key without a passphrase in a new keyring. */
export async function gpgKey(): Promise<GpgKey> {
  const home = await tempDir('gse-gpg-');
  const gpg = (...args: string[]) => run('gpg', ['--batch', '--homedir', home, ...args]);
  await gpg('--passphrase', '', '--quick-gen-key', 'Signer <test@example.com>', 'ed25519', 'sign', 'never');
  const { stdout } = await gpg('--list-secret-keys', '--with-colons');
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(stdout)?.[1];
  if (!fingerprint) throw new Error(`no key fingerprint in gpg output:\n${stdout}`);
  return {
    home,
    fingerprint,
    cleanup: async () => {
      await run('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']).catch(() => undefined);
      await removeDir(home);
    },
  };
}

/** Writes `files` in the work tree `dir` and commits them, signed with `key` or unsigned; returns the sha. */
export async function commitAs(
  dir: string,
  files: Record<string, string>,
  message: string,
  key: GpgKey | undefined,
): Promise<string> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.com',
    ...(key ? { GNUPGHOME: key.home } : {}),
  };
  const git = (...args: string[]) => run('git', args, { cwd: dir, env });
  await git('add', '-A');
  const sign = key
    ? ['-c', `user.signingkey=${key.fingerprint}`, 'commit', `-S${key.fingerprint}`]
    : ['commit', '--no-gpg-sign'];
  await git(...sign, '-q', '--allow-empty', '-m', message);
  return (await git('rev-parse', 'HEAD')).stdout.trim();
}
