/** Previous contents of managed files, kept under the state dir before they are overwritten or pruned. */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from './deps.js';
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
    const dir = backupDir(stateDir, path);
    return readdirSync(dir)
      .filter((n) => n.endsWith('.bak'))
      .sort()
      .map((n) => join(dir, n));
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
  await ensurePrivateDir(join(stateDir, 'backups'));
  const dirs = [...new Set(entries.map((e) => backupDir(stateDir, e.path)))];
  await Promise.all(dirs.map((d) => ensurePrivateDir(d)));
  const files = entries.map((e) => {
    counter = (counter + 1) % 10 ** COUNTER_DIGITS;
    const stamp = `${String(clock.now()).padStart(TIME_DIGITS, '0')}-${String(counter).padStart(COUNTER_DIGITS, '0')}`;
    return join(backupDir(stateDir, e.path), `${stamp}-${sha256Hex(e.content).slice(0, 12)}.bak`);
  });
  await writeFilesAtomic(
    entries.map((e, i) => ({ target: files[i] as string, data: e.content, mode: 0o600 })),
  );
  await Promise.all(
    [...new Set(entries.map((e) => e.path))].map(async (path) => {
      const all = await listBackups(stateDir, path);
      for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(old, { force: true });
    }),
  );
  return files;
}
