/** Field readers that turn `unknown` into typed values or throw InvalidRecordError naming the field path. */
import { InvalidRecordError } from './errors.js';
import type { JsonValue } from './types.js';

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when `value` is JSON data: null, boolean, finite number, string, array or plain object of those. */
export function isJsonValue(value: unknown): value is JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJsonValue);
  if (isObject(value)) return Object.values(value).every(isJsonValue);
  return false;
}

/** Earliest and latest times the store accepts: years 0000 to 9999, so time keys stay fixed-width. */
export const MIN_TIME_MS = Date.parse('0000-01-01T00:00:00.000Z');
export const MAX_TIME_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** True when `text` parses as a date (ISO 8601 expected) between years 0000 and 9999. */
export function isTime(text: string): boolean {
  const ms = Date.parse(text);
  return !Number.isNaN(ms) && ms >= MIN_TIME_MS && ms <= MAX_TIME_MS;
}

/** Reads the fields of one object; each getter throws InvalidRecordError with the field's path. */
export class FieldReader {
  private constructor(
    private readonly obj: Obj,
    private readonly path: string,
  ) {}

  /** Starts reading `value`, which must be an object. */
  static of(value: unknown, path: string): FieldReader {
    if (!isObject(value)) throw new InvalidRecordError(path, 'must be an object');
    return new FieldReader(value, path);
  }

  private at(name: string): string {
    return `${this.path}.${name}`;
  }

  private fail(name: string, reason: string): never {
    throw new InvalidRecordError(this.at(name), reason);
  }

  private present(name: string): boolean {
    const value = this.obj[name];
    return value !== undefined && value !== null;
  }

  /** A required string. */
  str(name: string): string {
    const value = this.obj[name];
    if (typeof value !== 'string') this.fail(name, 'must be a string');
    return value;
  }

  /** A required identifier: non-empty, without NUL (the Redis index separator). */
  id(name: string): string {
    const value = this.str(name);
    if (value === '' || value.includes('\u0000')) this.fail(name, 'must be a non-empty string without NUL');
    return value;
  }

  /** A required time string that parses as a date. */
  time(name: string): string {
    const value = this.str(name);
    if (!isTime(value)) this.fail(name, 'must be an ISO 8601 time');
    return value;
  }

  /** An optional string (undefined and null read as absent). */
  optStr(name: string): string | undefined {
    return this.present(name) ? this.str(name) : undefined;
  }

  /** An optional time string. */
  optTime(name: string): string | undefined {
    return this.present(name) ? this.time(name) : undefined;
  }

  /** A required string or null. */
  strOrNull(name: string): string | null {
    return this.obj[name] === null ? null : this.str(name);
  }

  /** A required finite number. */
  num(name: string): number {
    const value = this.obj[name];
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(name, 'must be a finite number');
    return value;
  }

  /** A required integer. */
  int(name: string): number {
    const value = this.num(name);
    if (!Number.isInteger(value)) this.fail(name, 'must be an integer');
    return value;
  }

  /** An optional finite number. */
  optNum(name: string): number | undefined {
    return this.present(name) ? this.num(name) : undefined;
  }

  /** An optional integer. */
  optInt(name: string): number | undefined {
    return this.present(name) ? this.int(name) : undefined;
  }

  /** A required integer or null. */
  intOrNull(name: string): number | null {
    return this.obj[name] === null ? null : this.int(name);
  }

  /** A required boolean. */
  bool(name: string): boolean {
    const value = this.obj[name];
    if (typeof value !== 'boolean') this.fail(name, 'must be a boolean');
    return value;
  }

  /** A required string out of a fixed set. */
  oneOf<T extends string>(name: string, values: readonly T[]): T {
    const value = this.str(name);
    const found = values.find((v) => v === value);
    if (found === undefined) this.fail(name, `must be one of ${values.join(', ')}`);
    return found;
  }

  /** A required array of strings. */
  strArray(name: string): string[] {
    return this.array(name, (item, path) => {
      if (typeof item !== 'string') throw new InvalidRecordError(path, 'must be a string');
      return item;
    });
  }

  /** A required object whose values are all strings. */
  strMap(name: string): Record<string, string> {
    return this.map(name, (item, path) => {
      if (typeof item !== 'string') throw new InvalidRecordError(path, 'must be a string');
      return item;
    });
  }

  /** A required array whose items `each` reads. */
  array<T>(name: string, each: (item: unknown, path: string) => T): T[] {
    const value = this.obj[name];
    if (!Array.isArray(value)) this.fail(name, 'must be an array');
    return value.map((item, i) => each(item, `${this.at(name)}[${i}]`));
  }

  /** A required object whose values `each` reads. */
  map<T>(name: string, each: (item: unknown, path: string) => T): Record<string, T> {
    const value = this.obj[name];
    if (!isObject(value)) this.fail(name, 'must be an object');
    const out: Record<string, T> = {};
    for (const [k, item] of Object.entries(value)) out[k] = each(item, `${this.at(name)}.${k}`);
    return out;
  }

  /** A required nested object, read by `read`. */
  object<T>(name: string, read: (fields: FieldReader) => T): T {
    return read(FieldReader.of(this.obj[name], this.at(name)));
  }

  /** An optional nested object, read by `read`. */
  optObject<T>(name: string, read: (fields: FieldReader) => T): T | undefined {
    return this.present(name) ? read(FieldReader.of(this.obj[name], this.at(name))) : undefined;
  }

  /** An optional JSON value. */
  optJson(name: string): JsonValue | undefined {
    if (this.obj[name] === undefined) return undefined;
    const value = this.obj[name];
    if (!isJsonValue(value)) this.fail(name, 'must be JSON data');
    return value;
  }
}

/** Drops the keys whose value is undefined, so records compare equal however they were built. */
export function compact<T extends object>(record: T): T {
  const out: Partial<T> = {};
  for (const key of Object.keys(record) as (keyof T)[]) {
    if (record[key] !== undefined) out[key] = record[key];
  }
  return out as T;
}
