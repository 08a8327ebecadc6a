/**
 * One file watcher shared by every registrant in the process (many simulated agents), keyed by absolute file
 * path. It watches each registered file's parent directory with a bare `fs.watch` (one inotify watch per
 * directory): a directory watch reports every entry of it by name, for a write (IN_MODIFY), a chmod or chown
 * (IN_ATTRIB), a create, a delete and a rename over it, so a file deleted and re-created, or replaced by
 * rename, keeps being seen with no re-registration. A file whose directory does not exist yet is picked up by
 * `refresh` once it does.
 *
 * No watch of the file itself (chokidar was used for it): inotify tells a directory of changes made through
 * its own entries, so a write through a hard link in another directory is not seen at once (the drift
 * watcher's periodic re-hash finds it). In exchange, every replace by rename, which the agent does on every
 * write, needed chokidar to drop and re-add its watch of the new file (stat, inotify_rm_watch,
 * inotify_add_watch, a readdir), and every event cost a stat: about a fifth of a simulated agent's CPU
 * per applied file. chokidar also re-reads and lstat()s a whole watched directory after every event in it,
 * so writing n files into one directory cost O(n²) lstat calls.
 */
import { type FSWatcher as DirWatcher, existsSync, statSync, watch as watchDir } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type Logger, silentLogger } from './deps.js';
import { errorText } from './errors.js';

export type FileEvent = 'change';
export type FileListener = (event: FileEvent, absPath: string) => void;

/** What a DriftWatcher needs from a file watcher (tests pass one that never fires). */
export interface FileWatcher {
  /** Calls `listener` on events for `absPath`; returns the unregister function. */
  register(absPath: string, listener: FileListener): () => void;
  /** Starts watching `absPath` if its directory appeared since it was registered. */
  refresh(absPath: string): void;
  /** True when a change made to `absPath` now will be reported (it is registered and its directory watched). */
  isWatching(absPath: string): boolean;
}

export class SharedFileWatcher implements FileWatcher {
  private readonly listeners = new Map<string, Set<FileListener>>();
  /** Registered files per directory. */
  private readonly dirRefs = new Map<string, number>();
  private readonly watchedDirs = new Map<string, { watcher: DirWatcher; ino: number }>();

  constructor(private readonly logger: Logger = silentLogger) {}

  /** Number of files registered (tests and metrics). */
  get size(): number {
    return this.listeners.size;
  }

  /** True once `absPath`'s directory is watched (events before that are missed; the re-hash covers them). */
  isWatching(absPath: string): boolean {
    return this.listeners.has(absPath) && this.watchedDirs.has(dirname(absPath));
  }

  /** Watches `absPath` for `listener`; returns the unregister function. */
  register(absPath: string, listener: FileListener): () => void {
    let set = this.listeners.get(absPath);
    if (!set) {
      set = new Set();
      this.listeners.set(absPath, set);
      const dir = dirname(absPath);
      this.dirRefs.set(dir, (this.dirRefs.get(dir) ?? 0) + 1);
    }
    set.add(listener);
    this.refresh(absPath);
    return () => this.unregister(absPath, listener);
  }

  /** Starts watching `absPath`'s directory if it now exists. */
  refresh(absPath: string): void {
    if (!this.listeners.has(absPath)) return;
    const dir = dirname(absPath);
    if (!this.watchedDirs.has(dir) && existsSync(dir)) this.watchDirectory(dir);
  }

  /** Closes every directory watch. */
  async close(): Promise<void> {
    this.listeners.clear();
    this.dirRefs.clear();
    for (const w of this.watchedDirs.values()) w.watcher.close();
    this.watchedDirs.clear();
  }

  private unregister(absPath: string, listener: FileListener): void {
    const set = this.listeners.get(absPath);
    if (!set?.delete(listener) || set.size > 0) return;
    this.listeners.delete(absPath);
    const dir = dirname(absPath);
    const refs = (this.dirRefs.get(dir) ?? 1) - 1;
    if (refs > 0) {
      this.dirRefs.set(dir, refs);
      return;
    }
    this.dirRefs.delete(dir);
    this.dropDirectory(dir);
  }

  /** Watches `dir` for entries created, deleted, renamed or changed; only registered files are reported. */
  private watchDirectory(dir: string): void {
    let watcher: DirWatcher;
    let ino: number;
    try {
      ino = statSync(dir).ino;
      watcher = watchDir(dir, { persistent: false }, (_event, name) => {
        if (!name) return;
        const entry = name.toString();
        // The directory itself was removed or moved away: its watch follows the old inode, so watch the path
        // again if a new directory stands there (its files are new too), or leave it to the next refresh.
        if (entry === basename(dir) && this.replaced(dir)) {
          this.dropDirectory(dir);
          this.rewatch(dir);
        }
        this.emit(join(dir, entry));
      });
    } catch (err) {
      this.logger.warn('file watcher error', { dir, err: errorText(err) });
      return;
    }
    watcher.on('error', (err) => {
      this.logger.debug('directory watch ended', { dir, err: errorText(err) });
      if (this.watchedDirs.get(dir)?.watcher === watcher) this.dropDirectory(dir);
      else watcher.close();
    });
    this.watchedDirs.set(dir, { watcher, ino });
  }

  /** True when the directory watched at `dir` is no longer the one there (gone, or another inode). */
  private replaced(dir: string): boolean {
    const watched = this.watchedDirs.get(dir);
    if (!watched) return false;
    try {
      return statSync(dir).ino !== watched.ino;
    } catch {
      return true;
    }
  }

  /** Watches `dir` again if it exists, and tells every file registered in it to be checked. */
  private rewatch(dir: string): void {
    if (!this.dirRefs.has(dir) || !existsSync(dir)) return;
    this.watchDirectory(dir);
    for (const path of this.listeners.keys()) if (dirname(path) === dir) this.emit(path);
  }

  private dropDirectory(dir: string): void {
    this.watchedDirs.get(dir)?.watcher.close();
    this.watchedDirs.delete(dir);
  }

  private emit(absPath: string): void {
    const set = this.listeners.get(absPath);
    if (!set) return;
    for (const l of set) l('change', absPath);
  }
}
