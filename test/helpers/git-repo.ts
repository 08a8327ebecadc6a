/** Builds real git repos from an object of files, and commits changes to them, for tests. */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface GitRepo {
  dir: string;
  /** Writes (or with `null`, deletes) files and commits them; returns the new SHA. */
  commit(files: Record<string, string | null>, message?: string): Promise<string>;
  head(): Promise<string>;
  cleanup(): Promise<void>;
}

async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, {
    cwd: dir,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Test',
      GIT_AUTHOR_EMAIL: 'test@example.com',
      GIT_COMMITTER_NAME: 'Test',
      GIT_COMMITTER_EMAIL: 'test@example.com',
    },
  });
  return stdout.trim();
}

/** A new repo on branch `main` whose first commit holds `files`. */
export async function gitRepo(files: Record<string, string>): Promise<GitRepo> {
  const dir = await mkdtemp(join(tmpdir(), 'gse-git-'));
  await git(dir, 'init', '-q', '-b', 'main');
  const repo: GitRepo = {
    dir,
    async commit(change, message = 'change') {
      for (const [path, content] of Object.entries(change)) {
        const full = join(dir, path);
        if (content === null) {
          await rm(full, { force: true });
        } else {
          await mkdir(dirname(full), { recursive: true });
          await writeFile(full, content);
        }
      }
      await git(dir, 'add', '-A');
      await git(dir, 'commit', '-q', '--allow-empty', '-m', message);
      return git(dir, 'rev-parse', 'HEAD');
    },
    head: () => git(dir, 'rev-parse', 'HEAD'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  await repo.commit(files, 'initial');
  return repo;
}
