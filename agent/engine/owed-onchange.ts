/**
 * The ConfigFiles whose onChange is owed: it was due (the file changed) and has not yet succeeded. Marked
 * durably before the scripts run and cleared when one exits 0, so a script that failed, or was cut short
 * by the agent's death, runs again on the next converge instead of the item quietly turning Synced because
 * the file on disk already matches.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hasErrno } from './errors.js';
import { writeFileAtomic } from './fs-util.js';
import { makePrivateDir } from './private-fs.js';

interface OwedFile {
  version: 1;
  items: string[];
}

export class OwedOnChanges {
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    readonly file: string,
    private owed: Set<string>,
  ) {}

  /** Loads the ledger (empty when the file is absent). */
  static async open(file: string): Promise<OwedOnChanges> {
    await makePrivateDir(dirname(file));
    let items: string[] = [];
    try {
      const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
      const list = (parsed as Partial<OwedFile> | null)?.items;
      if (Array.isArray(list)) items = list.filter((k): k is string => typeof k === 'string');
    } catch (err) {
      if (!hasErrno(err, 'ENOENT')) throw err;
    }
    return new OwedOnChanges(file, new Set(items));
  }

  /** True when item `key`'s onChange is owed. */
  has(key: string): boolean {
    return this.owed.has(key);
  }

  /** The owed item keys (a snapshot). */
  keys(): ReadonlySet<string> {
    return new Set(this.owed);
  }

  /** Replaces the owed set; one durable write, none when nothing changed. */
  set(keys: Iterable<string>): Promise<void> {
    const next = new Set(keys);
    if (next.size === this.owed.size && [...next].every((k) => this.owed.has(k))) return this.writes;
    this.owed = next;
    const body: OwedFile = { version: 1, items: [...next].sort() };
    const write = this.writes.then(() =>
      writeFileAtomic(this.file, `${JSON.stringify(body, null, 2)}\n`, 0o600),
    );
    this.writes = write.catch(() => undefined);
    return write;
  }
}
