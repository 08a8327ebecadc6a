/**
 * The rollout planner: pure functions from an AgentVersion resource, the hosts it selects and the
 * persisted rollout to the next rollout state and what each host must run. No I/O, no clock (`now` in).
 */
import type { ItemState } from '../protocol/messages.js';
import type { AgentVersion } from '../spec/types.js';
import type { RolloutArtifact, RolloutFailure, RolloutRecord } from '../store/rollout-record.js';
import { specArtifact, type VersionAssignment } from './item.js';

/** One selected host as the planner sees it. */
export interface RolloutHost {
  id: string;
  online: boolean;
  /** When an offline host was last seen (ms since the epoch). */
  lastSeenMs?: number;
  /** The version its agent said it runs (hello facts). */
  runningVersion?: string;
  /** Its last report of this AgentVersion item. */
  report?: { hash: string; state: ItemState; message?: string };
}

export type RolloutHostState = 'upgraded' | 'upgrading' | 'failed' | 'pending' | 'waiting';

/**
 * Beyond its health deadline, how long a reached host that went offline still counts as upgrading: the
 * launcher's rollback and the old version's reconnect and report. Past it, the host is pending.
 */
export const ROLLBACK_GRACE_MS = 15_000;

/** How failed hosts are listed in a pause reason at most. */
const MAX_LISTED_FAILURES = 3;

/** `n` or `"p%"` of `total`, rounded up, at least `min`. */
export function resolveCount(value: number | string, total: number, min: number): number {
  if (typeof value === 'number') return Math.max(min, value);
  const pct = Number.parseInt(value, 10);
  return Math.max(min, Math.ceil((total * pct) / 100));
}

function byId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The first rollout of `av`, or the one that follows `previous` (whose version becomes the undo target). */
export function startRollout(
  av: AgentVersion,
  hosts: readonly RolloutHost[],
  revision: string,
  previous: RolloutRecord | undefined,
  now: number,
): RolloutRecord {
  const at = new Date(now).toISOString();
  const version = av.spec.version;
  const { rollout } = av.spec;
  const toMove = hosts.filter((h) => h.runningVersion !== version).map((h) => h.id);
  const artifact = specArtifact(av);
  const generation = (previous?.generation ?? 0) + 1;
  return {
    id: `${av.metadata.name}#${generation}`,
    name: av.metadata.name,
    generation,
    version,
    ...(artifact && { artifact }),
    ...(previous && { fromVersion: previous.version }),
    ...(previous?.artifact && { fromArtifact: previous.artifact }),
    gitVersion: version,
    ...(artifact && { gitSha256: artifact.sha256 }),
    undo: false,
    revision,
    phase: 'Progressing',
    mode: rollout.mode,
    batchSize: resolveCount(rollout.batchSize, hosts.length, 1),
    maxUnavailable: resolveCount(rollout.maxUnavailable, hosts.length, 0),
    maxFailures: rollout.maxFailures,
    pauseBetweenMs: rollout.pauseBetweenMs,
    healthDeadlineMs: rollout.healthDeadlineMs,
    hosts: toMove.sort(byId),
    reached: 1,
    approved: 1,
    attempt: 1,
    failures: [],
    startedAt: at,
    updatedAt: at,
  };
}

/** Whether Git's `av` asks for something other than `current` tracks (a new version or package). */
export function gitChanged(av: AgentVersion, current: RolloutRecord): boolean {
  return av.spec.version !== current.gitVersion || av.spec.artifact?.sha256 !== current.gitSha256;
}

/** Ends `current`, superseded by the next rollout or removed from Git. */
export function endRollout(current: RolloutRecord, reason: string, now: number): RolloutRecord {
  const at = new Date(now).toISOString();
  return { ...current, phase: 'Superseded', endReason: reason, updatedAt: at, finishedAt: at };
}

/** A rollout back to `current.fromVersion` in one batch (an undo is urgent); undefined with no version before. */
export function undoRollout(
  current: RolloutRecord,
  hosts: readonly RolloutHost[],
  now: number,
): RolloutRecord | undefined {
  if (current.fromVersion === undefined) return undefined;
  const at = new Date(now).toISOString();
  const version = current.fromVersion;
  const toMove = hosts
    .filter((h) => h.runningVersion !== version)
    .map((h) => h.id)
    .sort(byId);
  const generation = current.generation + 1;
  return {
    ...current,
    id: `${current.name}#${generation}`,
    generation,
    version,
    artifact: current.fromArtifact,
    fromVersion: current.version,
    fromArtifact: current.artifact,
    undo: true,
    phase: 'Progressing',
    batchSize: Math.max(1, toMove.length),
    hosts: toMove,
    reached: 1,
    approved: 1,
    settledAt: undefined,
    attempt: 1,
    pauseReason: undefined,
    failures: [],
    endReason: undefined,
    startedAt: at,
    updatedAt: at,
    finishedAt: undefined,
  };
}

