import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadFilesInWorkers, PARALLEL_MIN_BYTES } from '../../src/spec/worker-pool.js';
import { CONFIG_FILE, memTree } from './helpers.js';

// Worker threads run compiled JavaScript: the threaded path is tested against the build (`npm test` builds
// first); from TypeScript sources the pool is unavailable and callers load in their own thread.
const DIST = (file: string): string => fileURLToPath(new URL(`../../dist/src/spec/${file}`, import.meta.url));
const BUILT = existsSync(DIST('parse-worker.js'));

/** A tree of `files` spec files of ten ConfigFiles each, with unique names. */
function bigTree(files: number): Map<string, Buffer> {
  const out: Record<string, string> = {};
  for (let f = 0; f < files; f++) {
    const docs = Array.from({ length: 10 }, (_, d) =>
      CONFIG_FILE.replace('name: motd', `name: motd-${f}-${d}`),
    );
    out[`specs/f-${f}.yaml`] = docs.join('---\n');
  }
  out['specs/bad.yaml'] = CONFIG_FILE.replace('name: motd', 'name: bad').replace(
    'path: /etc/motd',
    'path: nope',
  );
  return memTree(out);
}

function jobsOf(tree: Map<string, Buffer>) {
  return [...tree].map(([path, content], i) => ({ path, content, hash: String(i) }));
}

describe('loadFilesInWorkers', () => {
  it('declines when there are too few bytes to be worth threads', async () => {
    const tree = memTree({ 'a.yaml': CONFIG_FILE });
    expect(PARALLEL_MIN_BYTES).toBeGreaterThan(CONFIG_FILE.length);
    expect(await loadFilesInWorkers(jobsOf(tree))).toBeUndefined();
  });

  it.skipIf(!BUILT)('parses even a small tree on a thread when always is set (the controller)', async () => {
    type Pool = typeof import('../../src/spec/worker-pool.js');
    type LoadFile = typeof import('../../src/spec/load-file.js');
    const pool = (await import(pathToFileURL(DIST('worker-pool.js')).href)) as Pool;
    const { loadSpecFile } = (await import(pathToFileURL(DIST('load-file.js')).href)) as LoadFile;
    const jobs = jobsOf(memTree({ 'a.yaml': CONFIG_FILE }));
    try {
      expect(await pool.loadFilesInWorkers(jobs)).toBeUndefined();
      const threaded = await pool.loadFilesInWorkers(jobs, { always: true });
      expect(threaded).toEqual(jobs.map((j) => loadSpecFile(j.path, j.content, j.hash)));
    } finally {
      await pool.closeSpecWorkers();
    }
  });

  it.skipIf(!BUILT)(
    'gives what the calling thread gives when the tree is large',
    async () => {
      // Everything from the build, so that a stale build is compared with itself, not with the sources.
      type Pool = typeof import('../../src/spec/worker-pool.js');
      type Load = typeof import('../../src/spec/load.js');
      type LoadFile = typeof import('../../src/spec/load-file.js');
      const pool = (await import(pathToFileURL(DIST('worker-pool.js')).href)) as Pool;
      const load = (await import(pathToFileURL(DIST('load.js')).href)) as Load;
      const { loadSpecFile } = (await import(pathToFileURL(DIST('load-file.js')).href)) as LoadFile;
      const tree = bigTree(300);
      const jobs = jobsOf(tree);
      expect(jobs.reduce((n, j) => n + j.content.byteLength, 0)).toBeGreaterThan(PARALLEL_MIN_BYTES);
      try {
        const inThisThread = jobs.map((j) => loadSpecFile(j.path, j.content, j.hash));
        // With no threads running, a tree this size is parsed in the calling thread (cheaper cold).
        expect(await pool.loadFilesInWorkers(jobs)).toBeUndefined();
        pool.prestartSpecWorkers(pool.COLD_PARALLEL_MIN_BYTES);
        expect(await pool.loadFilesInWorkers(jobs)).toEqual(inThisThread);
        // The calling thread taking batches while fresh threads start must not change what comes back,
        // nor its order.
        await pool.closeSpecWorkers();
        pool.prestartSpecWorkers(pool.COLD_PARALLEL_MIN_BYTES);
        expect(await pool.loadFilesInWorkers(jobs, { shareWithCaller: true })).toEqual(inThisThread);
        expect(await load.createSpecLoader().loadAsync(tree)).toEqual(load.createSpecLoader().load(tree));
      } finally {
        await pool.closeSpecWorkers();
      }
    },
    120_000,
  );
});
