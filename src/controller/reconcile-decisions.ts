/**
 * What the reconciler decides, as pure functions of what it knows about a host and the time: whether to
 * send it a manifest (and against which base), what a failed send means, what a report changes, and
 * what the periodic pass re-sends. The Reconciler applies these; tests drive them with tables.
 */
import { backoffDelayMs } from '../kernel/index.js';
import type { HostManifest } from '../protocol/manifest.js';
import type { ReportMessage } from '../protocol/messages.js';
import type { HostRuntime, RetrySchedule } from './host-runtime.js';

/** A sent manifest not reported on within this is sent again at the next resync. */
export const PROGRESS_DEADLINE_MS = 30_000;
export const BASE_RETRY_DELAY_MS = 1_000;
export const MAX_RETRY_DELAY_MS = 5 * 60_000;

/** Capped exponential delay before the n-th retry (1-based) of a host whose apply failed. */
export function retryDelayMs(attempt: number): number {
  return backoffDelayMs(attempt, { baseMs: BASE_RETRY_DELAY_MS, maxMs: MAX_RETRY_DELAY_MS });
}

/** Send nothing, or send the desired manifest as a delta against `held` (a full one when absent). */
export type DispatchDecision = { send: false } | { send: true; held: HostManifest | undefined };

/**
 * Whether to send the host its desired manifest: only when it is connected, has one, and holds another
 * (or a retry is scheduled). The base of a delta is the manifest it reported holding, when we sent it; with
 * no report yet in this session, the desired manifest itself when the agent's hello said it holds that one
 * (an empty delta: the agent re-verifies and reports, and a restart storm sends no file contents). An
 * agent that does not hold it after all answers `needFull`, and gets the whole manifest.
 */
export function dispatchDecision(
  host: Pick<HostRuntime, 'connected' | 'desired' | 'reportedHash' | 'helloHash' | 'retry' | 'sent'>,
): DispatchDecision {
  const desired = host.desired;
  if (!desired || !host.connected) return { send: false };
  if (host.reportedHash === desired.hash && host.retry === undefined) return { send: false };
  if (host.reportedHash) return { send: true, held: host.sent.get(host.reportedHash) };
  return { send: true, held: host.helloHash === desired.hash ? desired : undefined };
}

/** How a hub send ended: accepted, refused (the session is closing), or thrown (too large for a frame). */
export type SendOutcome = { kind: 'sent' } | { kind: 'refused' } | { kind: 'threw'; error: Error };

/** Why the host's manifest is not sent, shown as its `Manifest/send` status; undefined once sent. */
export function sendErrorOf(outcome: SendOutcome): string | undefined {
  switch (outcome.kind) {
    case 'sent':
      return undefined;
    case 'refused':
      return 'the manifest could not be sent (the agent session is closing); retried at the next resync';
    case 'threw':
      return `the manifest could not be sent: ${outcome.error.message}; make the host's ConfigFiles smaller`;
  }
}

/**
 * The hash the controller takes a connecting host to hold: what its hello says, but only when the last
 * report since this controller started (`itemsHash`) was of that same manifest, so the resources' states
 * the controller keeps describe it. Otherwise none, and the manifest goes out again (an empty delta when
 * the hello names the desired one), so the agent re-verifies and reports rather than the host staying
 * Progressing. That covers a restarted controller (no report yet), and an agent killed after it recorded a
 * manifest as applied but before its report was spooled: it comes back holding a manifest it never
 * reported, and has nothing left to apply.
 */
export function heldHashOnConnect(itemsHash: string | undefined, heldHash: string): string | undefined {
  return heldHash !== '' && itemsHash === heldHash ? heldHash : undefined;
}

/** What a report changes beyond recording it: the retry schedule, and whether to send again. */
export interface ReportDecision {
  retry: RetrySchedule | undefined;
  dispatch: boolean;
}

/**
 * After a (non-needFull) report: a failed apply of the desired manifest schedules the next retry with a
 * growing delay; a clean report clears it; a host reporting another manifest with nothing in flight is
 * sent the desired one. `sentHash` is the in-flight hash after this report was matched against it.
 */
export function reportDecision(
  report: Pick<ReportMessage, 'manifestHash' | 'items'>,
  host: { desiredHash: string | undefined; sentHash: string | undefined; retry: RetrySchedule | undefined },
  now: number,
): ReportDecision {
  const failed = report.items.some((i) => i.state === 'failed');
  let retry = host.retry;
  if (failed && report.manifestHash === host.desiredHash) {
    const attempts = (host.retry?.attempts ?? 0) + 1;
    retry = { attempts, nextAt: now + retryDelayMs(attempts) };
  } else if (!failed) retry = undefined;
  return { retry, dispatch: report.manifestHash !== host.desiredHash && host.sentHash === undefined };
}

/**
 * The periodic pass for one host: re-send when its manifest has been in flight past the deadline, when it
 * holds the wrong one with nothing in flight, or when its retry is due (then in full, with the next retry
 * pushed back).
 */
export type ResyncDecision = { resend: false } | { resend: true; full: boolean; nextRetryAt?: number };

/** See ResyncDecision. */
export function resyncDecision(
  host: Pick<HostRuntime, 'connected' | 'desired' | 'sentHash' | 'sentAt' | 'reportedHash' | 'retry'>,
  now: number,
): ResyncDecision {
  if (!host.connected || !host.desired) return { resend: false };
  const stale = host.sentHash !== undefined && now - (host.sentAt ?? 0) > PROGRESS_DEADLINE_MS;
  const wrong = host.reportedHash !== host.desired.hash && host.sentHash === undefined;
  const retryDue = host.retry !== undefined && host.retry.nextAt <= now;
  if (!stale && !wrong && !retryDue) return { resend: false };
  if (!retryDue || !host.retry) return { resend: true, full: false };
  return { resend: true, full: true, nextRetryAt: now + retryDelayMs(host.retry.attempts + 1) };
}