/** Batches of the rollout (at least 1). */
export function batchCount(r: RolloutRecord): number {
  return Math.max(1, Math.ceil(r.hosts.length / r.batchSize));
}

/** How many hosts of `r.hosts` are in reached batches (all of them once Completed). */
function reachedCount(r: RolloutRecord): number {
  return r.phase === 'Completed' ? r.hosts.length : Math.min(r.hosts.length, r.reached * r.batchSize);
}

/**
 * What `hostId` must run under `r`: the rollout's version once its batch is reached; before that, what it
 * runs now (so nothing moves early), or the version before when that is unknown.
 */
export function assignmentFor(
  r: RolloutRecord,
  hostId: string,
  runningVersion: string | undefined,
  index: ReadonlyMap<string, number>,
): VersionAssignment {
  const target: VersionAssignment = { version: r.version, artifact: r.artifact, attempt: r.attempt };
  if (r.phase === 'Superseded') return target;
  const i = index.get(hostId);
  if (i === undefined || i < reachedCount(r)) return target;
  const version = runningVersion ?? r.fromVersion ?? r.version;
  const artifact: RolloutArtifact | undefined =
    version === r.fromVersion ? r.fromArtifact : version === r.version ? r.artifact : undefined;
  return { version, artifact, attempt: 1 };
}

/** Host id -> position in `r.hosts`, for `assignmentFor`. */
export function hostIndex(r: RolloutRecord): Map<string, number> {
  return new Map(r.hosts.map((h, i) => [h, i]));
}

/** One host's place in the rollout, for status. */
export interface RolloutHostView {
  hostId: string;
  /** 1-based batch, or 0 for a host that needed no move. */
  batch: number;
  state: RolloutHostState;
  runningVersion?: string;
  message?: string;
}

/** The rollout's progress, for status and the planner's own decisions. */
export interface RolloutProgress {
  hosts: RolloutHostView[];
  counts: Record<RolloutHostState, number>;
  /** The reached batches hold no host still upgrading. */
  settled: boolean;
  /** Hosts upgrading, plus selected hosts offline. */
  unavailable: number;
}

/**
 * Where each selected host stands; `targetHash` is the hash of the item the reached hosts are sent. A
 * reached host that went offline within its health deadline (plus ROLLBACK_GRACE_MS) is upgrading, not
 * pending: it is restarting into the new version, or its launcher is rolling a bad one back, so its batch
 * has not settled and the next batch waits for the verdict.
 */
export function rolloutProgress(
  r: RolloutRecord,
  hosts: readonly RolloutHost[],
  targetHash: string,
  now: number,
): RolloutProgress {
  const index = hostIndex(r);
  const reached = reachedCount(r);
  const counts: Record<RolloutHostState, number> = {
    upgraded: 0,
    upgrading: 0,
    failed: 0,
    pending: 0,
    waiting: 0,
  };
  const views: RolloutHostView[] = [];
  let unavailable = 0;
  for (const h of hosts) {
    const i = index.get(h.id);
    const batch = i === undefined ? 0 : Math.floor(i / r.batchSize) + 1;
    let state: RolloutHostState;
    let message: string | undefined;
    if (h.runningVersion === r.version) state = 'upgraded';
    else if (i !== undefined && i >= reached) state = 'waiting';
    else if (!h.online) state = restartingSince(h, r, now) ? 'upgrading' : 'pending';
    else if (h.report?.hash === targetHash && h.report.state === 'failed') {
      state = 'failed';
      message = h.report.message;
    } else state = 'upgrading';
    if (!h.online) unavailable++;
    else if (state === 'upgrading') unavailable++;
    counts[state]++;
    views.push({
      hostId: h.id,
      batch,
      state,
      ...(h.runningVersion && { runningVersion: h.runningVersion }),
      ...(message && { message }),
    });
  }
  views.sort((a, b) => (index.get(a.hostId) ?? -1) - (index.get(b.hostId) ?? -1) || byId(a.hostId, b.hostId));
  return { hosts: views, counts, settled: counts.upgrading === 0, unavailable };
}

/** Whether an offline reached host went away recently enough to be restarting in its upgrade. */
function restartingSince(h: RolloutHost, r: RolloutRecord, now: number): boolean {
  return h.lastSeenMs !== undefined && now < h.lastSeenMs + r.healthDeadlineMs + ROLLBACK_GRACE_MS;
}

/** The result of one planner step: the next record and whether anything in it changed. */
export interface RolloutStep {
  record: RolloutRecord;
  changed: boolean;
  progress: RolloutProgress;
  /** Why the next batch has not started, while it waits. */
  waiting?: string;
}

