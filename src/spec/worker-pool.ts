/**
 * Parsing spec files on worker threads: YAML parsing dominates a full load, and files are independent.
 * The pool starts on first use with `always` (the controller) or for a very large tree, is shared by every
 * loader of the process (offline loads use it when it runs), and stops after being idle. Files go out in small batches to whichever thread
 * is free; offline callers may have the calling thread take batches while the threads start. Any failure makes the caller
 * fall back to loading in the calling thread.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { BatchQueue, batchJobs, type FileJob, type JobBatch } from './job-batches.js';
import { type FileResult, loadSpecFile } from './load-file.js';
import { withPlainEnv } from './plain-env.js';

export type { FileJob } from './job-batches.js';

/** Threads at most; beyond this the main thread's merge and structured cloning dominate. */
const MAX_WORKERS = 4;
/** Workers stop after this long without work (they hold compiled schemas, ~20 MB each). */
const IDLE_SHUTDOWN_MS = 30_000;
/** Below this many bytes of YAML to parse, even running threads cost more than they save. */
export const PARALLEL_MIN_BYTES = 256 * 1024;
/**
 * Below this many bytes, an offline load (not `always`) with no threads running parses in the calling
 * thread rather than start them: fresh threads each load the modules and warm up their JIT, which cost
 * more than the parse they take over. Measured on 2 cores, a fresh process per load of a bench/_lib
 * spec-tree.ts tree (createSpecLoader().load vs loadRevisionFromDir with threads): calling thread 441 / 901 / 1,333 / 2,738 ms vs fresh threads 928 / 1,370 /
 * 1,890 / 3,593 ms for 2,500 / 5,000 / 10,000 / 20,000 documents (1-8 MB); the threads never caught up.
 */
export const COLD_PARALLEL_MIN_BYTES = 16 * 1024 * 1024;
/** Bytes of YAML per batch: ~10 files of a typical tree, a few ms each; small enough to balance threads. */
const BATCH_BYTES = 32 * 1024;
/** Batches sent to a worker ahead of its answers, so it never waits for a busy calling thread. */
const BATCHES_IN_FLIGHT = 2;

/** A batch of files sent to one worker. */
export interface WorkerRequest {
  id: number;
  jobs: FileJob[];
}
/** A worker's answer to one request: every file's result, or why it failed. */
export type WorkerReply = { id: number; results: FileResult[] } | { id: number; error: string };
/** What a worker posts once its modules are loaded and it takes requests. */
export interface WorkerReady {
  ready: true;
}

let workers: Worker[] | undefined;
let idleTimer: NodeJS.Timeout | undefined;
let nextRequestId = 0;
/**
 * Workers whose modules are loaded (their WorkerReady): until then the calling thread may help. Not the
 * `online` event: a thread is online well before it has loaded the parsers and validators (~100 ms).
 */
const ready = new WeakSet<Worker>();
/** Requests each worker has not answered yet: a worker keeps the process alive while it has any. */
const pending = new WeakMap<Worker, number>();

/** The compiled worker entry next to this module; absent when running from TypeScript sources (tests). */
function workerUrl(): URL | undefined {
  const url = new URL('./parse-worker.js', import.meta.url);
  return existsSync(fileURLToPath(url)) ? url : undefined;
}

/** Heap cap of one worker: a hostile file that gets past the size and alias limits fails its worker, not the controller. */
const WORKER_HEAP_MB = 512;
/**
 * Young generation of one worker: parsing makes much short-lived garbage (the YAML trees), and a larger
 * nursery means fewer scavenges (about a fifth less GC time than V8's default here).
 */
const WORKER_YOUNG_GENERATION_MB = 64;

function startPool(always: boolean): Worker[] | undefined {
  if (workers) return workers;
  const url = workerUrl();
  const size = Math.min(MAX_WORKERS, availableParallelism());
  if (!url || (size < 2 && !always)) return undefined;
  workers = Array.from({ length: Math.max(1, size) }, () => {
    const w = new Worker(url, {
      resourceLimits: {
        maxOldGenerationSizeMb: WORKER_HEAP_MB,
        maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB,
      },
    });
    const onReady = (message: WorkerReady | WorkerReply): void => {
      if (!('ready' in message)) return;
      ready.add(w);
      w.off('message', onReady);
    };
    w.on('message', onReady);
    w.unref();
    return w;
  });
  scheduleIdleShutdown();
  return workers;
}

