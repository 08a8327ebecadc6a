/**
 * Detects hand edits of managed files: a file event (a SharedFileWatcher's directory watch) triggers a check at
 * once, and a periodic re-hash catches what events miss. A file drifts when its sha256, mode or owner
 * (uid:gid, when the agent runs as root and the item declares one) differs from the manifest, or when a
 * symlink took its place or one of its parents' (files are read with no symlink followed, safe-path.ts). The agent's own writes are never reported: they produce the expected hash, and while the
 * agent is writing (WriteGuard begin..end) checks wait for `end`, which re-checks. A file is watched for
 * drift only once the agent has converged it (after the first `end`); each distinct drifted state is
 * reported once, and a reported drift that is gone again (`onResolved`) once. The caller decides whether to
 * heal (`selfHeal`).
 */
import { closeSync, fstatSync, lstatSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ManifestConfigFile } from '../../src/protocol/manifest.js';
import { itemKey } from '../../src/protocol/manifest.js';
import type { WriteGuard } from './config-file.js';
import { type Clock, isoNow, type Logger, runningAsRoot, silentLogger } from './deps.js';
import { errorText, hasErrno, NotAFileError, SymlinkInPathError } from './errors.js';
import { sha256Hex } from './fs-util.js';
import { readOpenFile } from './local-fs.js';
import { type OwnerIds, resolveOwner, type UserDb } from './owner.js';
import { resolveManaged } from './paths.js';
import { assertNoSymlinks, managedBase, openNoFollowFd } from './safe-path.js';
import type { FileWatcher } from './shared-watcher.js';

/** Default period of the re-hash that catches changes the watcher missed. */
export const DEFAULT_REHASH_INTERVAL_MS = 30_000;
/**
 * A mismatch is re-read after this pause (up to DRIFT_SETTLE_ROUNDS times, until the file stops moving) so a
 * hand edit caught half-written (truncated, then written) is reported in its final state. Only a found drift
 * waits; the agent's own writes are suppressed by hash, not by timing.
 */
export const DRIFT_SETTLE_MS = 20;
const DRIFT_SETTLE_ROUNDS = 5;
/**
 * Re-checks after the agent's own writes that run at once. A converge of 200 files ends 200 guards together:
 * checked all at once they would fill the thread pool ahead of the manifest write and the report that
 * finish the apply; a few at a time, they follow it. Deferring only delays when an edit made during the
 * write is seen, never whether: each check compares the file as it is then.
 */
const POST_WRITE_CHECKS_AT_ONCE = 2;
const HASH_PREFIX_CHARS = 12;

export interface DriftReport {
  /** Item key, `ConfigFile/<name>`. */
  key: string;
  /** Managed path as the manifest names it. */
  path: string;
  /** Host path under the root. */
  absPath: string;
  expectedHash: string;
  /** '' when the file is gone. */
  observedHash: string;
  detectedAt: string;
  detail: string;
  /** `uid:gid` of the file found (absent when it is gone or a symlink stands in its place). */
  observedOwner?: string;
}

export interface DriftWatcherDeps {
  root: string;
  clock: Clock;
  logger?: Logger;
  files: FileWatcher;
  onDrift(report: DriftReport): void;
  /**
   * A file whose drift was reported matches the manifest again (put back by hand, or by the agent's own
   * heal): `key` is its item key. The caller decides whether that changes its report.
   */
  onResolved?(key: string): void;
  /** Default DEFAULT_REHASH_INTERVAL_MS; 0 disables the periodic re-hash. */
  rehashIntervalMs?: number;
  /** Waits between settle re-reads; default a real timer. */
  sleep?(ms: number): Promise<void>;
  /** The agent's state dir: managed paths inside it are never watched (the apply refuses them). */
  stateDir?: string;
  /** Whether owners are applied, hence watched; default `process.getuid() === 0`. */
  runningAsRoot?: boolean;
  userDb?: UserDb;
}

interface Observed {
  hash: string;
  mode: number;
  uid: number;
  gid: number;
  /** Set when a symlink stands at the path or one of its parents: the component that is a link. */
  link?: string;
}

