/**
 * One chokidar watcher shared by every registrant in the process (many simulated agents), keyed by absolute
 * file path. It watches each file's parent directory as well as the file, so a file that is deleted and
 * re-created, or replaced by rename, keeps being seen. A file whose directory does not exist yet is picked up
 * by `refresh` once it does.
 *
 * Directories are watched with a bare `fs.watch` (one inotify watch, events name the entry), not through
 * chokidar: chokidar re-reads and lstat()s a whole watched directory after every event in it, so writing n
 * managed files into one directory cost O(n²) lstat calls (seconds for a few hundred files).
 */
import { type FSWatcher as DirWatcher, existsSync, watch as watchDir } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import { type Logger, silentLogger } from './deps.js';
import { errorText } from './errors.js';

export type FileEvent = 'add' | 'change' | 'unlink';
export type FileListener = (event: FileEvent, absPath: string) => void;

/** What a DriftWatcher needs from a file watcher (tests pass one that never fires). */
export interface FileWatcher {
  /** Calls `listener` on events for `absPath`; returns the unregister function. */
  register(absPath: string, listener: FileListener): () => void;
  /** Starts watching `absPath` if its directory appeared since it was registered. */
  refresh(absPath: string): void;
}

export class SharedFileWatcher implements FileWatcher {
  private fsw: FSWatcher | undefined;
  private readonly listeners = new Map<string, Set<FileListener>>();
  /** Registered files per directory. */
  private readonly dirRefs = new Map<string, number>();
  private readonly watchedDirs = new Map<string, DirWatcher>();
  /** Files handed to chokidar (so the periodic refresh does not re-add them). */
  private readonly added = new Set<string>();

  constructor(private readonly logger: Logger = silentLogger) {}

  /** Number of files registered (tests and metrics). */
  get size(): number {
    return this.listeners.size;
  }

  /** True once chokidar is really watching `absPath` (events before that are missed; the re-hash covers them). */
  isWatching(absPath: string): boolean {
    const watched = this.fsw?.getWatched() ?? {};
    return watched[dirname(absPath)]?.includes(basename(absPath)) ?? false;
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

  /** Starts watching `absPath` (and its directory) if they now exist. */
  refresh(absPath: string): void {
    if (!this.listeners.has(absPath)) return;
    const dir = dirname(absPath);
    const fsw = this.watcher();
    if (!this.watchedDirs.has(dir) && existsSync(dir)) this.watchDirectory(dir);
    if (!this.added.has(absPath) && existsSync(absPath)) {
      this.added.add(absPath);
      fsw.add(absPath);
    }
  }

  /** Closes the underlying watcher. */
  async close(): Promise<void> {
    const fsw = this.fsw;
    this.fsw = undefined;
    this.listeners.clear();
    this.dirRefs.clear();
    for (const w of this.watchedDirs.values()) w.close();
    this.watchedDirs.clear();
    this.added.clear();
    await fsw?.close();
  }

  private unregister(absPath: string, listener: FileListener): void {
    const set = this.listeners.get(absPath);
    if (!set?.delete(listener) || set.size > 0) return;
    this.listeners.delete(absPath);
    this.added.delete(absPath);
    this.fsw?.unwatch(absPath);
    const dir = dirname(absPath);
    const refs = (this.dirRefs.get(dir) ?? 1) - 1;
    if (refs > 0) {
      this.dirRefs.set(dir, refs);
      return;
    }
    this.dirRefs.delete(dir);
    this.watchedDirs.get(dir)?.close();
    this.watchedDirs.delete(dir);
  }

  /** Watches `dir` for entries created, deleted, renamed or changed; only registered files are reported. */
  private watchDirectory(dir: string): void {
    let w: DirWatcher;
    try {
      w = watchDir(dir, { persistent: false }, (_event, name) => {
        if (!name) return;
        const path = join(dir, name.toString());
        if (!this.listeners.has(path)) return;
        // Re-created or replaced by rename: chokidar's watch of the old file is stale; watch the new one.
        if (this.added.has(path) && !existsSync(path)) {
          this.added.delete(path);
          this.fsw?.unwatch(path);
        } else if (!this.added.has(path)) this.refresh(path);
        this.emit('change', path);
      });
    } catch (err) {
      this.logger.warn('file watcher error', { dir, err: errorText(err) });
      return;
    }
    w.on('error', (err) => {
      // The directory went away: forget it, so the next refresh watches it again once it is back.
      this.logger.debug('directory watch ended', { dir, err: errorText(err) });
      w.close();
      if (this.watchedDirs.get(dir) === w) this.watchedDirs.delete(dir);
    });
    this.watchedDirs.set(dir, w);
  }

  private emit(event: FileEvent, absPath: string): void {
    for (const l of this.listeners.get(absPath) ?? []) l(event, absPath);
  }

  private watcher(): FSWatcher {
    if (this.fsw) return this.fsw;
    // No awaitWriteFinish: a prompt report matters more than waiting for writers to settle.
    const fsw = watch([], {
      ignoreInitial: true,
      depth: 0,
      ignored: (p: string) => !this.listeners.has(p),
    });
    fsw.on('all', (event, path) => {
      // chokidar drops its watch of an unlinked file: let the next refresh add it back once it exists.
      if (event === 'unlink') this.added.delete(path);
      if (event === 'add' || event === 'change' || event === 'unlink') this.emit(event, path);
    });
    // chokidar drops a chmod (no mtime change) once the file was read since; the raw inotify event still comes.
    fsw.on('raw', (_event, name, details) => {
      const watched = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
      if (typeof watched !== 'string') return;
      if (this.listeners.has(watched)) this.emit('change', watched);
      else if (this.watchedDirs.has(watched) && name) this.emit('change', join(watched, name));
    });
    fsw.on('error', (err) => this.logger.warn('file watcher error', { err: errorText(err) }));
    this.fsw = fsw;
    return fsw;
  }
}
