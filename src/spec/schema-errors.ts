/** Turns ajv's errors into issues with a field path and a message written for people. */
import type { ErrorObject } from 'ajv/dist/2020.js';
import { closestMatch, didYouMean } from './did-you-mean.js';
import { type FieldPath, isRecord, pointerToPath } from './field-path.js';
import type { Issue } from './issue.js';
import { isLiteralSecretKey } from './secrets.js';

/** Reads the source text of a scalar, to show a value as the user wrote it (`0644`, not 644). */
export type SourceTextOf = (path: FieldPath) => string | undefined;

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean (true or false)',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

const BRANCH_DETAIL = /\/(oneOf|anyOf)\/\d+\/required$/;

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function describeValue(value: unknown, source: string | undefined): string {
  if (value === null || value === undefined) return 'empty (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `the ${typeof value} ${source ?? String(value)}`;
}

function quoted(list: readonly string[], joiner = 'or'): string {
  const q = list.map((s) => `"${s}"`);
  return q.length <= 1 ? (q[0] ?? '') : `${q.slice(0, -1).join(', ')} ${joiner} ${q.at(-1)}`;
}

/** The property names a `oneOf`/`anyOf` of `{required: [x]}` branches chooses between. */
function branchNames(branches: unknown): string[] | undefined {
  if (!Array.isArray(branches)) return undefined;
  const names: string[] = [];
  for (const b of branches) {
    const required = isRecord(b) ? b.required : undefined;
    if (!Array.isArray(required) || required.length !== 1 || typeof required[0] !== 'string')
      return undefined;
    names.push(required[0]);
  }
  return names;
}

function typeMessage(e: ErrorObject, path: FieldPath, sourceText: SourceTextOf): string {
  const expected = String(e.params.type ?? '')
    .split(',')
    .map((t) => TYPE_NAMES[t] ?? t);
  const source = sourceText(path);
  const message = `must be ${expected.join(' or ')}, not ${describeValue(e.data, source)}`;
  const hint = str(e.parentSchema?.errorMessage);
  if (hint) return `${message}; ${hint}`;
  const scalar = typeof e.data === 'number' || typeof e.data === 'boolean';
  if (scalar && String(e.params.type).includes('string'))
    return `${message}; quote it: "${source ?? String(e.data)}"`;
  return message;
}

function choiceMessage(e: ErrorObject): string | undefined {
  if (!isRecord(e.data)) return undefined;
  const names = branchNames(e.schema);
  if (!names)
    return e.keyword === 'oneOf' ? 'must match exactly one alternative' : 'must match an alternative';
  const present = names.filter((n) => Object.hasOwn(e.data as object, n));
  if (e.keyword === 'anyOf') return `must set at least one of ${quoted(names)}`;
  if (present.length === 0) return `must set exactly one of ${quoted(names)}`;
  return `must set only one of ${quoted(names)}, not ${quoted(present, 'and')}`;
}

function oneIssue(
  e: ErrorObject,
  path: FieldPath,
  sourceText: SourceTextOf,
  all: ErrorObject[],
): Issue | undefined {
  const p = e.params;
  const parent = e.parentSchema ?? {};
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = String(p.additionalProperty);
      if (isLiteralSecretKey(name, isRecord(e.data) ? e.data[name] : undefined)) return undefined;
      const allowed = isRecord(parent.properties) ? Object.keys(parent.properties) : [];
      const hint = didYouMean(name, allowed) || (allowed.length ? ` (allowed: ${allowed.join(', ')})` : '');
      return { path: [...path, name], message: `unknown field "${name}"${hint}`, anchor: 'key' };
    }
    case 'required':
      if (BRANCH_DETAIL.test(e.schemaPath)) return undefined;
      return {
        path: [...path, String(p.missingProperty)],
        message: `missing required field "${p.missingProperty}"`,
      };
    case 'type':
      return { path, message: typeMessage(e, path, sourceText) };
    case 'enum': {
      const allowed = (Array.isArray(p.allowedValues) ? p.allowedValues : []).map(String);
      const got = describeValue(e.data, sourceText(path));
      const hint = typeof e.data === 'string' ? didYouMean(e.data, allowed) : '';
      return { path, message: `must be one of ${allowed.join(', ')}, not ${got}${hint}` };
    }
    case 'const':
      return {
        path,
        message: `must be "${String(p.allowedValue)}", not ${describeValue(e.data, sourceText(path))}`,
      };
    case 'pattern': {
      const why = str(parent.patternErrorMessage) ?? `must match /${String(p.pattern)}/`;
      return { path, message: `invalid value ${JSON.stringify(e.data)}: ${why}` };
    }
    case 'propertyNames': {
      const key = String(p.propertyName);
      const inner = all.find((x) => x !== e && x.propertyName === key && x.instancePath === e.instancePath);
      const why = str(inner?.parentSchema?.patternErrorMessage) ?? inner?.message ?? 'not allowed';
      return { path: [...path, key], message: `invalid key ${JSON.stringify(key)}: ${why}`, anchor: 'key' };
    }
    case 'minLength':
      return {
        path,
        message: p.limit === 1 ? 'must not be empty' : `must be at least ${p.limit} characters long`,
      };
    case 'maxLength':
      return {
        path,
        message: `must be at most ${p.limit} characters long (it has ${String(e.data).length})`,
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path, message: `must be ${p.comparison} ${p.limit}, not ${String(e.data)}` };
    case 'minItems':
      return {
        path,
        message: p.limit === 1 ? 'must not be an empty list' : `must have at least ${p.limit} items`,
      };
    case 'maxItems':
      return { path, message: `must have at most ${p.limit} items` };
    case 'minProperties': {
      const names = isRecord(parent.properties) ? Object.keys(parent.properties) : [];
      return {
        path,
        message: names.length ? `must set at least one of ${names.join(', ')}` : 'must not be empty',
      };
    }
    case 'uniqueItems':
      return { path, message: `must not repeat items (items ${p.j} and ${p.i} are equal)` };
    case 'not':
      // A field kept in the schema only to say why it is gone and what to use instead.
      return { path, message: str(parent.errorMessage) ?? 'is not allowed here' };
    case 'oneOf':
    case 'anyOf': {
      const message = choiceMessage(e);
      return message ? { path, message } : undefined;
    }
    default:
      return { path, message: e.message ?? `failed ${e.keyword}` };
  }
}

/** The misspelt field that a missing required field was probably meant as (`tragets` for `targets`). */
function misspeltAs(e: ErrorObject, errors: ErrorObject[]): string | undefined {
  const missing = String(e.params.missingProperty);
  for (const x of errors) {
    if (x.keyword !== 'additionalProperties' || x.instancePath !== e.instancePath) continue;
    const name = String(x.params.additionalProperty);
    if (closestMatch(name, [missing]) === missing) return name;
  }
  return undefined;
}

/**
 * Converts the errors of one validation run. Detail errors of alternatives and key patterns are folded
 * into one message, and a missing field that an unknown sibling misspells is reported only as the typo.
 */
export function schemaIssues(errors: ErrorObject[], data: unknown, sourceText: SourceTextOf): Issue[] {
  const issues: Issue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (e.propertyName !== undefined && e.keyword !== 'propertyNames') continue;
    if (e.keyword === 'required' && misspeltAs(e, errors) !== undefined) continue;
    const issue = oneIssue(e, pointerToPath(e.instancePath, data), sourceText, errors);
    if (!issue) continue;
    const key = `${issue.path.join('\u0000')}\u0001${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  return issues;
}
