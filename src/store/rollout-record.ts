/**
 * A rollout of one AgentVersion resource to one version, as the store keeps it. The controller's rollout
 * planner (src/rollout/) reads and writes it; every store keeps it as one JSON value per id.
 */
import { InvalidRecordError } from './errors.js';

export const ROLLOUT_PHASES = ['Progressing', 'Paused', 'Completed', 'Superseded'] as const;
export type RolloutPhase = (typeof ROLLOUT_PHASES)[number];

/** The package of a version as agents fetch it: `url` absolute or a controller path. */
export interface RolloutArtifact {
  sha256: string;
  url: string;
}

/** A host whose upgrade failed in the rollout's current attempt. */
export interface RolloutFailure {
  hostId: string;
  /** 1-based batch number. */
  batch: number;
  message: string;
}

export interface RolloutRecord {
  /** `<name>#<generation>`: unique per rollout. */
  id: string;
  /** The AgentVersion resource. */
  name: string;
  /** 1 for the first rollout of this name, then one more per new rollout (new version, undo). */
  generation: number;
  /** The version hosts move to. */
  version: string;
  artifact?: RolloutArtifact;
  /** The version before: what `undo` returns to (with its package), when known. */
  fromVersion?: string;
  fromArtifact?: RolloutArtifact;
  /** The version Git declares; differs from `version` after an undo, until Git changes. */
  gitVersion: string;
  /** The sha256 Git declares, so a changed package supersedes too. */
  gitSha256?: string;
  /** This rollout returns to the previous version (`gsectl rollout undo`). */
  undo: boolean;
  /** The revision that started it. */
  revision: string;
  phase: RolloutPhase;
  mode: 'auto' | 'manual';
  /** Hosts per batch (a percentage resolved against the hosts selected at the start). */
  batchSize: number;
  maxUnavailable: number;
  maxFailures: number;
  pauseBetweenMs: number;
  healthDeadlineMs: number;
  /** Hosts to move, in batch order (host ids, sorted at the start; hosts seen later are appended). */
  hosts: string[];
  /** Batches reached so far (their hosts are told to run `version`). */
  reached: number;
  /** Manual mode: batches the operator allowed (the first is allowed by the commit). */
  approved: number;
  /** When the last reached batch settled (every host upgraded, failed or offline). */
  settledAt?: string;
  /** From 1; bumped by every resume of a paused rollout so hosts that failed try again. */
  attempt: number;
  pauseReason?: string;
  failures: RolloutFailure[];
  /** Why it ended, when Superseded (a new version in Git, an undo, the resource removed). */
  endReason?: string;
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isArtifact(v: unknown): boolean {
  return v === undefined || (isObject(v) && typeof v.sha256 === 'string' && typeof v.url === 'string');
}

const INTS = [
  'generation',
  'batchSize',
  'maxUnavailable',
  'maxFailures',
  'pauseBetweenMs',
  'healthDeadlineMs',
];

/** The record, checked field by field; throws InvalidRecordError naming the first bad field. */
export function parseRollout(value: unknown): RolloutRecord {
  const bad = (field: string, why: string) => new InvalidRecordError(`rollout.${field}`, why);
  if (!isObject(value)) throw bad('(record)', 'must be an object');
  for (const f of ['id', 'name', 'version', 'gitVersion', 'revision', 'startedAt', 'updatedAt'])
    if (typeof value[f] !== 'string' || value[f] === '') throw bad(f, 'must be a non-empty string');
  for (const f of [...INTS, 'reached', 'approved', 'attempt'])
    if (!Number.isInteger(value[f]) || (value[f] as number) < 0) throw bad(f, 'must be a whole number >= 0');
  if (!ROLLOUT_PHASES.includes(value.phase as RolloutPhase))
    throw bad('phase', `must be one of ${ROLLOUT_PHASES.join(', ')}`);
  if (value.mode !== 'auto' && value.mode !== 'manual') throw bad('mode', 'must be auto or manual');
  if (typeof value.undo !== 'boolean') throw bad('undo', 'must be a boolean');
  if (!Array.isArray(value.hosts) || !value.hosts.every((h) => typeof h === 'string'))
    throw bad('hosts', 'must be a list of host ids');
  if (
    !Array.isArray(value.failures) ||
    !value.failures.every((f) => isObject(f) && typeof f.hostId === 'string')
  )
    throw bad('failures', 'must be a list of {hostId, batch, message}');
  if (!isArtifact(value.artifact)) throw bad('artifact', 'must be {sha256, url}');
  if (!isArtifact(value.fromArtifact)) throw bad('fromArtifact', 'must be {sha256, url}');
  return value as unknown as RolloutRecord;
}

/** Store order of rollouts: by name, then generation. */
export function compareRollouts(a: RolloutRecord, b: RolloutRecord): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.generation - b.generation;
}
