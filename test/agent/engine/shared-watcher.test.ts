import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SharedFileWatcher } from '../../../agent/engine/shared-watcher.js';
import { type Sandbox, sandbox, waitFor } from './helpers.js';

/** Real inotify watches on a temp dir: what each change to a registered file tells its listeners. */
describe('SharedFileWatcher', () => {
  let box: Sandbox;
  let files: SharedFileWatcher;
  let dir: string;
  let file: string;
  let seen: string[];
  beforeEach(async () => {
    box = await sandbox('gse-watch-');
    files = new SharedFileWatcher();
    dir = join(box.dir, 'etc');
    file = join(dir, 'app.conf');
    await mkdir(dir);
    await writeFile(file, 'one\n');
    seen = [];
  });
  afterEach(async () => {
    await files.close();
    await box.cleanup();
  });

  const count = () => seen.filter((p) => p === file).length;
  /** Runs `change` and waits until the listener heard of `file` once more than before. */
  const heard = async (what: string, change: () => Promise<unknown>) => {
    const before = count();
    await change();
    await waitFor(() => count() > before, what);
  };

  it('reports a write, a chmod, a replace by rename and a deletion of the registered file', async () => {
    files.register(file, (_e, p) => seen.push(p));
    expect(files.isWatching(file)).toBe(true);
    await heard('the write', () => writeFile(file, 'two\n'));
    await heard('the chmod', () => chmod(file, 0o600));
    const temp = join(dir, '.app.conf.tmp');
    await writeFile(temp, 'three\n');
    await heard('the rename over it', () => rename(temp, file));
    // Still heard after the replace: the watch is on the directory, not the old inode.
    await heard('a write to the new file', () => writeFile(file, 'four\n'));
    await heard('the deletion', () => rm(file));
    await heard('the file created again', () => writeFile(file, 'five\n'));
  });

  it('reports nothing of other files in the same directory', async () => {
    files.register(file, (_e, p) => seen.push(p));
    const other = join(dir, 'other.conf');
    await writeFile(other, 'x\n');
    await heard('the registered file', () => writeFile(file, 'two\n'));
    expect(seen.every((p) => p === file)).toBe(true);
  });

  it('keeps reporting a file whose directory was removed and made again', async () => {
    files.register(file, (_e, p) => seen.push(p));
    await heard('the removal', () => rm(dir, { recursive: true }));
    await mkdir(dir);
    await writeFile(file, 'back\n');
    // Whether or not the events raced the mkdir, a refresh (what the drift watcher does after each write and
    // re-hash) watches the new directory.
    await waitFor(() => {
      files.refresh(file);
      return files.isWatching(file);
    }, 'the new directory to be watched');
    await heard('a write in the new directory', () => writeFile(file, 'again\n'));
  });

  it('stops reporting a file once every listener unregistered, and closes the directory watch', async () => {
    const off = files.register(file, (_e, p) => seen.push(p));
    off();
    expect(files.isWatching(file)).toBe(false);
    await writeFile(file, 'two\n');
    await new Promise((r) => setTimeout(r, 100));
    expect(count()).toBe(0);
  });

  it('picks up a file registered before its directory existed, on refresh', async () => {
    const later = join(box.dir, 'opt', 'app', 'x.conf');
    files.register(later, (_e, p) => seen.push(p));
    expect(files.isWatching(later)).toBe(false);
    await mkdir(join(box.dir, 'opt', 'app'), { recursive: true });
    files.refresh(later);
    expect(files.isWatching(later)).toBe(true);
    const before = seen.length;
    await writeFile(later, 'x\n');
    await waitFor(() => seen.length > before && seen.at(-1) === later, 'the new file');
  });
});
