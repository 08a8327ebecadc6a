/**
 * The agent's own files (identity, manifests, spool, ledgers, backups, process logs, ingest.sock) are its
 * secrets and its memory: created 0600 in 0700 directories, set explicitly (never left to the umask), and
 * an existing state dir with looser modes is tightened when the agent opens it.
 */
import { chmod, type FileHandle, lstat, mkdir, open, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { hasErrno } from './errors.js';

/** Mode of every directory the agent keeps state in. */
export const PRIVATE_DIR_MODE = 0o700;
/** Mode of every state file the agent writes. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` (0700) and sets that mode even when it existed looser. Missing parents are created with
 * the usual 0755, since they may be ordinary system directories (`/var/lib`) that others must traverse.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dirname(dir), { recursive: true, mode: 0o755 });
  try {
    await mkdir(dir, PRIVATE_DIR_MODE);
  } catch (err) {
    if (!hasErrno(err, 'EEXIST')) throw err;
  }
  await chmod(dir, PRIVATE_DIR_MODE);
}

/** Opens `file` with `flags`, creating it 0600, and sets 0600 on it (also when it existed looser). */
export async function openPrivate(file: string, flags: string): Promise<FileHandle> {
  const fh = await open(file, flags, PRIVATE_FILE_MODE);
  try {
    await fh.chmod(PRIVATE_FILE_MODE);
  } catch (err) {
    await fh.close();
    throw err;
  }
  return fh;
}

/**
 * Tightens a state dir written by an older agent: `dir` and every directory below it to 0700, every
 * other entry (files, the socket) loses its group and other bits. Symlinks are left alone (chmod would follow them).
 */
export async function tightenPrivateTree(dir: string): Promise<void> {
  await chmod(dir, PRIVATE_DIR_MODE);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) {
      await tightenPrivateTree(path);
      continue;
    }
    try {
      const st = await lstat(path);
      // Only bits are removed: a 0400 file stays 0400; scripts in flight keep their owner's execute bit.
      const mode = st.mode & 0o777;
      const tight = mode & 0o700;
      if (mode !== tight) await chmod(path, tight);
    } catch (err) {
      if (!hasErrno(err, 'ENOENT')) throw err; // a temp file renamed away meanwhile
    }
  }
}
