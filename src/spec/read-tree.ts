/** Reads a directory into a tree: posix path relative to the root -> bytes. */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Directories never part of the tree. */
const SKIPPED_DIRS = new Set(['.git']);
/** Files read at once; bounded so that a large tree does not exhaust file descriptors. */
const READ_CONCURRENCY = 64;

async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(root, rel), { withFileTypes: true });
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!SKIPPED_DIRS.has(e.name)) await walk(path);
      } else if (e.isFile()) out.push(path);
      // Symlinks to files are followed; symlinks to directories are not (they could loop).
      else if (e.isSymbolicLink() && (await stat(join(root, path)).catch(() => undefined))?.isFile())
        out.push(path);
    }
  };
  await walk('');
  return out;
}

/** Every file under `root` except `.git/`; throws the fs error when `root` cannot be read. */
export async function readTree(root: string): Promise<Map<string, Buffer>> {
  const paths = (await listFiles(root)).sort();
  const contents: Buffer[] = new Array(paths.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      const i = next++;
      contents[i] = await readFile(join(root, paths[i] as string));
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, paths.length) }, worker));
  return new Map(paths.map((p, i) => [p, contents[i] as Buffer]));
}
