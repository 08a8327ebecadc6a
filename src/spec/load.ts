/**
 * The spec loader's public entry: load a spec tree from a directory, or from an in-memory tree, into a
 * valid Revision or every error with its file:line:col.
 */
import { createSpecLoader, type LoadOptions } from './loader.js';
import { readTree } from './read-tree.js';
import type { LoadResult } from './types.js';

export { createSpecLoader, type LoadOptions, loadRevision, type SpecLoader } from './loader.js';
export { readTree } from './read-tree.js';
export { closeSpecWorkers } from './worker-pool.js';

/**
 * Reads `dir` (every file but `.git/`) and loads it, parsing on worker threads when the tree is large; an
 * unreadable directory is a SpecError, not a throw.
 */
export async function loadRevisionFromDir(dir: string, opts?: LoadOptions): Promise<LoadResult> {
  let tree: Map<string, Buffer>;
  try {
    tree = await readTree(dir);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return {
      ok: false,
      errors: [{ file: dir, line: 1, col: 1, path: '', message: `cannot read the spec tree: ${reason}` }],
    };
  }
  return createSpecLoader().loadAsync(tree, opts);
}
