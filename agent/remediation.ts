/**
 * Remediations on the host: when an event matches a Remediation in the manifest, run its script, within
 * its cooldown, its hourly budget and its concurrency limit; a dry run records what it would have run.
 */
import { randomUUID } from 'node:crypto';
import { itemKey, type ManifestItem, type ManifestRemediation } from '../src/protocol/manifest.js';
import type { HostEvent, SpooledMessage } from '../src/protocol/messages.js';
import type { Clock, ExecOutcome, ExecSpec } from './engine/index.js';

const HOUR_MS = 3_600_000;

export interface RemediationDeps {
  clock: Clock;
  run(spec: ExecSpec): Promise<ExecOutcome>;
  emit(msg: SpooledMessage): Promise<void>;
}

interface Budget {
  lastStartAt: number;
  startsInLastHour: number[];
  running: number;
}

/** True when the event is the one the remediation waits for and every `match` field equals the event's. */
export function remediationMatches(rem: Pick<ManifestRemediation, 'on'>, event: HostEvent): boolean {
  if (rem.on.event !== event.type) return false;
  return Object.entries(rem.on.match ?? {}).every(([k, v]) => event.fields[k] === v);
}

/** Why a remediation may not start now, or undefined when it may. */
export function budgetRefusal(rem: ManifestRemediation, budget: Budget, now: number): string | undefined {
  if (budget.running >= rem.maxConcurrent) return `already running (maxConcurrent ${rem.maxConcurrent})`;
  if (budget.lastStartAt > 0 && now - budget.lastStartAt < rem.cooldownMs)
    return `in cooldown (${rem.cooldownMs} ms)`;
  if (budget.startsInLastHour.filter((t) => now - t < HOUR_MS).length >= rem.maxPerHour)
    return `hourly budget of ${rem.maxPerHour} used`;
  return undefined;
}

export class RemediationRunner {
  private items: ManifestRemediation[] = [];
  private readonly budgets = new Map<string, Budget>();

  constructor(private readonly deps: RemediationDeps) {}

  /** The Remediations of the manifest now held. */
  setItems(items: ManifestItem[]): void {
    this.items = items.filter((i): i is ManifestRemediation => i.kind === 'Remediation');
  }

  /** Runs every remediation the event triggers; each result is emitted as an execResult. */
  async onEvent(event: HostEvent): Promise<void> {
    await Promise.all(
      this.items.filter((r) => remediationMatches(r, event)).map((r) => this.trigger(r, event)),
    );
  }

  private async trigger(rem: ManifestRemediation, event: HostEvent): Promise<void> {
    const key = itemKey(rem);
    const budget = this.budgets.get(key) ?? { lastStartAt: 0, startsInLastHour: [], running: 0 };
    this.budgets.set(key, budget);
    const now = this.deps.clock.now();
    if (budgetRefusal(rem, budget, now)) return;
    budget.lastStartAt = now;
    budget.startsInLastHour = [...budget.startsInLastHour.filter((t) => now - t < HOUR_MS), now];
    // One task per (remediation, event): a re-delivered event after a restart does not run it twice.
    const taskId = `remediation:${key}@${event.time}@${event.resource ?? ''}`;
    const reason = `remediation:${key}`;
    let outcome: ExecOutcome;
    if (rem.dryRun) {
      outcome = {
        exitCode: 0,
        signal: null,
        stdoutTail: `dry run: would run: ${rem.run.script}\n`,
        stderrTail: '',
        startedAt: new Date(now).toISOString(),
        durationMs: 0,
        timedOut: false,
        killed: false,
      };
    } else {
      budget.running++;
      try {
        outcome = await this.deps.run({
          taskId,
          script: rem.run.script,
          timeoutMs: rem.run.timeoutMs,
          ...(rem.run.interpreter ? { interpreter: rem.run.interpreter } : {}),
          ...(rem.run.runAs ? { runAs: rem.run.runAs } : {}),
          env: { ...(rem.run.env ?? {}), GSE_EVENT: event.type, GSE_EVENT_RESOURCE: event.resource ?? '' },
        });
      } finally {
        budget.running--;
      }
    }
    await this.deps.emit({ v: 1, type: 'execResult', id: randomUUID(), taskId, reason, ...outcome });
  }
}