interface Entry {
  key: string;
  item: ManifestConfigFile;
  absPath: string;
  armed: boolean;
  guards: number;
  /** `hash:mode` of the drifted state last reported (or baselined), null when in sync. */
  reported: string | null;
  fingerprint: string | undefined;
  last: Observed | undefined;
  /** The uid:gid the item's owner names, when owners are applied (resolved once per owner text). */
  owner: Promise<OwnerIds | undefined>;
  checking: Promise<void> | undefined;
  again: boolean;
  unregister: () => void;
  /** Whether the file watcher was reporting this file when the agent's current write began. */
  watchedAtBegin: boolean;
  /** Whether an event for this file came while the agent was writing it (its check waited for `end`). */
  heardWhileGuarded: boolean;
}

/** Short, readable description of how `obs` differs from `item`. */
export function driftDetail(
  item: Pick<ManifestConfigFile, 'contentHash' | 'mode' | 'owner'>,
  obs: Observed | undefined,
  want?: OwnerIds,
): string {
  if (!obs) return 'file deleted';
  if (obs.link !== undefined) return `replaced by a symlink (${obs.link})`;
  const parts: string[] = [];
  if (obs.hash !== item.contentHash) {
    parts.push(
      `content changed (sha256 ${obs.hash.slice(0, HASH_PREFIX_CHARS)}, manifest ${item.contentHash.slice(0, HASH_PREFIX_CHARS)})`,
    );
  }
  if (obs.mode !== item.mode) parts.push(`mode 0${obs.mode.toString(8)}, manifest 0${item.mode.toString(8)}`);
  if (want && (obs.uid !== want.uid || obs.gid !== want.gid)) {
    parts.push(`owner ${obs.uid}:${obs.gid}, manifest ${item.owner ?? ''} (${want.uid}:${want.gid})`);
  }
  return parts.join('; ');
}

/** True when `obs` is what `item` declares (content, mode, and owner when `want` is known). */
export function observedInSync(
  item: Pick<ManifestConfigFile, 'contentHash' | 'mode'>,
  obs: Observed | undefined,
  want: OwnerIds | undefined,
): boolean {
  return (
    obs !== undefined &&
    obs.link === undefined &&
    obs.hash === item.contentHash &&
    obs.mode === item.mode &&
    (want === undefined || (obs.uid === want.uid && obs.gid === want.gid))
  );
}

