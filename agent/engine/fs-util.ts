/** Durable file-system primitives shared by the engine: hashing, fsync of directories, atomic replace. */
import { createHash, randomBytes } from 'node:crypto';
import { fchmodSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsyncFd, withFd } from './local-fs.js';

/** sha256 (hex) of bytes. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** fsyncs a directory so a create, rename or unlink inside it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  await withFd(dir, 'r', undefined, (fd) => fsyncFd(fd, dir));
}

/** fsyncs each directory once, concurrently (a batch of renames needs one fsync per directory, not per file). */
export async function fsyncDirs(dirs: Iterable<string>): Promise<void> {
  await Promise.all([...new Set(dirs)].map((d) => fsyncDir(d)));
}

const TEMP_MARK = '.gse-tmp-';
/**
 * This process's temp-file prefix: the pid alone is not enough, since an agent restarted in a container may
 * get the pid its killed predecessor had, and must still tell that predecessor's leftovers from its own.
 */
const PROCESS_TEMP_TAG = `${process.pid}-${randomBytes(4).toString('hex')}`;
/**
 * Numbers this process's temp files: the process tag already sets them apart from every other process's,
 * so a counter is enough within it (random bytes per name cost a getrandom call and a buffer each).
 */
let tempCounter = 0;

/** A temp-file name next to `target` (same directory, so a rename over `target` is atomic). */
export function tempPathFor(target: string): string {
  tempCounter = (tempCounter + 1) % Number.MAX_SAFE_INTEGER;
  return join(
    dirname(target),
    `.${basename(target)}${TEMP_MARK}${PROCESS_TEMP_TAG}-${tempCounter.toString(36)}`,
  );
}

/**
 * True when directory entry `name` is a temp file of `targetName` left by another (killed) process: this
 * process's own temps may belong to a write in flight and are never stale.
 */
export function isStaleTempOf(name: string, targetName: string): boolean {
  const prefix = `.${targetName}${TEMP_MARK}`;
  return name.startsWith(prefix) && !name.startsWith(`${prefix}${PROCESS_TEMP_TAG}-`);
}

/** The target name a temp-file name belongs to, or undefined when `name` is not a temp file. */
export function tempTargetName(name: string): string | undefined {
  const at = name.lastIndexOf(TEMP_MARK);
  return name.startsWith('.') && at > 1 ? name.slice(1, at) : undefined;
}

/** Replaces `target` atomically and durably: temp file, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(
  target: string,
  data: Uint8Array | string,
  mode = 0o644,
): Promise<void> {
  await writeFilesAtomic([{ target, data, mode }]);
}

export interface AtomicWrite {
  target: string;
  data: Uint8Array | string;
  /** Default 0644. */
  mode?: number;
}

/**
 * Replaces every target atomically and durably as one batch: all temp files written and fsynced
 * concurrently, then renamed, then each directory fsynced once. A crash leaves each target old or new.
 * Throws the first failure after removing the temp files it left (targets already renamed stay new).
 */
export async function writeFilesAtomic(writes: readonly AtomicWrite[]): Promise<void> {
  const temps = writes.map((w) => tempPathFor(w.target));
  try {
    await Promise.all(
      writes.map((w, i) => {
        const mode = w.mode ?? 0o644;
        return withFd(temps[i] as string, 'wx', mode, (fd) => {
          fchmodSync(fd, mode); // the mode asked for, whatever the umask
          writeFileSync(fd, w.data);
          return fsyncFd(fd, dirname(w.target));
        });
      }),
    );
    for (const [i, w] of writes.entries()) renameSync(temps[i] as string, w.target);
  } catch (err) {
    for (const t of temps) removeQuietly(t);
    throw err;
  }
  await fsyncDirs(writes.map((w) => dirname(w.target)));
}

/** Removes a temp file left by a failed batch; a failure here must not hide the one that failed the batch. */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // Left beside its target under a temp name no reader takes for the target; the batch's error is the news.
  }
}
