/**
 * Remediations on the host: when an event matches a Remediation in the manifest, decide (concurrency on
 * this host, cooldown, hourly budget; see decideBudget) and run its script, or record why not. Budgets are
 * durable (RemediationBudgets), and every decision — ran, skipped, dry run — goes to the controller as an
 * execResult carrying the chain (event, rule, revision, decision), through the outbox like any result.
 */
import { randomUUID } from 'node:crypto';
import { type BudgetDecision, decideBudget } from '../src/kernel/index.js';
import { itemKey, type ManifestItem, type ManifestRemediation } from '../src/protocol/manifest.js';
import type { ExecResultMessage, HostEvent, SpooledMessage } from '../src/protocol/messages.js';
import type { Clock, ExecOutcome, ExecSpec } from './engine/index.js';
import type { RemediationBudgets } from './remediation-budgets.js';

export interface RemediationDeps {
  clock: Clock;
  budgets: RemediationBudgets;
  run(spec: ExecSpec): Promise<ExecOutcome>;
  emit(msg: SpooledMessage): Promise<void>;
}

/** True when the event is the one the remediation waits for and every `match` field equals the event's. */
export function remediationMatches(rem: Pick<ManifestRemediation, 'on'>, event: HostEvent): boolean {
  if (rem.on.event !== event.type) return false;
  return Object.entries(rem.on.match ?? {}).every(([k, v]) => event.fields[k] === v);
}

/** The outcome recorded for a decision that ran nothing (a skip, or a dry run saying what it would run). */
export function notRunOutcome(now: number, stdoutTail: string, stderrTail: string): ExecOutcome {
  return {
    exitCode: null,
    signal: null,
    stdoutTail,
    stderrTail,
    startedAt: new Date(now).toISOString(),
    durationMs: 0,
    timedOut: false,
    killed: false,
  };
}

export class RemediationRunner {
  private items: ManifestRemediation[] = [];
  private revision = '';
  /** Runs in progress per item key (maxConcurrent on this host). */
  private readonly running = new Map<string, number>();

  constructor(private readonly deps: RemediationDeps) {}

  /** The Remediations of the manifest now held; budgets of those that left it are forgotten. */
  async setItems(items: ManifestItem[], revision: string): Promise<void> {
    this.items = items.filter((i): i is ManifestRemediation => i.kind === 'Remediation');
    this.revision = revision;
    await this.deps.budgets.retain(new Set(this.items.map(itemKey)));
  }

  /** Decides every remediation the event triggers; each decision is emitted as an execResult. */
  async onEvent(event: HostEvent): Promise<void> {
    await Promise.all(
      this.items.filter((r) => remediationMatches(r, event)).map((r) => this.trigger(r, event)),
    );
  }

  private async trigger(rem: ManifestRemediation, event: HostEvent): Promise<void> {
    const key = itemKey(rem);
    const now = this.deps.clock.now();
    const revision = this.revision;
    // Decided and recorded in memory with no await in between, so two events cannot both take the last slot
    // (a run holds its slot from the decision on, not from when its start is on disk).
    const verdict = decideBudget(rem, this.deps.budgets.get(key), this.running.get(key) ?? 0, now);
    const stored = this.deps.budgets.set(key, verdict.next);
    if (verdict.decision === 'ran') this.running.set(key, (this.running.get(key) ?? 0) + 1);
    // One task per (remediation, event): a re-delivered event after a restart does not run it twice.
    const taskId = `remediation:${key}@${event.time}@${event.resource ?? ''}`;
    const reason = `remediation:${key}`;
    const chain = (decision: BudgetDecision, detail?: string): ExecResultMessage['remediation'] => ({
      name: rem.name,
      itemHash: rem.hash,
      revision,
      decision,
      event,
      ...(detail ? { detail } : {}),
    });
    let outcome: ExecOutcome;
    let remediation: ExecResultMessage['remediation'];
    if (verdict.decision === 'dryRun') {
      const would = `dry run: would run: ${rem.run.script}`;
      outcome = notRunOutcome(now, `${would}\n`, '');
      remediation = chain('dryRun', would);
    } else if (verdict.decision !== 'ran') {
      outcome = notRunOutcome(now, '', '');
      remediation = chain(verdict.decision, verdict.detail);
    } else {
      try {
        // The start is on disk before the script runs: an agent killed mid-run still counts it.
        await stored;
        outcome = await this.deps.run({
          taskId,
          script: rem.run.script,
          timeoutMs: rem.run.timeoutMs,
          ...(rem.run.interpreter ? { interpreter: rem.run.interpreter } : {}),
          ...(rem.run.runAs ? { runAs: rem.run.runAs } : {}),
          env: { ...(rem.run.env ?? {}), GSE_EVENT: event.type, GSE_EVENT_RESOURCE: event.resource ?? '' },
        });
      } finally {
        this.running.set(key, (this.running.get(key) ?? 1) - 1);
      }
      remediation = chain('ran');
    }
    await stored;
    await this.deps.emit({
      v: 1,
      type: 'execResult',
      id: randomUUID(),
      taskId,
      reason,
      remediation,
      ...outcome,
    });
  }
}