export class DriftWatcher implements WriteGuard {
  private readonly entries = new Map<string, Entry>();
  /** Files whose guard ended, waiting for their re-check (in order, each once). */
  private readonly postWrite = new Map<Entry, boolean>();
  private postWriteRunners = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: DriftWatcherDeps) {}

  /** Replaces the watched ConfigFiles; an item whose content hash or mode changed waits for its next converge. */
  setItems(items: readonly ManifestConfigFile[]): void {
    const next = new Map<string, ManifestConfigFile>();
    const stateDir = this.deps.stateDir ? managedStateDir(this.deps.stateDir) : undefined;
    for (const item of items) {
      try {
        const abs = resolveManaged(this.deps.root, item.path);
        // The agent's own files are not ConfigFiles' to manage (the apply refuses them), nor to hash.
        if (stateDir && (abs === stateDir || abs.startsWith(`${stateDir}/`))) continue;
        next.set(abs, item);
      } catch (err) {
        this.logger.warn('drift: not watching an invalid path', { path: item.path, err: errorText(err) });
      }
    }
    for (const [abs, e] of this.entries) {
      if (next.has(abs)) continue;
      e.unregister();
      this.entries.delete(abs);
    }
    for (const [absPath, item] of next) {
      const e = this.entries.get(absPath);
      if (e) {
        if (
          e.item.contentHash !== item.contentHash ||
          e.item.mode !== item.mode ||
          e.item.owner !== item.owner
        ) {
          e.armed = false;
          e.reported = null;
        }
        if (e.item.owner !== item.owner) e.owner = this.wantOwner(item);
        e.item = item;
        e.key = itemKey(item);
        continue;
      }
      const entry: Entry = {
        key: itemKey(item),
        item,
        absPath,
        armed: false,
        guards: 0,
        reported: null,
        fingerprint: undefined,
        last: undefined,
        owner: this.wantOwner(item),
        checking: undefined,
        again: false,
        unregister: () => undefined,
        watchedAtBegin: false,
        heardWhileGuarded: false,
      };
      this.entries.set(absPath, entry);
      entry.unregister = this.deps.files.register(absPath, () => {
        if (entry.guards > 0) entry.heardWhileGuarded = true;
        this.check(entry, false).catch((err: unknown) => this.logFailure('drift: check failed', err));
      });
    }
  }

  /** WriteGuard: the agent starts writing `absPath`; checks of it wait. */
  begin(absPath: string): void {
    const e = this.entries.get(absPath);
    if (!e) return;
    if (e.guards === 0) {
      e.watchedAtBegin = this.deps.files.isWatching(absPath);
      e.heardWhileGuarded = false;
    }
    e.guards += 1;
  }

  /**
   * WriteGuard: the agent is done with `absPath`; arms it and re-checks (silently when the apply failed).
   * After a good write to a file that was watched throughout with no event heard meanwhile, the re-check is
   * left to the event the write itself raises (the rename into the directory, the chmod), which arrives
   * after this: one check per write, not two. A write that changed nothing raises no event and needs no
   * check: an edit by anyone else meanwhile would have been heard.
   */
  end(absPath: string, ok: boolean): void {
    const e = this.entries.get(absPath);
    if (!e) return;
    e.guards = Math.max(0, e.guards - 1);
    if (e.guards > 0) return;
    e.armed = true;
    if (ok && e.watchedAtBegin && !e.heardWhileGuarded && !this.postWrite.has(e)) return;
    // An earlier pending re-check of a failed write stays silent only if this one is silent too.
    this.postWrite.set(e, (this.postWrite.get(e) ?? true) && !ok);
    while (this.postWriteRunners < POST_WRITE_CHECKS_AT_ONCE) {
      this.postWriteRunners += 1;
      setImmediate(() => {
        this.drainPostWrite().catch((err: unknown) => this.logFailure('drift: re-check failed', err));
      });
    }
  }

  private async drainPostWrite(): Promise<void> {
    try {
      for (let next = this.postWrite.entries().next(); !next.done; next = this.postWrite.entries().next()) {
        const [e, silent] = next.value;
        this.postWrite.delete(e);
        if (this.entries.get(e.absPath) !== e) continue;
        this.deps.files.refresh(e.absPath);
        await this.check(e, silent);
      }
    } finally {
      this.postWriteRunners -= 1;
    }
  }

  /**
   * Arms every file not armed yet (at agent start: files an earlier run converged, which no converge will
   * re-arm while the held manifest stays current). With `report`, a difference found now is drift (an edit
   * made while the agent was down); without, it is taken as the baseline.
   */
  armAll(report: boolean): Promise<void> {
    const checks: Promise<void>[] = [];
    for (const e of this.entries.values()) {
      if (e.armed || e.guards > 0) continue;
      e.armed = true;
      this.deps.files.refresh(e.absPath);
      checks.push(this.check(e, !report));
    }
    return Promise.all(checks).then(() => undefined);
  }

  /** Re-hashes every armed file now (what the periodic timer does). */
  async checkAll(): Promise<void> {
    await Promise.all(
      [...this.entries.values()].map((e) => {
        this.deps.files.refresh(e.absPath);
        return this.check(e, false);
      }),
    );
  }

  /** Starts the periodic re-hash. */
  start(): void {
    const every = this.deps.rehashIntervalMs ?? DEFAULT_REHASH_INTERVAL_MS;
    if (every <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      this.checkAll().catch((err: unknown) => this.logFailure('drift: re-hash failed', err));
    }, every);
    this.timer.unref();
  }

  /** Stops the timer and unregisters every file. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const pending = [...this.entries.values()].map((e) => e.checking);
    for (const e of this.entries.values()) e.unregister();
    this.entries.clear();
    await Promise.all(pending);
  }

  private sleep(ms: number): Promise<void> {
    return this.deps.sleep ? this.deps.sleep(ms) : new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** The ids an item's owner names, or undefined when owners are not applied or the name is unknown. */
  private wantOwner(item: ManifestConfigFile): Promise<OwnerIds | undefined> {
    if (item.owner === undefined || !(this.deps.runningAsRoot ?? runningAsRoot())) {
      return Promise.resolve(undefined);
    }
    return resolveOwner(item.owner, this.deps.userDb).catch((err: unknown) => {
      // The apply reports the unknown owner as a failure; drift then watches content and mode only.
      this.logger.warn('drift: owner not resolved', { path: item.path, err: errorText(err) });
      return undefined;
    });
  }

  private logFailure(msg: string, err: unknown): void {
    this.logger.error(msg, { err: errorText(err) });
  }

  private get logger(): Logger {
    return this.deps.logger ?? silentLogger;
  }

  /** Runs a check, or queues one more if a check of this file is in progress. */
  private check(e: Entry, silent: boolean): Promise<void> {
    if (e.checking) {
      e.again = true;
      return e.checking;
    }
    e.checking = (async () => {
      try {
        let quiet = silent;
        do {
          e.again = false;
          await this.checkOnce(e, quiet);
          quiet = false;
        } while (e.again);
      } catch (err) {
        this.logger.warn('drift: check failed', { path: e.item.path, err: errorText(err) });
      } finally {
        e.checking = undefined;
      }
    })();
    return e.checking;
  }

  private async checkOnce(e: Entry, silent: boolean): Promise<void> {
    if (!e.armed || e.guards > 0) return;
    const { contentHash } = e.item;
    const want = await e.owner;
    const inSync = (o: Observed | undefined) => observedInSync(e.item, o, want);
    let obs = await this.observe(e);
    for (let round = 0; round < DRIFT_SETTLE_ROUNDS && !inSync(obs); round++) {
      const before = e.fingerprint;
      await this.sleep(DRIFT_SETTLE_MS);
      obs = await this.observe(e);
      if (e.fingerprint === before) break;
    }
    if (!e.armed || e.guards > 0 || this.entries.get(e.absPath) !== e) return;
    if (inSync(obs)) {
      const wasReported = e.reported !== null;
      e.reported = null;
      if (wasReported && !silent) this.deps.onResolved?.(e.key);
      return;
    }
    const state = obs ? `${obs.link ?? obs.hash}:${obs.mode}:${obs.uid}:${obs.gid}` : 'absent';
    if (e.reported === state) return;
    e.reported = state;
    if (silent) return;
    this.deps.onDrift({
      key: e.key,
      path: e.item.path,
      absPath: e.absPath,
      expectedHash: contentHash,
      observedHash: obs?.hash ?? '',
      detectedAt: isoNow(this.deps.clock),
      detail: driftDetail(e.item, obs, want),
      ...(obs && obs.link === undefined ? { observedOwner: `${obs.uid}:${obs.gid}` } : {}),
    });
  }

  /**
   * Hash, mode and owner of the file; re-hashed only when its stat fingerprint moved (ctime cannot be set
   * back). Nothing is read through a symlink: one at the path or a parent is itself the observed state.
   */
  private async observe(e: Entry): Promise<Observed | undefined> {
    let fp: string;
    let fileMode: number;
    let uid: number;
    let gid: number;
    try {
      // The parents, then the file's own lstat, which also tells whether a symlink stands at the path.
      await assertNoSymlinks(e.item.path, managedBase(this.deps.root), dirname(e.absPath));
      const st = lstatSync(e.absPath, { bigint: true });
      if (st.isSymbolicLink()) throw new SymlinkInPathError(e.item.path, e.absPath);
      fileMode = Number(st.mode & 0o7777n);
      uid = Number(st.uid);
      gid = Number(st.gid);
      fp = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${fileMode}:${uid}:${gid}`;
    } catch (err) {
      if (err instanceof SymlinkInPathError) {
        e.fingerprint = undefined;
        e.last = { hash: '', mode: 0, uid: -1, gid: -1, link: err.component };
        return e.last;
      }
      if (hasErrno(err, 'ENOENT') || hasErrno(err, 'ENOTDIR')) {
        e.fingerprint = undefined;
        e.last = undefined;
        return undefined;
      }
      throw err;
    }
    if (fp === e.fingerprint && e.last) return e.last;
    const fd = openNoFollowFd(e.item.path, e.absPath);
    try {
      const opened = fstatSync(fd);
      if (!opened.isFile()) throw new NotAFileError(e.absPath);
      const content = readOpenFile(fd, opened.size);
      e.fingerprint = fp;
      e.last = { hash: sha256Hex(content), mode: fileMode, uid, gid };
      return e.last;
    } finally {
      closeSync(fd);
    }
  }
}

/** The state dir as managed paths are compared with it (resolved, absolute). */
function managedStateDir(stateDir: string): string {
  return resolve(stateDir);
}
