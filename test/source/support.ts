/** Test support for the Git source: a fake timer, listeners that record, and bounded waits. */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import type {
  GitSource,
  SourceError,
  SourceRevision,
  SourceTimer,
  TimerHandle,
} from '../../src/source/index.js';

const run = promisify(execFile);

/** Upper bound of every wait in these tests: long enough for a slow CI box, short enough to fail fast. */
export const WAIT_MS = 10_000;

/** Runs git in `dir` with the identity the repo helper uses. */
export async function git(dir: string, ...args: string[]): Promise<string> {
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

/** A fresh temporary directory; remove it with `rm(dir, {recursive: true})`. */
export function tempDir(prefix = 'gse-source-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Every file under `dir`, relative, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** Resolves when `condition()` holds, polling every 10 ms, or rejects after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Records what a source yields and reports. */
export function record(source: GitSource): { revisions: SourceRevision[]; errors: SourceError[] } {
  const log = { revisions: [] as SourceRevision[], errors: [] as SourceError[] };
  source.onRevision((revision) => {
    log.revisions.push(revision);
  });
  source.onError((error) => {
    log.errors.push(error);
  });
  return log;
}

interface PendingTimer {
  callback: () => void;
  delayMs: number;
  cleared: boolean;
}

/** A timer that never fires by itself: it records each delay, and the test fires the pending one. */
export class FakeTimer implements SourceTimer {
  readonly delays: number[] = [];
  private readonly timers: PendingTimer[] = [];

  set(callback: () => void, delayMs: number): TimerHandle {
    const timer: PendingTimer = { callback, delayMs, cleared: false };
    this.timers.push(timer);
    this.delays.push(delayMs);
    return {
      clear: () => {
        timer.cleared = true;
      },
    };
  }

  /** Timers set and not cleared or fired. */
  pending(): number[] {
    return this.timers.filter((t) => !t.cleared).map((t) => t.delayMs);
  }

  /** Fires the oldest pending timer. */
  fire(): void {
    const timer = this.timers.find((t) => !t.cleared);
    if (timer === undefined) throw new Error('no pending timer');
    timer.cleared = true;
    timer.callback();
  }

  /** Waits until `count` timers have been set in total. */
  waitForCount(count: number): Promise<void> {
    return waitFor(() => this.delays.length >= count, `${count} timers`);
  }
}
