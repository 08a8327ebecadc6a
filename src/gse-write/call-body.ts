/** Reading a GSE call's body: each reader names the field path in the error it throws (InvalidCallError). */
import { InvalidCallError } from './errors.js';

/** A JSON object of a call. */
export type Obj = Record<string, unknown>;

/** The object at `path`; undefined when absent and not `required`. */
export function obj(v: unknown, path: string, required = true): Obj | undefined {
  if (v === undefined || v === null) {
    if (required) throw new InvalidCallError(`${path}: required`);
    return undefined;
  }
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidCallError(`${path}: must be an object`);
  return v as Obj;
}

/** The non-empty string at `path`, trimmed. */
export function str(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.trim() === '')
    throw new InvalidCallError(`${path}: must be a non-empty string`);
  return v.trim();
}

/** The safe integer at `path` (a string of digits counts, as GSE's clients send either). */
export function int(v: unknown, path: string): number {
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n))
    throw new InvalidCallError(`${path}: must be an integer`);
  return n;
}

/** The list at `path`; `[]` when absent. */
export function list(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new InvalidCallError(`${path}: must be a list`);
  return v;
}

/** GSE `label` -> resource labels (string values; unknown types refused). */
export function labels(v: unknown, path: string): Record<string, string> | undefined {
  const o = obj(v, path, false);
  if (!o) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) {
    if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean')
      throw new InvalidCallError(`${path}.${k}: must be a string or a number`);
    out[k] = String(val);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
