/**
 * How fast a commit in a local repo reaches `onRevision`, through (a) `fetchNow()` and (b) the ref watch,
 * next to the cost of a bare `git fetch` of one new commit measured in the same run. Each phase runs alone
 * (no other source alive) after 2 warm-up rounds; medians over `--runs` (default 20) rounds.
 * Prints one JSON object as its last line.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { GitSource, type SourceRevision } from '../src/source/index.js';

const run = promisify(execFile);
const WARMUP_ROUNDS = 2;
const DEFAULT_RUNS = 20;
/** The interval never fires during the bench: only fetchNow or the watch can deliver. */
const NEVER_MS = 3_600_000;
/** A round that takes longer than this is a failure, not a figure. */
const ROUND_TIMEOUT_MS = 10_000;

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@example.com',
};

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await run('git', args, { cwd, env: GIT_ENV })).stdout.trim();
}

let counter = 0;
/** Commits one changed spec file and returns when `git commit` has exited. */
async function commit(repo: string): Promise<void> {
  counter += 1;
  await writeFile(join(repo, 'specs', 'route.yaml'), `kind: Route\nmetadata: { name: r${counter} }\n`);
  await git(repo, 'commit', '-q', '-am', `change ${counter}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const value =
    sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return Math.round(value * 100) / 100;
}

/** The next revision the source yields, bounded. */
function nextRevision(source: GitSource): Promise<SourceRevision> {
  return new Promise((resolve, reject) => {
    const timeout = setTimeout(() => {
      off();
      reject(new Error(`no revision within ${ROUND_TIMEOUT_MS} ms`));
    }, ROUND_TIMEOUT_MS);
    const off = source.onRevision((revision) => {
      clearTimeout(timeout);
      off();
      resolve(revision);
    });
  });
}

async function rounds(count: number, round: () => Promise<number>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP_ROUNDS + count; i++) {
    const ms = await round();
    if (i >= WARMUP_ROUNDS) samples.push(ms);
  }
  return samples;
}

async function plainFetch(src: string, work: string, runs: number): Promise<number[]> {
  const clone = join(work, 'plain');
  await git(work, 'clone', '-q', src, clone);
  return rounds(runs, async () => {
    await commit(src);
    const started = performance.now();
    await git(clone, 'fetch', '-q', 'origin', 'main');
    return performance.now() - started;
  });
}

async function viaSource(
  src: string,
  work: string,
  runs: number,
  mode: 'fetchNow' | 'watch',
): Promise<number[]> {
  const source = await GitSource.create({
    repo: src,
    stateDir: join(work, `state-${mode}`),
    path: 'specs',
    intervalMs: NEVER_MS,
    watchLocal: mode === 'watch',
  });
  await source.start();
  try {
    return await rounds(runs, async () => {
      await commit(src);
      const started = performance.now();
      const yielded = nextRevision(source);
      if (mode === 'fetchNow') await source.fetchNow();
      await yielded;
      return performance.now() - started;
    });
  } finally {
    await source.close();
  }
}

async function main(): Promise<void> {
  const runsArg = process.argv.indexOf('--runs');
  const runs = runsArg >= 0 ? Number(process.argv[runsArg + 1]) : DEFAULT_RUNS;
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');

  const work = await mkdtemp(join(tmpdir(), 'gse-bench-git-'));
  try {
    const src = join(work, 'src');
    await git(work, 'init', '-q', '-b', 'main', src);
    await run('mkdir', ['-p', join(src, 'specs')]);
    await writeFile(join(src, 'specs', 'route.yaml'), 'kind: Route\n');
    await git(src, 'add', '-A');
    await git(src, 'commit', '-q', '-m', 'initial');

    const plain = await plainFetch(src, work, runs);
    const fetchNow = await viaSource(src, work, runs, 'fetchNow');
    const watch = await viaSource(src, work, runs, 'watch');

    const plainMs = median(plain);
    const result = {
      bench: 'git-fetch',
      runs,
      gitVersion: await git(work, 'version'),
      node: process.version,
      plainGitFetchMedianMs: plainMs,
      fetchNowMedianMs: median(fetchNow),
      refWatchMedianMs: median(watch),
      fetchNowVsPlainFetch: Math.round((median(fetchNow) / plainMs) * 100) / 100,
      refWatchVsPlainFetch: Math.round((median(watch) / plainMs) * 100) / 100,
    };
    console.log(JSON.stringify(result));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
