/** Durable file-system primitives shared by the engine: hashing, fsync of directories, atomic replace. */
import { createHash, randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** sha256 (hex) of bytes. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** fsyncs a directory so a create, rename or unlink inside it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A temp-file name next to `target` (same directory, so a rename over `target` is atomic). */
export function tempPathFor(target: string): string {
  return join(
    dirname(target),
    `.${basename(target)}.gse-tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
}

/** Replaces `target` atomically and durably: temp file, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(
  target: string,
  data: Uint8Array | string,
  mode = 0o644,
): Promise<void> {
  const tmp = tempPathFor(target);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.chmod(mode); // the mode asked for, whatever the umask
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dirname(target));
}