/**
 * Starts the worker threads ahead of a load of `bytes` of spec YAML (while the tree is still being read), when
 * such a load would start them (COLD_PARALLEL_MIN_BYTES); a thread's start-up then overlaps the reads.
 */
export function prestartSpecWorkers(bytes: number): void {
  if (bytes >= COLD_PARALLEL_MIN_BYTES) startPool(false);
}

/** Stops the worker threads (they also stop by themselves when idle). */
export async function closeSpecWorkers(): Promise<void> {
  clearTimeout(idleTimer);
  const stopping = workers ?? [];
  workers = undefined;
  await Promise.all(stopping.map((w) => w.terminate()));
}

function scheduleIdleShutdown(): void {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    // Idle workers that fail to terminate are dropped anyway; the next load starts fresh ones.
    closeSpecWorkers().catch((err: unknown) => {
      process.emitWarning(`spec workers did not close: ${(err as Error).message}`);
    });
  }, IDLE_SHUTDOWN_MS);
  idleTimer.unref();
}

function run(worker: Worker, jobs: FileJob[]): Promise<FileResult[]> {
  return new Promise((resolve, reject) => {
    const id = nextRequestId++;
    const done = (): void => {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      const left = (pending.get(worker) ?? 1) - 1;
      pending.set(worker, left);
      if (left === 0) worker.unref();
    };
    const onMessage = (reply: WorkerReply | WorkerReady): void => {
      if ('ready' in reply || reply.id !== id) return;
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
    // Keep the process alive while a worker has work: the caller may await nothing else. `ref` is not
    // counted by Node, hence `pending`.
    pending.set(worker, (pending.get(worker) ?? 0) + 1);
    worker.ref();
    worker.postMessage({ id, jobs } satisfies WorkerRequest);
  });
}

/** How to use the pool. */
export interface WorkerLoadOptions {
  /**
   * Use threads whatever the size (the controller: parsing never blocks its event loop). A worker that
   * fails then makes every job of the batch an error instead of a retry in the calling thread, since
   * the file that killed the worker would stall or kill the caller too.
   */
  always?: boolean;
  /**
   * Let the calling thread take batches while the threads are starting up (default false): for offline
   * tools that await nothing else; never with `always`. Once every thread is up the calling thread stops:
   * a third thread on a two-core machine then costs more (its GC over the caller's large heap, cache
   * contention) than it saves.
   */
  shareWithCaller?: boolean;
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

/** Gives the thread event-loop turns between batches, so workers' answers are taken and refilled. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
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
  if (jobs.length === 0) return undefined;
  if (!opts.always && (bytes < PARALLEL_MIN_BYTES || (!workers && bytes < COLD_PARALLEL_MIN_BYTES)))
    return undefined;
  const pool = startPool(opts.always === true);
  if (!pool) return undefined;
  clearTimeout(idleTimer);
  const queue = new BatchQueue(batchJobs(jobs, BATCH_BYTES));
  const results: FileResult[] = new Array(jobs.length);
  const store = (batch: JobBatch, answers: FileResult[]): void => {
    answers.forEach((r, k) => {
      results[batch.start + k] = r;
    });
  };
  let failed = false;
  const feed = async (worker: Worker): Promise<void> => {
    for (let batch = queue.take(); batch && !failed; batch = queue.take())
      store(batch, await run(worker, batch.jobs));
  };
  const helpHere = async (): Promise<void> => {
    for (;;) {
      await nextTurn();
      const starting = pool.some((w) => !ready.has(w));
      const batch = failed || !starting ? undefined : queue.take();
      if (!batch) return;
      store(
        batch,
        withPlainEnv(() => batch.jobs.map((j) => loadSpecFile(j.path, j.content, j.hash))),
      );
    }
  };
  try {
    const feeders = pool.flatMap((w) => Array.from({ length: BATCHES_IN_FLIGHT }, () => feed(w)));
    const helper = opts.shareWithCaller && !opts.always ? [helpHere()] : [];
    await Promise.all(
      [...feeders, ...helper].map((p) =>
        p.catch((err: unknown) => {
          failed = true;
          throw err;
        }),
      ),
    );
    return results.length === jobs.length && jobs.every((_, i) => results[i] !== undefined)
      ? results
      : undefined;
  } catch (err) {
    await closeSpecWorkers();
    return opts.always ? failedResults(jobs, `spec worker failed: ${(err as Error).message}`) : undefined;
  } finally {
    if (workers) scheduleIdleShutdown();
  }
}
