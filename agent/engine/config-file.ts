/**
 * What a ConfigFile apply works with: its deps, its result, the file observed on disk (read O_NOFOLLOW) and
 * prune. The apply itself, one file or a whole manifest's as one durable batch, is in converge-files.ts.
 */
import { closeSync, fstatSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ManifestConfigFile } from '../../src/protocol/manifest.js';
import { saveBackup } from './backups.js';
import type { Clock, Logger } from './deps.js';
import { hasErrno, NotAFileError } from './errors.js';
import { fsyncDir, sha256Hex } from './fs-util.js';
import { readOpenFile } from './local-fs.js';
import type { UserDb } from './owner.js';
import type { OwnershipLedger } from './ownership.js';
import { openNoFollowFd, resolveManagedSafe } from './safe-path.js';

/** Told before and after the agent touches a managed file, so its own writes are not taken for drift. */
export interface WriteGuard {
  begin(absPath: string): void;
  /** `ok`: the file now matches the manifest. */
  end(absPath: string, ok: boolean): void;
}

export interface ConfigFileDeps {
  /** `--root`; '' is the real `/`. */
  root: string;
  stateDir: string;
  clock: Clock;
  logger?: Logger;
  ownership: OwnershipLedger;
  /** Whether chown is possible; default `process.getuid() === 0`. */
  runningAsRoot?: boolean;
  userDb?: UserDb;
  guard?: WriteGuard;
  /** Default BACKUPS_KEPT_PER_PATH. */
  backupsKept?: number;
  /** Directories whose stale temp files this process removed already (see `removeStaleTemps`). */
  tempsSwept?: Set<string>;
}

export interface ConfigFileResult {
  state: 'changed' | 'ok' | 'failed';
  /** Absolute host path (under the root). */
  path: string;
  /** sha256 of the file on disk after the apply ('' when absent). */
  observedHash: string;
  message?: string;
  contentChanged: boolean;
  modeChanged: boolean;
  ownerChanged: boolean;
  /** The file did not exist before (the agent now owns it). */
  created: boolean;
  /** `uid:gid` of the file on disk after the apply (absent when the file is absent or unreadable). */
  observedOwner?: string;
}

export interface ObservedFile {
  content: Buffer;
  hash: string;
  mode: number;
  uid: number;
  gid: number;
  /** Hard links to the inode: above 1, chmod/chown in place would also change another path's file. */
  nlink: number;
}

/** The bytes a ConfigFile declares. */
export function decodeContent(item: Pick<ManifestConfigFile, 'content' | 'encoding'>): Buffer {
  return Buffer.from(item.content, item.encoding === 'base64' ? 'base64' : 'utf8');
}

/**
 * Content, hash, permission bits and owner of a regular file; undefined when absent. The file is opened
 * with O_NOFOLLOW (a symlink is a SymlinkInPathError naming `path`); the caller checks the parents.
 */
export async function observeFile(absPath: string, path = absPath): Promise<ObservedFile | undefined> {
  let fd: number;
  try {
    fd = openNoFollowFd(path, absPath);
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotAFileError(absPath);
    const content = readOpenFile(fd, st.size);
    return {
      content,
      hash: sha256Hex(content),
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      nlink: st.nlink,
    };
  } finally {
    closeSync(fd);
  }
}

/** `uid:gid` text of an owner, as reports carry it. */
export function ownerText(ids: { uid: number; gid: number }): string {
  return `${ids.uid}:${ids.gid}`;
}

/** `0644`-style text of a mode. */
export function modeText(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

/** True when the item's onChange must run: it has one and the apply really changed content or mode. */
export function needsOnChange(item: ManifestConfigFile, result: ConfigFileResult): boolean {
  return (
    item.onChange !== undefined && result.state === 'changed' && (result.contentChanged || result.modeChanged)
  );
}

/** Deletes the file at managed `path` (backing it up first) and forgets that the agent owns it. */
export async function pruneConfigFile(path: string, deps: ConfigFileDeps): Promise<{ removed: boolean }> {
  const abs = await resolveManagedSafe(deps.root, path, deps.stateDir);
  deps.guard?.begin(abs);
  try {
    const before = await observeFile(abs, path);
    if (before) {
      await saveBackup(deps.stateDir, path, before.content, deps.clock, deps.backupsKept);
      unlinkSync(abs);
      await fsyncDir(dirname(abs));
    }
    await deps.ownership.remove(path);
    return { removed: before !== undefined };
  } finally {
    deps.guard?.end(abs, true);
  }
}
