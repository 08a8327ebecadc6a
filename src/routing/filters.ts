/**
 * Pure evaluation of a Route's `filters`. Compiled once per revision: regexes are built and values checked
 * at compile time, so evaluating a record allocates nothing.
 *
 * Semantics (a field that is absent or of the wrong type never satisfies a positive test):
 * - `eq` / `in`: strict equality with a string, number or boolean (no coercion: "42" is not 42).
 * - `ne`: holds when the field is absent or differs.
 * - `regex`: the field must be a string; the pattern is an unanchored JavaScript RegExp.
 * - `exists`: `value` false asks for absence; true or absent asks for presence (null counts as present).
 * - `gt` / `lt`: the value must be a number; the field must be a finite number.
 * - `allOf`: every condition holds (empty: true). `anyOf`: at least one holds (empty or absent: true).
 *
 * Field paths: `rid`, `channel`, `time`, `host.id`, `host.name`, `host.ip`, `host.cloudId` address the
 * record; any other dotted path goes into `record.fields` (array indexes as numbers: `disks.0.mount`).
 * A key of `fields` with one of those reserved names is therefore shadowed.
 */
import type { DataRecord } from '../protocol/messages.js';
import type { FilterCondition, RouteFilters } from '../spec/types.js';
import { FilterError } from './errors.js';

export type RecordPredicate = (rec: DataRecord) => boolean;

type Getter = (rec: DataRecord) => unknown;

const RECORD_GETTERS: Record<string, Getter> = {
  rid: (r) => r.rid,
  channel: (r) => r.channel,
  time: (r) => r.time,
  'host.id': (r) => r.host.id,
  'host.name': (r) => r.host.name,
  'host.ip': (r) => r.host.ip,
  'host.cloudId': (r) => r.host.cloudId,
};

/** Marks a field that is not there, distinct from `undefined` values that JSON cannot carry anyway. */
const ABSENT: unique symbol = Symbol('absent');

/** Compiles `filters` into a predicate; throws FilterError naming the bad condition. Absent filters pass all. */
export function compileFilters(filters: RouteFilters | undefined, path = 'spec.filters'): RecordPredicate {
  const all = (filters?.allOf ?? []).map((c, i) => compileCondition(c, `${path}.allOf[${i}]`));
  const any = (filters?.anyOf ?? []).map((c, i) => compileCondition(c, `${path}.anyOf[${i}]`));
  if (all.length === 0 && any.length === 0) return () => true;
  return (rec) => {
    for (const p of all) if (!p(rec)) return false;
    if (any.length === 0) return true;
    for (const p of any) if (p(rec)) return true;
    return false;
  };
}

/** Reads a dotted path from a record, as filters do; `undefined` when absent. */
export function readField(rec: DataRecord, field: string): unknown {
  const v = compileGetter(field)(rec);
  return v === ABSENT ? undefined : v;
}

function compileGetter(field: string): Getter {
  const direct = RECORD_GETTERS[field];
  if (direct) return direct;
  const parts = field.split('.');
  return (rec) => {
    let cur: unknown = rec.fields;
    for (const part of parts) {
      if (Array.isArray(cur)) {
        const i = Number(part);
        if (!Number.isInteger(i) || i < 0 || i >= cur.length) return ABSENT;
        cur = cur[i];
      } else if (cur !== null && typeof cur === 'object' && Object.hasOwn(cur, part)) {
        cur = (cur as Record<string, unknown>)[part];
      } else {
        return ABSENT;
      }
    }
    return cur === undefined ? ABSENT : cur;
  };
}

function isScalar(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function compileCondition(c: FilterCondition, path: string): RecordPredicate {
  if (typeof c.field !== 'string' || c.field === '')
    throw new FilterError(path, 'field must be a non-empty path');
  const get = compileGetter(c.field);
  const value = c.value;
  switch (c.op) {
    case 'eq':
    case 'ne': {
      if (!isScalar(value)) throw new FilterError(path, `${c.op} needs a string, number or boolean value`);
      if (c.op === 'eq') return (r) => get(r) === value;
      return (r) => get(r) !== value;
    }
    case 'in': {
      if (!Array.isArray(value) || !value.every(isScalar)) {
        throw new FilterError(path, 'in needs an array of strings or numbers');
      }
      const set = new Set<unknown>(value);
      return (r) => {
        const v = get(r);
        return isScalar(v) && set.has(v);
      };
    }
    case 'regex': {
      if (typeof value !== 'string') throw new FilterError(path, 'regex needs a string pattern');
      let re: RegExp;
      try {
        re = new RegExp(value);
      } catch (err) {
        throw new FilterError(path, `invalid regex /${value}/`, { cause: err });
      }
      return (r) => {
        const v = get(r);
        return typeof v === 'string' && re.test(v);
      };
    }
    case 'exists': {
      if (value !== undefined && typeof value !== 'boolean') {
        throw new FilterError(path, 'exists takes an optional boolean value');
      }
      const want = value ?? true;
      return (r) => (get(r) !== ABSENT) === want;
    }
    case 'gt':
    case 'lt': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new FilterError(path, `${c.op} needs a finite number value`);
      }
      const gt = c.op === 'gt';
      return (r) => {
        const v = get(r);
        if (typeof v !== 'number' || !Number.isFinite(v)) return false;
        return gt ? v > value : v < value;
      };
    }
    default:
      throw new FilterError(path, `unknown op ${JSON.stringify((c as { op: unknown }).op)}`);
  }
}
