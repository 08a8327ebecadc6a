/**
 * The upgrade decisions, pure: what the agent reports and does for an AgentVersion item, what the launcher
 * does before it starts a version and after that version exits. No I/O, no clock.
 */
import type { ManifestAgentVersion } from '../../src/protocol/manifest.js';
import { EXIT_RESTART_NEW_VERSION, normalizeVersion } from './layout.js';
import { sameAttempt, type UpgradeAttempt, type UpgradeRecord } from './record.js';

/** What the agent does for an AgentVersion item. */
export type VersionDecision =
  | { action: 'report'; state: 'ok' | 'failed' | 'changed'; message: string }
  | { action: 'upgrade'; state: 'changed'; message: string };

export interface VersionInput {
  item: ManifestAgentVersion;
  running: string;
  /** The install dir the launcher passed; undefined when the agent runs on its own. */
  installDir: string | undefined;
  record: UpgradeRecord;
  /** The (version, sha256, attempt) this process is upgrading to right now, if any. */
  inProgress?: { to: string; sha256: string; attempt: number };
}

/** Decides the AgentVersion item: ok, failed with the reason, or upgrade now. */
export function decideAgentVersion(input: VersionInput): VersionDecision {
  const { item, running, installDir, record } = input;
  const want = item.version;
  if (normalizeVersion(want) === normalizeVersion(running))
    return { action: 'report', state: 'ok', message: `running ${running}` };
  const head = `running ${running}, want ${want}`;
  if (!installDir)
    return {
      action: 'report',
      state: 'failed',
      message: `${head}: this agent was not started by a launcher, so it cannot upgrade itself; install it with "gse-agent install --artifact FILE --install-dir D" and run "gse-agent launch --install-dir D -- <agent args>"`,
    };
  if (!item.artifact)
    return {
      action: 'report',
      state: 'failed',
      message: `${head}: the AgentVersion names no artifact; set spec.artifact.sha256 (and url, or put gse-agent-${want}.tgz in the controller's --artifact-dir)`,
    };
  const key = { to: want, sha256: item.artifact.sha256, attempt: item.attempt };
  const failed = record.failed.find((f) => sameAttempt(f, key));
  if (failed)
    return {
      action: 'report',
      state: 'failed',
      message: `upgrade ${running} -> ${want} failed (attempt ${item.attempt}): ${failed.reason}`,
    };
  const message = `upgrading ${running} -> ${want}`;
  if (input.inProgress && sameAttempt(input.inProgress, key))
    return { action: 'report', state: 'changed', message };
  return { action: 'upgrade', state: 'changed', message };
}

/** Whether a starting agent must re-apply the manifest it holds (an upgrade left something to report). */
export function mustReapplyOnStart(record: UpgradeRecord): boolean {
  const cur = record.current;
  if (!cur) return false;
  if (cur.state === 'healthy') return false;
  if (cur.state === 'failed') return cur.reported !== true;
  return true;
}

/** What the launcher does before it starts `current`. */
export type LaunchPlan =
  | { kind: 'plain' }
  /** Finish a switch the agent was killed in the middle of, then start `to` under the health deadline. */
  | { kind: 'finish-switch'; attempt: UpgradeAttempt }
  /** `to` is starting for the first time(s): it must report within the deadline. */
  | { kind: 'watch-health'; attempt: UpgradeAttempt };

/** The launch plan for the record as it is now. */
export function planLaunch(record: UpgradeRecord): LaunchPlan {
  const cur = record.current;
  if (cur?.state === 'switching') return { kind: 'finish-switch', attempt: cur };
  if (cur?.state === 'switched') return { kind: 'watch-health', attempt: cur };
  return { kind: 'plain' };
}

/** What the launcher does when the agent exited. */
export type ExitPlan =
  | { kind: 'stop' }
  | { kind: 'start-now' }
  | { kind: 'restart'; delayMs: number }
  | { kind: 'rollback'; attempt: UpgradeAttempt; reason: string };

export interface ExitInput {
  code: number | null;
  signal: string | null;
  /** The launcher itself is stopping (it got SIGTERM/SIGINT). */
  stopping: boolean;
  /** The record as re-read after the exit. */
  record: UpgradeRecord;
  /** Whether the launcher killed it for missing the health deadline. */
  deadlineMissed: boolean;
  /** The version that ran. */
  ranVersion: string | undefined;
  /** Restarts in a row without a healthy run, for the back-off. */
  crashes: number;
}

/** First and largest delay before restarting a crashed agent. */
export const RESTART_BASE_DELAY_MS = 500;
export const RESTART_MAX_DELAY_MS = 30_000;

/** The exit plan: stop, start the new version, roll back a version that never reported, or restart. */
export function planExit(input: ExitInput): ExitPlan {
  if (input.stopping) return { kind: 'stop' };
  const cur = input.record.current;
  const pending = cur && cur.state === 'switched' && cur.to === input.ranVersion ? cur : undefined;
  if (pending) {
    const how = input.deadlineMissed
      ? `version ${pending.to} did not connect and report within ${pending.healthDeadlineMs} ms (health deadline)`
      : `version ${pending.to} exited (${input.signal ? `signal ${input.signal}` : `code ${input.code}`}) before it reported`;
    return { kind: 'rollback', attempt: pending, reason: `${how}; rolled back to ${pending.from}` };
  }
  if (input.code === EXIT_RESTART_NEW_VERSION) return { kind: 'start-now' };
  const delayMs = Math.min(RESTART_MAX_DELAY_MS, RESTART_BASE_DELAY_MS * 2 ** Math.min(input.crashes, 10));
  return { kind: 'restart', delayMs };
}
