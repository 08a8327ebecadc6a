/**
 * The agent's own files (identity, manifests, spool, ledgers, backups, process logs, ingest.sock) are its
 * secrets and its memory: created 0600 in 0700 directories, set explicitly (never left to the umask), and
 * an existing state dir with looser modes is tightened when the agent opens it. Only the agent's own
 * directories are ever chmod-ed: never a parent, never a shared directory such as /tmp.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { hasErrno, SharedStateDirError } from './errors.js';
import { lstatOrUndefined } from './local-fs.js';

/** Mode of every directory the agent keeps state in. */
export const PRIVATE_DIR_MODE = 0o700;
/** Mode of every state file the agent writes. */
export const PRIVATE_FILE_MODE = 0o600;
/** The state dir's own files (not its subdirectories), tightened at open. */
const STATE_FILES = [
  'identity.json',
  'identity.json.tmp',
  'manifest.json',
  'manifest.json.tmp',
  'manifest.pending.json',
  'manifest.pending.json.tmp',
  'tasks.log',
  'owned.json',
  'ingest.sock',
];
/** The state dir's subdirectories: wholly the agent's, tightened recursively at open. */
const STATE_SUBDIRS = ['spool', 'backups', 'process-logs'];

/**
 * Creates `dir` 0700 when it is missing (parents with the usual 0755: they may be ordinary system
 * directories such as /var/lib) and leaves an existing one alone. Returns whether it created it.
 */
export async function makePrivateDir(dir: string): Promise<boolean> {
  // The common case (it exists: every apply asks again) costs one lstat, not three failing mkdirs.
  if (lstatOrUndefined(dir) !== undefined) return false;
  mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
  try {
    mkdirSync(dir, PRIVATE_DIR_MODE);
  } catch (err) {
    if (hasErrno(err, 'EEXIST')) return false;
    throw err;
  }
  chmodSync(dir, PRIVATE_DIR_MODE); // exactly 0700, whatever the umask
  return true;
}

/**
 * Creates `dir` 0700, or sets 0700 on it when it existed looser. A directory with the sticky bit (a
 * shared one like /tmp) is refused: it cannot be the agent's own, and chmod-ing it would hurt others.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  let st = lstatOrUndefined(dir);
  if (st === undefined) {
    if (await makePrivateDir(dir)) return;
    // Someone else created it between the lstat and the mkdir: check what they made.
    st = lstatSync(dir);
  }
  if ((st.mode & 0o1000) !== 0 || !st.isDirectory()) throw new SharedStateDirError(dir);
  if ((st.mode & 0o777) !== PRIVATE_DIR_MODE) chmodSync(dir, PRIVATE_DIR_MODE);
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

/** Removes group and other bits from `path` (no-op when absent or a symlink, which chmod would follow). */
async function tightenEntry(path: string): Promise<void> {
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) {
      await tightenTree(path);
      return;
    }
    // Only bits are removed: a 0400 file stays 0400; scripts keep their owner's execute bit.
    const mode = st.mode & 0o777;
    if (mode !== (mode & 0o700)) chmodSync(path, mode & 0o700);
  } catch (err) {
    if (!hasErrno(err, 'ENOENT')) throw err; // a temp file renamed away meanwhile
  }
}

/** A directory wholly the agent's: itself 0700, every entry below it tightened. */
async function tightenTree(dir: string): Promise<void> {
  chmodSync(dir, PRIVATE_DIR_MODE);
  for (const name of readdirSync(dir)) await tightenEntry(join(dir, name));
}

/**
 * Opens the state dir for the agent (creating it 0700) and tightens what an older agent left looser: its
 * known files and subdirectories only, so a state dir shared with other files by mistake is not rewritten.
 */
export async function openPrivateStateDir(stateDir: string): Promise<void> {
  await ensurePrivateDir(stateDir);
  for (const name of STATE_FILES) await tightenEntry(join(stateDir, name));
  for (const name of STATE_SUBDIRS) await tightenEntry(join(stateDir, name));
}
