/**
 * The upgrade record (`<install-dir>/upgrade.json`): the one upgrade under way or last finished, and the
 * attempts that failed on this host (never retried). Written whole to a temp file then renamed, so a kill
 * at any point leaves the old record or the new one. The agent and its launcher both write it, never at the
 * same time: the agent while it runs, the launcher only once the agent exited.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';

/**
 * `downloading` -> `unpacked` -> `switching` -> `switched` (exit, the launcher starts `to`) -> `healthy`
 * (the new version reported), or `failed` (with `reason`; `rolledBack` when the launcher went back to `from`).
 */
export type UpgradeState = 'downloading' | 'unpacked' | 'switching' | 'switched' | 'healthy' | 'failed';

export interface UpgradeAttempt {
  from: string;
  to: string;
  sha256: string;
  attempt: number;
  url: string;
  healthDeadlineMs: number;
  state: UpgradeState;
  /** ISO time of the last state change. */
  at: string;
  reason?: string;
  /** The launcher switched `current` back to `from`. */
  rolledBack?: boolean;
  /** A failure the agent has reported and the controller acked (no need to re-apply on start for it). */
  reported?: boolean;
}

/** One failed (version, sha256, attempt): the agent does not try it again. */
export interface FailedAttempt {
  to: string;
  sha256: string;
  attempt: number;
  reason: string;
  at: string;
}

export interface UpgradeRecord {
  current?: UpgradeAttempt;
  failed: FailedAttempt[];
}

/** Failed attempts remembered; older ones fall off (the controller bumps `attempt` to retry anyway). */
const MAX_FAILED = 20;

/** The record at `file`; an absent or unreadable file is an empty record. */
export async function readUpgradeRecord(file: string): Promise<UpgradeRecord> {
  try {
    const raw = JSON.parse(await readFile(file, 'utf8')) as Partial<UpgradeRecord>;
    return { ...(raw.current ? { current: raw.current } : {}), failed: raw.failed ?? [] };
  } catch {
    return { failed: [] };
  }
}

/** Writes the record atomically (temp file + rename). */
export async function writeUpgradeRecord(file: string, record: UpgradeRecord): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644 });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Same (version, sha256, attempt)? */
export function sameAttempt(
  a: Pick<UpgradeAttempt, 'to' | 'sha256' | 'attempt'>,
  b: Pick<UpgradeAttempt, 'to' | 'sha256' | 'attempt'>,
): boolean {
  return a.to === b.to && a.sha256 === b.sha256 && a.attempt === b.attempt;
}

/** The record with `current` marked failed for `reason` and remembered in `failed`. */
export function withFailure(
  record: UpgradeRecord,
  reason: string,
  at: string,
  rolledBack = false,
): UpgradeRecord {
  const cur = record.current;
  if (!cur) return record;
  const failed = [
    ...record.failed.filter((f) => !sameAttempt(f, cur)),
    { to: cur.to, sha256: cur.sha256, attempt: cur.attempt, reason, at },
  ].slice(-MAX_FAILED);
  return {
    current: { ...cur, state: 'failed', reason, at, ...(rolledBack ? { rolledBack: true } : {}) },
    failed,
  };
}

/** The record with `current` moved to `state`. */
export function withState(record: UpgradeRecord, state: UpgradeState, at: string): UpgradeRecord {
  if (!record.current) return record;
  return { ...record, current: { ...record.current, state, at } };
}
