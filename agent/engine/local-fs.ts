/**
 * How the engine calls the local file system. Metadata calls (lstat, open, rename, mkdir, chmod) and
 * small reads and writes are synchronous: on a local file system each costs 3 to 8 µs of CPU, where the
 * promise API's trip through the thread pool costs 17 to 37 µs (node 20, measured: lstat 3 vs 20 µs,
 * open+close 3 vs 37 µs), and a converge makes dozens of them per file. fsync and fdatasync go to the
 * thread pool: they wait on the disk (milliseconds on a real one), so the connection keeps being served
 * while they run, and a batch's fsyncs overlap instead of queueing. On a file system held in memory
 * (tmpfs, ramfs: /run, /dev/shm, a container's scratch) there is nothing to wait for, and the trip through
 * the pool is the whole cost (25-35 µs of CPU against 2.5 µs inline, node 20 on a 2-core VM), so there they
 * run inline. Which file system a directory is on is read once (statfs) and remembered.
 *
 * Descriptors are plain numbers here: whoever opens one closes it in a `finally`.
 */
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fsync,
  fsyncSync,
  lstatSync,
  openSync,
  readSync,
  type Stats,
  statfsSync,
} from 'node:fs';
import { promisify } from 'node:util';
import { hasErrno } from './errors.js';

const fsyncPooled = promisify(fsync);
const fdatasyncPooled = promisify(fdatasync);

/** statfs(2) f_type of the file systems whose pages live only in memory: tmpfs, ramfs. */
const MEMORY_FS_TYPES: ReadonlySet<number> = new Set([0x01021994, 0x858458f6]);
/** Directories already asked about; cleared when it grows past MEMORY_FS_CACHE_MAX (a fleet's worth). */
const memoryFsDirs = new Map<string, boolean>();
const MEMORY_FS_CACHE_MAX = 100_000;

/**
 * Whether `dir` is on a file system held in memory only, where fsync has nothing to write back. A directory
 * that cannot be asked about counts as a disk (the pooled fsync is right everywhere; it is only slower).
 */
export function onMemoryFs(dir: string): boolean {
  let memory = memoryFsDirs.get(dir);
  if (memory === undefined) {
    try {
      memory = MEMORY_FS_TYPES.has(statfsSync(dir).type);
    } catch {
      memory = false;
    }
    if (memoryFsDirs.size >= MEMORY_FS_CACHE_MAX) memoryFsDirs.clear();
    memoryFsDirs.set(dir, memory);
  }
  return memory;
}

/**
 * fsync(2) of descriptor `fd`, open on a file in directory `dir` (or on `dir` itself): on the thread pool,
 * inline on a memory file system.
 */
export function fsyncFd(fd: number, dir: string): Promise<void> {
  return syncIn(dir, fd, fsyncPooled, fsyncSync);
}

/** fdatasync(2) of `fd`, open on a file in `dir`: on the thread pool, inline on a memory file system. */
export function fdatasyncFd(fd: number, dir: string): Promise<void> {
  return syncIn(dir, fd, fdatasyncPooled, fdatasyncSync);
}

/** `pooled(fd)`, or `inline(fd)` when `dir` is on a memory file system; a failure rejects either way. */
function syncIn(
  dir: string,
  fd: number,
  pooled: (fd: number) => Promise<void>,
  inline: (fd: number) => void,
): Promise<void> {
  if (!onMemoryFs(dir)) return pooled(fd);
  try {
    inline(fd);
    return Promise.resolve();
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Runs `fn` with `file` opened (`flags`, `mode`) and closes the descriptor however `fn` ends. */
export async function withFd<T>(
  file: string,
  flags: string | number,
  mode: number | undefined,
  fn: (fd: number) => T | Promise<T>,
): Promise<T> {
  const fd = openSync(file, flags, mode);
  try {
    return await fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** The entry at `path` (not followed), or undefined when there is none. */
export function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/**
 * The content of regular file `fd`, whose size the caller has just read with its own fstat: `size` bytes,
 * fewer if it shrank meanwhile (as `readFileSync(fd)` reads, without that call's second fstat). Usually one
 * read(2).
 */
export function readOpenFile(fd: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  while (at < size) {
    const n = readSync(fd, buf, at, size - at, at);
    if (n === 0) break;
    at += n;
  }
  return at === size ? buf : buf.subarray(0, at);
}
