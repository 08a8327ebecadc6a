/**
 * The spec loader's public entry: load a spec tree from a directory, or from an in-memory tree, into a
 * valid Revision or every error with its file:line:col.
 */
import { createSpecLoader, type LoadOptions } from './loader.js';
import { readTreeChecked } from './read-tree.js';
import { isSpecFile } from './spec-files.js';
import type { LoadResult } from './types.js';
import { prestartSpecWorkers } from './worker-pool.js';

export * from './limits.js';
export { createSpecLoader, type LoadOptions, loadRevision, type SpecLoader } from './loader.js';
export { type ReadTreeResult, readTree, readTreeChecked } from './read-tree.js';
export { closeSpecWorkers } from './worker-pool.js';

/**
 * Reads `dir` (every regular file but `.git/`; symlinks recorded, never followed) and loads it, parsing on
 * worker threads when they already run or the tree is very large (worker-pool.ts: the threads then start
 * while the files are read, and the calling thread parses files while they start, unless `alwaysThreaded`);
 * an unreadable directory is a SpecError, not a throw.
 */
export async function loadRevisionFromDir(dir: string, opts?: LoadOptions): Promise<LoadResult> {
  let tree: Awaited<ReturnType<typeof readTreeChecked>>;
  try {
    tree = await readTreeChecked(dir, opts?.limits?.maxRevisionBytes, {
      onListed: (files) =>
        prestartSpecWorkers(files.reduce((n, f) => n + (isSpecFile(f.path) ? f.size : 0), 0)),
    });
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return {
      ok: false,
      errors: [{ file: dir, line: 1, col: 1, path: '', message: `cannot read the spec tree: ${reason}` }],
    };
  }
  if (tree.errors.length > 0) return { ok: false, errors: tree.errors };
  return createSpecLoader().loadAsync(tree.files, {
    shareWithCaller: true,
    ...opts,
    symlinks: tree.symlinks,
  });
}
