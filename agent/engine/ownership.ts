/**
 * The managed paths this agent created (they did not exist before it wrote them), persisted in the state
 * dir: only those may be pruned, so a file the operator had before the agent arrived is never deleted.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hasErrno } from './errors.js';
import { writeFileAtomic } from './fs-util.js';
import { makePrivateDir } from './private-fs.js';

interface OwnershipFile {
  version: 1;
  paths: string[];
}

export class OwnershipLedger {
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    readonly file: string,
    private readonly owned: Set<string>,
  ) {}

  /** Loads the ledger (empty when the file is absent). */
  static async open(file: string): Promise<OwnershipLedger> {
    await makePrivateDir(dirname(file));
    let paths: string[] = [];
    try {
      const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
      const list = (parsed as Partial<OwnershipFile> | null)?.paths;
      if (Array.isArray(list)) paths = list.filter((p): p is string => typeof p === 'string');
    } catch (err) {
      if (!hasErrno(err, 'ENOENT')) throw err;
    }
    return new OwnershipLedger(file, new Set(paths));
  }

  /** True when the agent created managed path `path`. */
  has(path: string): boolean {
    return this.owned.has(path);
  }

  /** The owned managed paths (a snapshot). */
  paths(): ReadonlySet<string> {
    return new Set(this.owned);
  }

  /** Records that the agent created `path`; durable when it resolves. */
  add(path: string): Promise<void> {
    if (this.owned.has(path)) return this.writes;
    this.owned.add(path);
    return this.persist();
  }

  /** Records several created paths in one durable write (a converge declares its new files up front). */
  addAll(paths: Iterable<string>): Promise<void> {
    let added = false;
    for (const p of paths) {
      if (this.owned.has(p)) continue;
      this.owned.add(p);
      added = true;
    }
    return added ? this.persist() : this.writes;
  }

  /** Forgets `path` (after pruning it); durable when it resolves. */
  remove(path: string): Promise<void> {
    if (!this.owned.delete(path)) return this.writes;
    return this.persist();
  }

  /** Forgets several paths in one durable write (creations that failed in a batch). */
  removeAll(paths: Iterable<string>): Promise<void> {
    let removed = false;
    for (const p of paths) removed = this.owned.delete(p) || removed;
    return removed ? this.persist() : this.writes;
  }

  private persist(): Promise<void> {
    const body: OwnershipFile = { version: 1, paths: [...this.owned].sort() };
    const next = this.writes.then(() =>
      writeFileAtomic(this.file, `${JSON.stringify(body, null, 2)}\n`, 0o600),
    );
    this.writes = next.catch(() => undefined);
    return next;
  }
}
