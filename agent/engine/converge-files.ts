/**
 * Converges ConfigFiles under the root as one batch: every file is observed (sha256, mode, owner) and
 * compared with the manifest concurrently; those whose content differs are replaced atomically and durably
 * together (managed-batch.ts), after their previous contents were saved as backups in one durable batch
 * and the new ones were recorded in the ownership ledger in one durable write. Paths are checked as in
 * safe-path.ts (no symlink in any component, outside the state dir), with the parents' checks shared
 * across the batch and re-done uncached right before the renames; chmod/chown of an unchanged file go
 * through a descriptor opened O_NOFOLLOW. Never throws: failures come back per file as `state: 'failed'`.
 */
import { closeSync, fchmodSync, fchownSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ManifestConfigFile } from '../../src/protocol/manifest.js';
import { saveBackups } from './backups.js';
import {
  type ConfigFileDeps,
  type ConfigFileResult,
  decodeContent,
  modeText,
  type ObservedFile,
  observeFile,
  ownerText,
} from './config-file.js';
import { runningAsRoot, silentLogger } from './deps.js';
import { ContentHashMismatchError, errorText } from './errors.js';
import { sha256Hex } from './fs-util.js';
import { fsyncFd } from './local-fs.js';
import { removeStaleTemps, replaceManagedFiles } from './managed-batch.js';
import { type OwnerIds, resolveOwner } from './owner.js';
import { BatchPathChecker, openNoFollowFd } from './safe-path.js';

/** One file of the batch, from its observation to its result. */
interface Entry {
  item: ManifestConfigFile;
  abs?: string;
  want?: Buffer;
  before?: ObservedFile;
  ids?: OwnerIds;
  notes: string[];
  contentChanged: boolean;
  modeChanged: boolean;
  ownerChanged: boolean;
  /** Content replaced (differs, or a hard link is replaced by a file of its own). */
  rewrite: boolean;
  error?: unknown;
}

/** Brings the file of `item` to its declared content, mode and owner. */
export async function convergeConfigFile(
  item: ManifestConfigFile,
  deps: ConfigFileDeps,
): Promise<ConfigFileResult> {
  const [result] = await convergeConfigFiles([item], deps);
  return result as ConfigFileResult;
}

/** Brings every item's file to its declared content, mode and owner; one result per item, in order. */
export async function convergeConfigFiles(
  items: readonly ManifestConfigFile[],
  deps: ConfigFileDeps,
): Promise<ConfigFileResult[]> {
  const results: ConfigFileResult[] = new Array(items.length);
  // Two items naming one path would race in one batch: later ones go in later batches, in manifest order.
  let rest = items.map((item, i) => ({ item, i }));
  while (rest.length > 0) {
    const seen = new Set<string>();
    const wave = rest.filter((x) => !seen.has(x.item.path) && seen.add(x.item.path));
    rest = rest.filter((x) => !wave.includes(x));
    const out = await convergeBatch(
      wave.map((x) => x.item),
      deps,
    );
    wave.forEach((x, k) => {
      results[x.i] = out[k] as ConfigFileResult;
    });
  }
  return results;
}

async function convergeBatch(
  items: readonly ManifestConfigFile[],
  deps: ConfigFileDeps,
): Promise<ConfigFileResult[]> {
  const checker = new BatchPathChecker(deps.root, deps.stateDir);
  const owners = new Map<string, Promise<OwnerIds>>();
  const asRoot = deps.runningAsRoot ?? runningAsRoot();
  const entries = await Promise.all(items.map((item) => observeEntry(item, deps, checker, owners, asRoot)));
  try {
    await applyEntries(entries, deps, checker);
  } finally {
    for (const e of entries) if (e.abs !== undefined) deps.guard?.end(e.abs, e.error === undefined);
  }
  return Promise.all(entries.map((e) => resultOf(e, deps)));
}

/** Resolves, guards and observes one file and decides what it needs; failures are kept on the entry. */
async function observeEntry(
  item: ManifestConfigFile,
  deps: ConfigFileDeps,
  checker: BatchPathChecker,
  owners: Map<string, Promise<OwnerIds>>,
  asRoot: boolean,
): Promise<Entry> {
  const e: Entry = {
    item,
    notes: [],
    contentChanged: false,
    modeChanged: false,
    ownerChanged: false,
    rewrite: false,
  };
  try {
    // The leaf is opened O_NOFOLLOW by observeFile: a link there is refused without a separate lstat.
    const abs = await checker.resolve(item.path, { leaf: false });
    e.abs = abs;
    deps.guard?.begin(abs);
    const want = decodeContent(item);
    const wantHash = sha256Hex(want);
    if (wantHash !== item.contentHash)
      throw new ContentHashMismatchError(item.path, item.contentHash, wantHash);
    e.want = want;
    const before = await observeFile(abs, item.path);
    if (before) e.before = before;
    if (item.owner !== undefined) {
      if (asRoot) {
        // Read /etc/passwd and /etc/group once per owner per batch, not once per file.
        const ids = owners.get(item.owner) ?? resolveOwner(item.owner, deps.userDb);
        owners.set(item.owner, ids);
        e.ids = await ids;
      } else e.notes.push(`owner ${item.owner} not applied: agent is not root`);
    }
    e.contentChanged = before === undefined || before.hash !== wantHash;
    e.modeChanged = before !== undefined && before.mode !== item.mode;
    e.ownerChanged =
      e.ids !== undefined && (before === undefined || before.uid !== e.ids.uid || before.gid !== e.ids.gid);
    // A hard link planted at the path (to /etc/shadow, say) is replaced by a file of its own, never chmod-ed.
    const hardLinked = before !== undefined && before.nlink > 1 && (e.modeChanged || e.ownerChanged);
    e.rewrite = e.contentChanged || hardLinked;
  } catch (err) {
    e.error = err;
  }
  return e;
}

