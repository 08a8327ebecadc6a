/**
 * Parsing spec files on worker threads: YAML parsing dominates a full load, and files are independent.
 * The pool starts on first use, is shared by every loader of the process, and stops after being idle.
 * Any failure makes the caller fall back to loading in the calling thread.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FileResult } from './load-file.js';

/** Threads at most; beyond this the main thread's merge and structured cloning dominate. */
const MAX_WORKERS = 4;
/** Workers stop after this long without work (they hold compiled schemas, ~20 MB each). */
const IDLE_SHUTDOWN_MS = 30_000;
/** Below this many bytes of YAML to parse, starting threads costs more than it saves. */
export const PARALLEL_MIN_BYTES = 256 * 1024;

/** One file to load. */
export interface FileJob {
  path: string;
  content: Uint8Array;
  hash: string;
}
/** A batch of files sent to one worker. */
export interface WorkerRequest {
  id: number;
  jobs: FileJob[];
}
/** A worker's answer to one request: every file's result, or why it failed. */
export type WorkerReply = { id: number; results: FileResult[] } | { id: number; error: string };

let workers: Worker[] | undefined;
let idleTimer: NodeJS.Timeout | undefined;
let nextRequestId = 0;

/** The compiled worker entry next to this module; absent when running from TypeScript sources (tests). */
function workerUrl(): URL | undefined {
  const url = new URL('./parse-worker.js', import.meta.url);
  return existsSync(fileURLToPath(url)) ? url : undefined;
}

/** Heap cap of one worker: a hostile file that gets past the size and alias limits fails its worker, not the controller. */
const WORKER_HEAP_MB = 512;

function startPool(always: boolean): Worker[] | undefined {
  if (workers) return workers;
  const url = workerUrl();
  const size = Math.min(MAX_WORKERS, availableParallelism());
  if (!url || (size < 2 && !always)) return undefined;
  workers = Array.from({ length: Math.max(1, size) }, () => {
    const w = new Worker(url, { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    w.unref();
    return w;
  });
  return workers;
}

/** Stops the worker threads (they also stop by themselves when idle). */
export async function closeSpecWorkers(): Promise<void> {
  clearTimeout(idleTimer);
  const stopping = workers ?? [];
  workers = undefined;
  await Promise.all(stopping.map((w) => w.terminate()));
}

function run(worker: Worker, jobs: FileJob[]): Promise<FileResult[]> {
  return new Promise((resolve, reject) => {
    const id = nextRequestId++;
    const done = (): void => {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      worker.unref();
    };
    const onMessage = (reply: WorkerReply): void => {
      if (reply.id !== id) return;
      done();
      if ('error' in reply) reject(new Error(reply.error));
      else resolve(reply.results);
    };
    const onError = (err: Error): void => {
      done();
      reject(err);
    };
    const onExit = (code: number): void => {
      done();
      reject(new Error(`spec worker exited with code ${code}`));
    };
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    // Keep the process alive while a worker has work: the caller may await nothing else.
    worker.ref();
    worker.postMessage({ id, jobs } satisfies WorkerRequest);
  });
}

/** Splits jobs into `n` groups of about equal bytes (largest first onto the lightest group). */
function balance(jobs: FileJob[], n: number): FileJob[][] {
  const groups = Array.from({ length: n }, () => ({ bytes: 0, jobs: [] as FileJob[] }));
  for (const job of [...jobs].sort((a, b) => b.content.byteLength - a.content.byteLength)) {
    const lightest = groups.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    lightest.jobs.push(job);
    lightest.bytes += job.content.byteLength;
  }
  return groups.map((g) => g.jobs).filter((g) => g.length > 0);
}

/** How to use the pool. */
export interface WorkerLoadOptions {
  /**
   * Use threads whatever the size (the controller: parsing never blocks its event loop). A worker that
   * fails then makes every job of the batch an error instead of a retry in the calling thread, since
   * the file that killed the worker would stall or kill the caller too.
   */
  always?: boolean;
}

function failedResults(jobs: FileJob[], reason: string): FileResult[] {
  return jobs.map((j) => ({
    hash: j.hash,
    docs: [],
    errors: [
      {
        file: j.path,
        line: 1,
        col: 1,
        path: '',
        message: `could not be parsed (${reason}); make the file smaller or simpler (fewer aliases)`,
      },
    ],
  }));
}

/**
 * Loads files on worker threads; results in `jobs` order. Undefined when threads are not worth it or not
 * available, or when a worker failed (the pool is then stopped): the caller loads in its own thread.
 */
export async function loadFilesInWorkers(
  jobs: FileJob[],
  opts: WorkerLoadOptions = {},
): Promise<FileResult[] | undefined> {
  const bytes = jobs.reduce((n, j) => n + j.content.byteLength, 0);
  if (jobs.length === 0 || (bytes < PARALLEL_MIN_BYTES && !opts.always)) return undefined;
  const pool = startPool(opts.always === true);
  if (!pool) return undefined;
  clearTimeout(idleTimer);
  try {
    const groups = balance(jobs, pool.length);
    const answers = await Promise.all(groups.map((g, i) => run(pool[i] as Worker, g)));
    const byPath = new Map<string, FileResult>();
    groups.forEach((g, i) => {
      g.forEach((job, k) => {
        const result = answers[i]?.[k];
        if (result) byPath.set(job.path, result);
      });
    });
    return jobs.map((j) => byPath.get(j.path)).every(Boolean)
      ? jobs.map((j) => byPath.get(j.path) as FileResult)
      : undefined;
  } catch (err) {
    await closeSpecWorkers();
    return opts.always ? failedResults(jobs, `spec worker failed: ${(err as Error).message}`) : undefined;
  } finally {
    if (workers) {
      idleTimer = setTimeout(() => {
        // Idle workers that fail to terminate are dropped anyway; the next load starts fresh ones.
        closeSpecWorkers().catch((err: unknown) => {
          process.emitWarning(`spec workers did not close: ${(err as Error).message}`);
        });
      }, IDLE_SHUTDOWN_MS);
      idleTimer.unref();
    }
  }
}
