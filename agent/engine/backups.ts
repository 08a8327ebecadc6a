/** Previous contents of managed files, kept under the state dir before they are overwritten or pruned. */
import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from './deps.js';
import { hasErrno } from './errors.js';
import { sha256Hex, writeFilesAtomic } from './fs-util.js';
import { ensurePrivateDir } from './private-fs.js';

/** Backups kept per managed path (the newest ones). */
export const BACKUPS_KEPT_PER_PATH = 5;
/** Encoded paths longer than this are replaced by their hash, to stay under NAME_MAX. */
const MAX_DIR_NAME_CHARS = 200;
const TIME_DIGITS = 15;
const COUNTER_DIGITS = 6;
/** Orders backups made within the same millisecond. */
let counter = 0;
/**
 * The backup files of each backup directory this process made sure of (0700, its own), oldest first, as this
 * process left them: a save then costs no mkdir check and no readdir. Forgotten when a write or a prune
 * finds the directory or a file gone (removed by hand), and read again.
 */
const knownDirs = new Map<string, string[]>();
const KNOWN_DIRS_MAX = 100_000;

/** The directory holding the backups of managed path `path`. */
export function backupDir(stateDir: string, path: string): string {
  const encoded = encodeURIComponent(path);
  return join(
    stateDir,
    'backups',
    encoded.length <= MAX_DIR_NAME_CHARS ? encoded : `sha256-${sha256Hex(path)}`,
  );
}

/** Backup files of `path`, oldest first. */
export async function listBackups(stateDir: string, path: string): Promise<string[]> {
  try {
    return filesIn(backupDir(stateDir, path));
  } catch {
    return [];
  }
}

/** Saves `content` as the newest backup of `path` and deletes all but the newest `keep`. */
export async function saveBackup(
  stateDir: string,
  path: string,
  content: Buffer,
  clock: Clock,
  keep = BACKUPS_KEPT_PER_PATH,
): Promise<string> {
  const [file] = await saveBackups(stateDir, [{ path, content }], clock, keep);
  return file as string;
}

export interface BackupEntry {
  path: string;
  content: Buffer;
}

/**
 * Saves each entry as the newest backup of its path in one durable batch (temp files fsynced concurrently,
 * one fsync per backup directory) and deletes all but the newest `keep` of each. Returns the backup files.
 */
export async function saveBackups(
  stateDir: string,
  entries: readonly BackupEntry[],
  clock: Clock,
  keep = BACKUPS_KEPT_PER_PATH,
): Promise<string[]> {
  if (entries.length === 0) return [];
  const dirs = entries.map((e) => backupDir(stateDir, e.path));
  const files = entries.map((e, i) => {
    counter = (counter + 1) % 10 ** COUNTER_DIGITS;
    const stamp = `${String(clock.now()).padStart(TIME_DIGITS, '0')}-${String(counter).padStart(COUNTER_DIGITS, '0')}`;
    return join(dirs[i] as string, `${stamp}-${sha256Hex(e.content).slice(0, 12)}.bak`);
  });
  const writes = entries.map((e, i) => ({ target: files[i] as string, data: e.content, mode: 0o600 }));
  await knowDirs(stateDir, dirs);
  try {
    await writeFilesAtomic(writes);
  } catch (err) {
    if (!hasErrno(err, 'ENOENT')) throw err;
    // A backup directory went away since this process last saw it: make it again, once.
    for (const d of dirs) knownDirs.delete(d);
    await knowDirs(stateDir, dirs);
    await writeFilesAtomic(writes);
  }
  for (const [i, dir] of dirs.entries()) {
    const names = knownDirs.get(dir);
    if (names === undefined) continue;
    names.push(files[i] as string);
    names.sort();
    for (const old of names.splice(0, Math.max(0, names.length - keep))) removeBackup(dir, old);
  }
  return files;
}

/**
 * Makes sure each backup directory exists and is private (0700; the agent's start tightens the whole state
 * dir too), and reads its files: once per process and directory.
 */
async function knowDirs(stateDir: string, dirs: readonly string[]): Promise<void> {
  const unknown = [...new Set(dirs)].filter((d) => !knownDirs.has(d));
  if (unknown.length === 0) return;
  await ensurePrivateDir(join(stateDir, 'backups'));
  if (knownDirs.size + unknown.length > KNOWN_DIRS_MAX) knownDirs.clear();
  for (const dir of unknown) {
    await ensurePrivateDir(dir);
    knownDirs.set(dir, filesIn(dir));
  }
}

/** The backup files in `dir`, oldest first (their names start with the time). */
function filesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.bak'))
    .sort()
    .map((n) => join(dir, n));
}

/** Deletes an old backup; one already gone means the directory changed by hand: it is read again next time. */
function removeBackup(dir: string, file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if (!hasErrno(err, 'ENOENT')) throw err;
    knownDirs.delete(dir);
  }
}
