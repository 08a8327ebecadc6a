/**
 * The outcomes the controller's parts yield, as the notifier takes them (pure): drift records, stored
 * execution results, rejected revisions, paused rollouts, remediation decisions.
 */
import type { JsonValue, Outcome } from '../notify/outcome.js';
import type { RolloutRecord } from '../store/rollout-record.js';
import type { DriftRecord, ExecutionRecord, RevisionRecord } from '../store/types.js';

/** Errors of a rejected revision sent at most (the rest are in `gsectl status`). */
export const MAX_NOTIFIED_ERRORS = 20;

/** drift.detected for every corrective record, and drift.healed for those the agent healed. */
export function driftOutcomes(records: readonly DriftRecord[]): Outcome[] {
  const out: Outcome[] = [];
  for (const r of records) {
    if (r.kind !== 'corrective') continue;
    const fields = {
      host: r.hostId,
      resource: r.key,
      revision: r.revision,
      detail: r.detail ?? null,
      driftId: r.id,
      detectedAt: r.detectedAt,
    };
    out.push({ type: 'drift.detected', ...fields });
    if (r.healed) out.push({ type: 'drift.healed', ...fields, healedAt: r.healedAt ?? null });
  }
  return out;
}

/** execution.finished for a stored result. */
export function executionOutcome(rec: ExecutionRecord): Outcome {
  return {
    type: 'execution.finished',
    host: rec.hostId,
    at: rec.finishedAt,
    execution: {
      taskId: rec.id,
      reason: rec.reason,
      resource: rec.resource ?? null,
      status: rec.status,
      exitCode: rec.exitCode,
      stdout: rec.stdoutTail,
      stderr: rec.stderrTail,
      startedAt: rec.startedAt,
      finishedAt: rec.finishedAt ?? null,
      durationMs: rec.durationMs ?? null,
    },
  };
}

/** revision.rejected, with the first errors. */
export function revisionRejectedOutcome(rec: RevisionRecord): Outcome {
  return {
    type: 'revision.rejected',
    revision: rec.sha,
    author: rec.author,
    message: rec.message,
    errorCount: rec.errors.length,
    errors: rec.errors.slice(0, MAX_NOTIFIED_ERRORS).map((e) => ({ ...e })),
  };
}

/** rollout.paused, with why and which hosts failed. */
export function rolloutPausedOutcome(r: RolloutRecord): Outcome {
  return {
    type: 'rollout.paused',
    rollout: r.name,
    version: r.version,
    batch: r.reached,
    reason: r.pauseReason ?? null,
    failures: r.failures.map((f) => ({ ...f })),
  };
}

/**
 * remediation.ran or remediation.skipped for a record that carries a remediation's decision chain (the
 * agent's own rules and the controller's agent.lost rules alike); undefined for any other record, and for a
 * run still in progress (its outcome comes with its result).
 */
export function remediationOutcome(rec: ExecutionRecord): Outcome | undefined {
  const chain = rec.remediation;
  if (!chain || rec.status === 'running') return undefined;
  return {
    type: chain.decision === 'ran' ? 'remediation.ran' : 'remediation.skipped',
    host: rec.hostId,
    at: rec.finishedAt,
    remediation: chain.name,
    decision: chain.decision,
    detail: chain.detail ?? null,
    revision: chain.revision,
    event: {
      type: chain.event.type,
      time: chain.event.time,
      resource: chain.event.resource ?? null,
      fields: JSON.parse(JSON.stringify(chain.event.fields)) as JsonValue,
    },
    execution: executionOutcome(rec).execution,
  };
}
