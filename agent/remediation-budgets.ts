/**
 * The remediation budgets of this host, kept in `<stateDir>/remediation-budgets.json` (0600, written
 * atomically): each Remediation's last start and its starts in the last hour, so a restarted agent keeps
 * its cooldowns and hourly budgets. A Remediation that leaves the manifest is forgotten.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type BudgetState, EMPTY_BUDGET } from '../src/kernel/index.js';
import { hasErrno } from './engine/errors.js';
import { writeFileAtomic } from './engine/fs-util.js';
import { makePrivateDir } from './engine/private-fs.js';

interface BudgetFile {
  version: 1;
  /** Item key (`Remediation/name`) -> its budget. */
  budgets: Record<string, BudgetState>;
}

function isBudget(v: unknown): v is BudgetState {
  const b = v as Partial<BudgetState> | null;
  return (
    typeof b === 'object' &&
    b !== null &&
    typeof b.lastStartAt === 'number' &&
    Array.isArray(b.starts) &&
    b.starts.every((t) => typeof t === 'number')
  );
}

export class RemediationBudgets {
  /** The last write started or queued (settled either way): the next one waits for it. */
  private inFlight: Promise<void> = Promise.resolve();
  /** A write queued behind `inFlight` that has not taken its snapshot yet: later changes join it. */
  private queued: Promise<void> | undefined;

  private constructor(
    readonly file: string,
    private readonly budgets: Map<string, BudgetState>,
  ) {}

  /** Loads the file (empty when absent; entries that are not budgets are dropped). */
  static async open(file: string): Promise<RemediationBudgets> {
    await makePrivateDir(dirname(file));
    const budgets = new Map<string, BudgetState>();
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<BudgetFile> | null;
      for (const [key, b] of Object.entries(parsed?.budgets ?? {})) if (isBudget(b)) budgets.set(key, b);
    } catch (err) {
      // A torn or foreign file must not stop the agent: start with empty budgets (written over on next start).
      if (hasErrno(err, 'ENOENT') || err instanceof SyntaxError) return new RemediationBudgets(file, budgets);
      throw err;
    }
    return new RemediationBudgets(file, budgets);
  }

  /** The budget of item `key` (empty when none is recorded). */
  get(key: string): BudgetState {
    return this.budgets.get(key) ?? EMPTY_BUDGET;
  }

  /** Records item `key`'s budget; resolves once it is on disk. */
  set(key: string, state: BudgetState): Promise<void> {
    this.budgets.set(key, state);
    return this.write();
  }

  /** Forgets every item not in `keys` (it left the manifest); no write when nothing goes. */
  retain(keys: ReadonlySet<string>): Promise<void> {
    const gone = [...this.budgets.keys()].filter((k) => !keys.has(k));
    if (gone.length === 0) return this.inFlight;
    for (const k of gone) this.budgets.delete(k);
    return this.write();
  }

  /**
   * Group commit: one write at a time, and every change made while one is in flight goes out in the single
   * write queued behind it (its snapshot is taken when it starts), so a storm of decisions costs a few
   * fsyncs, not one each. Resolves once a write holding this call's changes is on disk.
   */
  private write(): Promise<void> {
    if (this.queued) return this.queued;
    const write = this.inFlight.then(() => {
      this.queued = undefined;
      return writeFileAtomic(this.file, this.serialize(), 0o600);
    });
    this.queued = write;
    this.inFlight = write.catch(() => undefined);
    return write;
  }

  private serialize(): string {
    // Starts are pruned to the last hour by each decision (decideBudget), so the file stays small.
    const budgets: Record<string, BudgetState> = {};
    for (const [k, b] of [...this.budgets].sort(([a], [c]) => a.localeCompare(c))) budgets[k] = b;
    const body: BudgetFile = { version: 1, budgets };
    return `${JSON.stringify(body, null, 2)}\n`;
  }
}
