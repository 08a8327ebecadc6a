/**
 * Reads a directory into a tree: posix path relative to the root -> bytes. Symlinks are never read
 * through: a repo could otherwise point `files/x` at `/proc/self/environ` or the controller's state and
 * have it shipped to hosts. They are recorded as such, so a reference to one is a validation error.
 */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_MAX_REVISION_BYTES, formatBytes } from './limits.js';
import type { SpecError } from './types.js';

/** Directories never part of the tree. */
const SKIPPED_DIRS = new Set(['.git']);
/** Files read at once; bounded so that a large tree does not exhaust file descriptors. */
const READ_CONCURRENCY = 64;

/** A spec tree as read from disk. */
export interface ReadTreeResult {
  /** Regular files: posix path -> bytes. */
  files: Map<string, Buffer>;
  /** Symlinks (to files, directories or nothing): posix path -> link text. Never followed. */
  symlinks: Map<string, string>;
  /** Why the tree cannot be a revision (too large); empty when it was read whole. */
  errors: SpecError[];
}

interface Listing {
  files: Array<{ path: string; size: number }>;
  symlinks: Map<string, string>;
}

async function listTree(root: string): Promise<Listing> {
  const out: Listing = { files: [], symlinks: new Map() };
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(root, rel), { withFileTypes: true });
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!SKIPPED_DIRS.has(e.name)) await walk(path);
      } else if (e.isFile()) {
        // lstat: the entry was a file when listed; a swap to a symlink since is caught by the read below.
        out.files.push({ path, size: (await lstat(join(root, path))).size });
      } else if (e.isSymbolicLink()) {
        out.symlinks.set(path, await readlink(join(root, path)).catch(() => '?'));
      }
    }
  };
  await walk('');
  out.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return out;
}

/** Calls made while a tree is read. */
export interface ReadTreeHooks {
  /** The tree is listed and within its size limit: these regular files are about to be read. */
  onListed?(files: ReadonlyArray<{ path: string; size: number }>): void;
}

/**
 * Every regular file under `root` except `.git/`, and every symlink as a link (never read through). A tree
 * over `maxRevisionBytes` (default 64 MiB) is not read at all: its only error says so. Throws the fs error
 * when `root` cannot be read.
 */
export async function readTreeChecked(
  root: string,
  maxRevisionBytes = DEFAULT_MAX_REVISION_BYTES,
  hooks: ReadTreeHooks = {},
): Promise<ReadTreeResult> {
  const { files: listed, symlinks } = await listTree(root);
  const total = listed.reduce((n, f) => n + f.size, 0);
  if (total > maxRevisionBytes) {
    const message = `the spec tree holds ${formatBytes(total)} in ${listed.length} files, over the limit of ${formatBytes(maxRevisionBytes)} per revision; keep large binaries out of the spec tree (ship them as AgentVersion artifacts) or raise --max-revision-bytes`;
    return { files: new Map(), symlinks, errors: [{ file: '.', line: 1, col: 1, path: '', message }] };
  }
  hooks.onListed?.(listed);
  const contents: Buffer[] = new Array(listed.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < listed.length) {
      const i = next++;
      const path = (listed[i] as { path: string }).path;
      // A file replaced by a symlink between listing and reading must not be read through.
      const st = await lstat(join(root, path));
      if (st.isSymbolicLink()) symlinks.set(path, await readlink(join(root, path)).catch(() => '?'));
      else contents[i] = await readFile(join(root, path));
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, listed.length) }, worker));
  const files = new Map<string, Buffer>();
  listed.forEach((f, i) => {
    const c = contents[i];
    if (c) files.set(f.path, c);
  });
  return { files, symlinks, errors: [] };
}

/** Every regular file under `root` except `.git/` (symlinks are left out, never followed). */
export async function readTree(root: string): Promise<Map<string, Buffer>> {
  return (await readTreeChecked(root, Number.POSITIVE_INFINITY)).files;
}
