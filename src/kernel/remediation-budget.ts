/**
 * The remediation budget decision, shared by the agent (host events) and the controller (agent.lost): pure,
 * from a rule's limits, its recorded starts and what runs now, to ran / a reason to skip.
 */

export const HOUR_MS = 3_600_000;

/** The limits of one Remediation. */
export interface BudgetLimits {
  cooldownMs: number;
  maxPerHour: number;
  maxConcurrent: number;
  dryRun: boolean;
}

/** What is recorded of one Remediation: when it last started and its starts in the last hour (epoch ms). */
export interface BudgetState {
  lastStartAt: number;
  starts: number[];
}

/** ran / dryRun start (and count against the budget); the others are skips. */
export type BudgetDecision = 'ran' | 'dryRun' | 'cooldown' | 'budget' | 'concurrency';

export interface BudgetVerdict {
  decision: BudgetDecision;
  /** Why it was skipped, in words. */
  detail?: string;
  /** The state to record: moved on for ran / dryRun, unchanged (but pruned) for a skip. */
  next: BudgetState;
}

export const EMPTY_BUDGET: BudgetState = { lastStartAt: 0, starts: [] };

/**
 * Decides one trigger at `now`: concurrency first (`running` is what runs now: on this host for host
 * events, across the fleet for controller-run rules), then cooldown, then the hourly budget. A dry run obeys
 * the same limits and counts as a start, so what it records is what would really have happened.
 */
export function decideBudget(
  limits: BudgetLimits,
  state: BudgetState,
  running: number,
  now: number,
): BudgetVerdict {
  const starts = state.starts.filter((t) => now - t < HOUR_MS && t <= now);
  const kept = { lastStartAt: state.lastStartAt, starts };
  if (running >= limits.maxConcurrent)
    return {
      decision: 'concurrency',
      detail: `${running} already running (maxConcurrent ${limits.maxConcurrent})`,
      next: kept,
    };
  if (state.lastStartAt > 0 && now - state.lastStartAt < limits.cooldownMs)
    return {
      decision: 'cooldown',
      detail: `in cooldown: last start ${now - state.lastStartAt} ms ago, cooldown ${limits.cooldownMs} ms`,
      next: kept,
    };
  if (starts.length >= limits.maxPerHour)
    return {
      decision: 'budget',
      detail: `hourly budget used: ${starts.length} starts in the last hour (maxPerHour ${limits.maxPerHour})`,
      next: kept,
    };
  return { decision: limits.dryRun ? 'dryRun' : 'ran', next: { lastStartAt: now, starts: [...starts, now] } };
}
