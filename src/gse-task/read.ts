/**
 * Reading GSE request bodies: each helper checks one field and throws a GseError naming its path and what
 * it must be, so a bad request is answered with the field to fix.
 */
import { badRequest } from './errors.js';

export type Json = Record<string, unknown>;

/** `value` as an object, or a GseError naming `path`. */
export function obj(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw badRequest(`${path}: must be an object`);
  return value as Json;
}

/** `value` as an array (absent: `fallback` when given, else an error). */
export function arr(value: unknown, path: string, fallback?: unknown[]): unknown[] {
  if (value === undefined && fallback !== undefined) return fallback;
  if (!Array.isArray(value)) throw badRequest(`${path}: must be a list`);
  return value;
}

/** A non-empty array. */
export function nonEmpty(value: unknown, path: string): unknown[] {
  const list = arr(value, path);
  if (list.length === 0) throw badRequest(`${path}: must list at least one item`);
  return list;
}

/** `value` as a string (absent: `fallback` when given, else an error). */
export function str(value: unknown, path: string, fallback?: string): string {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string') throw badRequest(`${path}: must be a string`);
  return value;
}

/** A string that is not empty. */
export function nonEmptyStr(value: unknown, path: string): string {
  const s = str(value, path);
  if (s === '') throw badRequest(`${path}: must not be empty`);
  return s;
}

/** `value` as an integer (numeric strings too, as GSE's clients send either); absent: `fallback`. */
export function int(value: unknown, path: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw badRequest(`${path}: must be an integer`);
  return n;
}