function pauseReasonOf(
  batch: number,
  total: number,
  failures: RolloutFailure[],
  maxFailures: number,
): string {
  const listed = failures
    .slice(0, MAX_LISTED_FAILURES)
    .map((f) => `${f.hostId}: ${f.message}`)
    .join('; ');
  const more =
    failures.length > MAX_LISTED_FAILURES ? `; and ${failures.length - MAX_LISTED_FAILURES} more` : '';
  return `batch ${batch} of ${total}: ${failures.length} host(s) failed, over maxFailures ${maxFailures} (${listed}${more}); fix the cause, then gsectl rollout resume (or undo)`;
}

/**
 * One step of a live rollout: appends newly selected hosts that need the version, pauses when a reached
 * batch has more failed hosts than maxFailures, starts the next batch when the reached ones have settled,
 * maxUnavailable allows, pauseBetween has passed and (manual mode) the operator approved it, and completes
 * when every selected host runs the version.
 */
export function advanceRollout(
  current: RolloutRecord,
  hosts: readonly RolloutHost[],
  targetHash: string,
  now: number,
): RolloutStep {
  if (current.phase === 'Superseded')
    return { record: current, changed: false, progress: rolloutProgress(current, hosts, targetHash, now) };
  let r = current;
  let changed = false;
  const at = new Date(now).toISOString();
  const known = new Set(r.hosts);
  const added = hosts.filter((h) => !known.has(h.id) && h.runningVersion !== r.version).map((h) => h.id);
  if (added.length) {
    r = { ...r, hosts: [...r.hosts, ...added.sort(byId)] };
    changed = true;
  }
  let progress = rolloutProgress(r, hosts, targetHash, now);
  let waiting: string | undefined;
  for (;;) {
    if (r.phase !== 'Progressing') break;
    const total = batchCount(r);
    // A reached batch with too many failures pauses the whole rollout.
    const failed = progress.hosts.filter((h) => h.state === 'failed');
    const byBatch = new Map<number, RolloutFailure[]>();
    for (const h of failed) {
      const list = byBatch.get(h.batch) ?? [];
      list.push({ hostId: h.hostId, batch: h.batch, message: h.message ?? 'failed' });
      byBatch.set(h.batch, list);
    }
    const over = [...byBatch.entries()].find(([, list]) => list.length > r.maxFailures);
    if (over) {
      const [batch, list] = over;
      r = {
        ...r,
        phase: 'Paused',
        pauseReason: pauseReasonOf(batch, total, list, r.maxFailures),
        failures: failed.map((h) => ({ hostId: h.hostId, batch: h.batch, message: h.message ?? 'failed' })),
      };
      changed = true;
      break;
    }
    if (
      progress.counts.upgrading +
        progress.counts.pending +
        progress.counts.failed +
        progress.counts.waiting ===
        0 &&
      r.reached >= total
    ) {
      r = { ...r, phase: 'Completed', finishedAt: at };
      changed = true;
      break;
    }
    if (!progress.settled || r.reached >= total) break;
    if (r.settledAt === undefined) {
      r = { ...r, settledAt: at };
      changed = true;
    }
    if (progress.unavailable > r.maxUnavailable) {
      waiting = `${progress.unavailable} host(s) unavailable (upgrading or offline), over maxUnavailable ${r.maxUnavailable}`;
      break;
    }
    if (r.mode === 'manual' && r.reached >= r.approved) {
      waiting = `manual mode: batch ${r.reached} of ${total} is done; gsectl rollout resume ${r.name} starts the next`;
      break;
    }
    const due = Date.parse(r.settledAt ?? at) + r.pauseBetweenMs;
    if (now < due) {
      waiting = `pauseBetween: the next batch starts at ${new Date(due).toISOString()}`;
      break;
    }
    r = { ...r, reached: r.reached + 1, settledAt: undefined };
    changed = true;
    progress = rolloutProgress(r, hosts, targetHash, now);
  }
  if (changed) r = { ...r, updatedAt: at };
  return { record: r, changed, progress, ...(waiting && { waiting }) };
}

/** An operator's pause. */
export function pauseRollout(r: RolloutRecord, reason: string, now: number): RolloutRecord {
  return { ...r, phase: 'Paused', pauseReason: reason, updatedAt: new Date(now).toISOString() };
}

/**
 * An operator's resume: a paused rollout goes on with the next attempt (so failed hosts try again); a
 * manual one waiting between batches is allowed its next batch.
 */
export function resumeRollout(r: RolloutRecord, now: number): RolloutRecord {
  const at = new Date(now).toISOString();
  if (r.phase === 'Paused')
    return {
      ...r,
      phase: 'Progressing',
      attempt: r.attempt + 1,
      pauseReason: undefined,
      failures: [],
      updatedAt: at,
    };
  return { ...r, approved: Math.max(r.approved, r.reached + 1), updatedAt: at };
}
