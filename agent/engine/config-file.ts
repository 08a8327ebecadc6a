/**
 * Converges one ConfigFile under the root: compares the file on disk (sha256, mode, owner) with the manifest
 * and, when content differs, replaces it atomically (temp file in the same directory, fsync, chmod, chown,
 * rename, fsync of the directory), keeping the previous content as a backup. The path is resolved under the
 * root with no symlink in any component (safe-path.ts) and outside the agent's state dir: a symlink is
 * refused, never followed nor replaced, and chmod/chown go through a file descriptor opened O_NOFOLLOW.
 * Owner (uid:gid) is compared and healed like content and mode. Never throws: failures come back as
 * `state: 'failed'` with a message.
 */
import { constants } from 'node:fs';
import { open, rename, rm, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ManifestConfigFile } from '../../src/protocol/manifest.js';
import { saveBackup } from './backups.js';
import { type Clock, type Logger, silentLogger } from './deps.js';
import { ContentHashMismatchError, errorText, hasErrno, NotAFileError } from './errors.js';
import { fsyncDir, sha256Hex, tempPathFor } from './fs-util.js';
import { type OwnerIds, resolveOwner, type UserDb } from './owner.js';
import type { OwnershipLedger } from './ownership.js';
import {
  assertNoSymlinks,
  managedBase,
  mkdirsNoFollow,
  openNoFollow,
  resolveManagedSafe,
} from './safe-path.js';

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
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await openNoFollow(path, absPath);
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new NotAFileError(absPath);
    const content = await fh.readFile();
    return {
      content,
      hash: sha256Hex(content),
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      nlink: st.nlink,
    };
  } finally {
    await fh.close();
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

/** Brings the file of `item` to its declared content, mode and owner. */
export async function convergeConfigFile(
  item: ManifestConfigFile,
  deps: ConfigFileDeps,
): Promise<ConfigFileResult> {
  let abs: string | undefined;
  let guarded = false;
  let ok = false;
  try {
    abs = await resolveManagedSafe(deps.root, item.path, deps.stateDir);
    deps.guard?.begin(abs);
    guarded = true;
    const result = await apply(item, abs, deps);
    ok = true;
    return result;
  } catch (err) {
    (deps.logger ?? silentLogger).warn('config file: apply failed', { path: item.path, err: errorText(err) });
    // Only a path that passed the checks is looked at again: never read through a refused one.
    const observed = abs === undefined ? undefined : await observeFile(abs, item.path).catch(() => undefined);
    return {
      state: 'failed',
      path: abs ?? item.path,
      observedHash: observed?.hash ?? '',
      ...(observed ? { observedOwner: ownerText(observed) } : {}),
      message: errorText(err),
      contentChanged: false,
      modeChanged: false,
      ownerChanged: false,
      created: false,
    };
  } finally {
    if (guarded && abs !== undefined) deps.guard?.end(abs, ok);
  }
}

async function apply(item: ManifestConfigFile, abs: string, deps: ConfigFileDeps): Promise<ConfigFileResult> {
  const want = decodeContent(item);
  const wantHash = sha256Hex(want);
  if (wantHash !== item.contentHash)
    throw new ContentHashMismatchError(item.path, item.contentHash, wantHash);
  const before = await observeFile(abs, item.path);
  const notes: string[] = [];
  let ids: OwnerIds | undefined;
  if (item.owner !== undefined) {
    if (deps.runningAsRoot ?? process.getuid?.() === 0) ids = await resolveOwner(item.owner, deps.userDb);
    else notes.push(`owner ${item.owner} not applied: agent is not root`);
  }
  const contentChanged = before === undefined || before.hash !== wantHash;
  const modeChanged = before !== undefined && before.mode !== item.mode;
  const ownerChanged =
    ids !== undefined && (before === undefined || before.uid !== ids.uid || before.gid !== ids.gid);
  // A hard link planted at the path (to /etc/shadow, say) is replaced by a file of its own, never chmod-ed.
  const hardLinked = before !== undefined && before.nlink > 1 && (modeChanged || ownerChanged);
  if (contentChanged || hardLinked) {
    if (before) await saveBackup(deps.stateDir, item.path, before.content, deps.clock, deps.backupsKept);
    // Owned before it exists: a crash in between leaves an owned absent path, never an unowned created file.
    if (before === undefined) await deps.ownership.add(item.path);
    try {
      await replaceFile(item.path, abs, managedBase(deps.root), want, item.mode, ids);
    } catch (err) {
      if (before === undefined) await deps.ownership.remove(item.path).catch(() => undefined);
      throw err;
    }
    notes.unshift(
      before === undefined ? 'created' : contentChanged ? 'content updated' : 'hard link replaced by a file',
    );
  } else {
    // Through the descriptor of the very file observed: a link swapped in meanwhile is refused, not followed.
    const fh = await openNoFollow(item.path, abs);
    try {
      if (modeChanged) await fh.chmod(item.mode);
      if (ownerChanged && ids) await fh.chown(ids.uid, ids.gid);
      if (modeChanged || ownerChanged) await fh.sync();
    } finally {
      await fh.close();
    }
  }
  if (modeChanged) notes.push(`mode ${modeText(before?.mode ?? 0)} -> ${modeText(item.mode)}`);
  if (ownerChanged && before) notes.push(`owner ${before.uid}:${before.gid} -> ${ids?.uid}:${ids?.gid}`);
  const changed = contentChanged || modeChanged || ownerChanged;
  const after = ids ?? (before && !contentChanged ? before : undefined);
  return {
    state: changed ? 'changed' : 'ok',
    path: abs,
    observedHash: wantHash,
    ...(after ? { observedOwner: ownerText(after) } : {}),
    ...(notes.length > 0 ? { message: notes.join('; ') } : {}),
    contentChanged,
    modeChanged,
    ownerChanged,
    created: before === undefined,
  };
}

/**
 * Atomic, durable replace of `abs`, creating parent directories one by one with no symlink among them.
 * The temp file is created O_EXCL|O_NOFOLLOW (never through a planted link) and renamed over the target.
 */
async function replaceFile(
  path: string,
  abs: string,
  base: string,
  data: Buffer,
  mode: number,
  ids: OwnerIds | undefined,
): Promise<void> {
  const dir = dirname(abs);
  for (const created of await mkdirsNoFollow(path, base, dir)) await fsyncDir(dirname(created));
  const tmp = tempPathFor(abs);
  try {
    const fh = await open(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      await fh.writeFile(data);
      await fh.chmod(mode);
      if (ids) await fh.chown(ids.uid, ids.gid);
      await fh.sync();
    } finally {
      await fh.close();
    }
    // A link planted at the target or in a parent since the first check: refuse rather than rename over it.
    await assertNoSymlinks(path, base, abs);
    await rename(tmp, abs);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** Deletes the file at managed `path` (backing it up first) and forgets that the agent owns it. */
export async function pruneConfigFile(path: string, deps: ConfigFileDeps): Promise<{ removed: boolean }> {
  const abs = await resolveManagedSafe(deps.root, path, deps.stateDir);
  deps.guard?.begin(abs);
  try {
    const before = await observeFile(abs, path);
    if (before) {
      await saveBackup(deps.stateDir, path, before.content, deps.clock, deps.backupsKept);
      await unlink(abs);
      await fsyncDir(dirname(abs));
    }
    await deps.ownership.remove(path);
    return { removed: before !== undefined };
  } finally {
    deps.guard?.end(abs, true);
  }
}
