/** Small rules both stores apply the same way: state values, retention policies, sync state counts. */
import { CorruptRecordError, InvalidQueryError, InvalidRecordError } from './errors.js';
import { parseResourceStatus } from './records.js';
import {
  type JsonValue,
  type ResourceStatus,
  type RetentionPolicy,
  type RetentionRule,
  SYNC_STATES,
  type SyncState,
} from './types.js';
import { isJsonValue } from './validate.js';

/** Every sync state with a zero count. */
export function emptyCounts(): Record<SyncState, number> {
  const counts: Partial<Record<SyncState, number>> = {};
  for (const state of SYNC_STATES) counts[state] = 0;
  return counts as Record<SyncState, number>;
}

/** The JSON text of a state value; throws InvalidRecordError when the value is not JSON data. */
export function stateJson(key: string, value: JsonValue): string {
  if (!isJsonValue(value)) throw new InvalidRecordError(`state.${key}`, 'must be JSON data');
  return JSON.stringify(value);
}

/** The value of state `key` stored as `text`, checked by `guard` when given. */
export function parseState<T extends JsonValue>(
  key: string,
  text: unknown,
  guard: ((value: JsonValue) => value is T) | undefined,
): T {
  let value: unknown;
  try {
    value = typeof text === 'string' ? JSON.parse(text) : undefined;
  } catch (cause) {
    throw new CorruptRecordError(`state(${key})`, { cause });
  }
  if (!isJsonValue(value)) throw new CorruptRecordError(`state(${key})`);
  if (guard === undefined) return value as T; // the caller vouches for T (see Store.getState)
  if (!guard(value)) throw new CorruptRecordError(`state(${key})`);
  return value;
}

function checkRule(name: string, rule: RetentionRule | undefined): void {
  if (!rule) return;
  for (const [field, value] of [
    ['maxCount', rule.maxCount],
    ['maxAgeMs', rule.maxAgeMs],
  ] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new InvalidQueryError(`retention.${name}.${field}`, 'must be a non-negative integer');
    }
  }
}

/** Throws InvalidQueryError unless every bound of `policy` is a non-negative integer. */
export function checkRetentionPolicy(policy: RetentionPolicy): void {
  checkRule('executions', policy.executions);
  checkRule('drift', policy.drift);
}

/** Records older than this (epoch ms) go under `rule`, or undefined when the rule has no age bound. */
export function retentionCutoffMs(rule: RetentionRule, now: Date): number | undefined {
  return rule.maxAgeMs === undefined ? undefined : now.getTime() - rule.maxAgeMs;
}

/** A host's statuses by key, each checked to belong to `hostId`; `path` names the list in errors. */
export function statusesByKey(
  hostId: string,
  statuses: ResourceStatus[],
  path: string,
): Map<string, ResourceStatus> {
  const byKey = new Map<string, ResourceStatus>();
  statuses.forEach((s, i) => {
    const status = parseResourceStatus(s, `${path}[${i}]`);
    if (status.hostId !== hostId) throw new InvalidRecordError(`${path}[${i}].hostId`, `must be ${hostId}`);
    byKey.set(status.key, status);
  });
  return byKey;
}