/** Ledger, backups, the durable batch of replacements, then in-place chmod/chown of the rest. */
async function applyEntries(
  entries: Entry[],
  deps: ConfigFileDeps,
  checker: BatchPathChecker,
): Promise<void> {
  const live = entries.filter((e) => e.error === undefined);
  await removeStaleTemps(
    live.map((e) => e.abs as string),
    deps.tempsSwept,
  ).catch(() => 0);
  const rewrites = live.filter((e) => e.rewrite);
  const failAll = (list: Entry[], err: unknown) => {
    for (const e of list) e.error ??= err;
  };
  try {
    // Owned before they exist: a crash in between leaves an owned absent path, never an unowned created file.
    await deps.ownership.addAll(rewrites.filter((e) => !e.before).map((e) => e.item.path));
    // The old contents are durable before any of them is replaced.
    await saveBackups(
      deps.stateDir,
      rewrites.flatMap((e) => (e.before ? [{ path: e.item.path, content: e.before.content }] : [])),
      deps.clock,
      deps.backupsKept,
    );
  } catch (err) {
    failAll(rewrites, err);
  }
  const writing = rewrites.filter((e) => e.error === undefined);
  const errors = await replaceManagedFiles(
    writing.map((e) => ({
      path: e.item.path,
      abs: e.abs as string,
      data: e.want as Buffer,
      mode: e.item.mode,
      ...(e.ids ? { ids: e.ids } : {}),
    })),
    checker,
  );
  writing.forEach((e, i) => {
    if (errors[i] !== undefined) e.error = errors[i];
  });
  const uncreated = rewrites.filter((e) => e.error !== undefined && !e.before).map((e) => e.item.path);
  if (uncreated.length > 0) await deps.ownership.removeAll(uncreated).catch(() => undefined);
  await Promise.all(
    live.filter((e) => !e.rewrite && (e.modeChanged || e.ownerChanged)).map((e) => fixInPlace(e)),
  );
}

/** chmod/chown through the descriptor of the very file observed: a link swapped in meanwhile is refused. */
async function fixInPlace(e: Entry): Promise<void> {
  try {
    const fd = openNoFollowFd(e.item.path, e.abs as string);
    try {
      if (e.modeChanged) fchmodSync(fd, e.item.mode);
      if (e.ownerChanged && e.ids) fchownSync(fd, e.ids.uid, e.ids.gid);
      await fsyncFd(fd, dirname(e.abs as string));
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    e.error = err;
  }
}

async function resultOf(e: Entry, deps: ConfigFileDeps): Promise<ConfigFileResult> {
  const { item, before, ids } = e;
  if (e.error !== undefined) {
    (deps.logger ?? silentLogger).warn('config file: apply failed', {
      path: item.path,
      err: errorText(e.error),
    });
    // Only a path that passed the checks is looked at again: never read through a refused one.
    const observed =
      e.abs === undefined ? undefined : await observeFile(e.abs, item.path).catch(() => undefined);
    return {
      state: 'failed',
      path: e.abs ?? item.path,
      observedHash: observed?.hash ?? '',
      ...(observed ? { observedOwner: ownerText(observed) } : {}),
      message: errorText(e.error),
      contentChanged: false,
      modeChanged: false,
      ownerChanged: false,
      created: false,
    };
  }
  const notes = [...e.notes];
  if (e.rewrite)
    notes.unshift(
      before === undefined
        ? 'created'
        : e.contentChanged
          ? 'content updated'
          : 'hard link replaced by a file',
    );
  if (e.modeChanged) notes.push(`mode ${modeText(before?.mode ?? 0)} -> ${modeText(item.mode)}`);
  if (e.ownerChanged && before) notes.push(`owner ${before.uid}:${before.gid} -> ${ids?.uid}:${ids?.gid}`);
  const changed = e.contentChanged || e.modeChanged || e.ownerChanged;
  const after = ids ?? (before && !e.contentChanged ? before : undefined);
  return {
    state: changed ? 'changed' : 'ok',
    path: e.abs as string,
    observedHash: item.contentHash,
    ...(after ? { observedOwner: ownerText(after) } : {}),
    ...(notes.length > 0 ? { message: notes.join('; ') } : {}),
    contentChanged: e.contentChanged,
    modeChanged: e.modeChanged,
    ownerChanged: e.ownerChanged,
    created: before === undefined,
  };
}
