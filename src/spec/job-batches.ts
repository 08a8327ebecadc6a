/** Spec files to load, cut into batches handed out one at a time to whichever thread is free. */

/** One file to load. */
export interface FileJob {
  path: string;
  content: Uint8Array;
  hash: string;
}

/** Consecutive jobs; `start` is the index of the first in the caller's list. */
export interface JobBatch {
  start: number;
  jobs: FileJob[];
}

/**
 * Splits `jobs` (in order) into batches of about `batchBytes` each, at least one job per batch. Small
 * batches pulled by free threads balance the work when one thread is slower (a busy core, a cold JIT),
 * which a fixed split cannot.
 */
export function batchJobs(jobs: readonly FileJob[], batchBytes: number): JobBatch[] {
  const batches: JobBatch[] = [];
  let current: JobBatch | undefined;
  let bytes = 0;
  jobs.forEach((job, i) => {
    if (!current || bytes >= batchBytes) {
      current = { start: i, jobs: [] };
      batches.push(current);
      bytes = 0;
    }
    current.jobs.push(job);
    bytes += job.content.byteLength;
  });
  return batches;
}

/** Hands out batches in order, each once. */
export class BatchQueue {
  private next = 0;
  constructor(private readonly batches: readonly JobBatch[]) {}

  /** The next batch not yet taken, if any. */
  take(): JobBatch | undefined {
    return this.batches[this.next++];
  }
}
