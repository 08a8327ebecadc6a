import { describe, expect, it } from 'vitest';
import { FilterError } from '../../src/routing/errors.js';
import { compileFilters, readField } from '../../src/routing/filters.js';
import type { FilterCondition } from '../../src/spec/types.js';
import { record } from './fixtures.js';

const rec = record(1, {
  channel: 'syslog',
  host: { id: 'a-1', name: 'web-7', ip: '10.1.2.3', cloudId: 3 },
  fields: {
    level: 'error',
    code: 503,
    ok: false,
    nul: null,
    msg: 'disk /data is full',
    nested: { a: { b: 'deep' } },
    list: [{ mount: '/var' }],
    numstr: '42',
  },
});

const cases: Array<{ name: string; cond: FilterCondition; want: boolean }> = [
  { name: 'eq string', cond: { field: 'level', op: 'eq', value: 'error' }, want: true },
  { name: 'eq string mismatch', cond: { field: 'level', op: 'eq', value: 'info' }, want: false },
  { name: 'eq number', cond: { field: 'code', op: 'eq', value: 503 }, want: true },
  { name: 'eq boolean', cond: { field: 'ok', op: 'eq', value: false }, want: true },
  { name: 'eq does not coerce "42" to 42', cond: { field: 'numstr', op: 'eq', value: 42 }, want: false },
  { name: 'eq on a missing field', cond: { field: 'nope', op: 'eq', value: 'x' }, want: false },
  { name: 'eq on an object field', cond: { field: 'nested', op: 'eq', value: 'x' }, want: false },
  { name: 'ne differs', cond: { field: 'level', op: 'ne', value: 'info' }, want: true },
  { name: 'ne equal', cond: { field: 'level', op: 'ne', value: 'error' }, want: false },
  { name: 'ne on a missing field', cond: { field: 'nope', op: 'ne', value: 'x' }, want: true },
  { name: 'in contains', cond: { field: 'code', op: 'in', value: [500, 503] }, want: true },
  { name: 'in does not contain', cond: { field: 'code', op: 'in', value: [500, 502] }, want: false },
  { name: 'in on a missing field', cond: { field: 'nope', op: 'in', value: ['a'] }, want: false },
  { name: 'regex matches', cond: { field: 'msg', op: 'regex', value: '^disk .* full$' }, want: true },
  { name: 'regex does not match', cond: { field: 'msg', op: 'regex', value: '^cpu' }, want: false },
  { name: 'regex on a number field', cond: { field: 'code', op: 'regex', value: '503' }, want: false },
  { name: 'regex on a missing field', cond: { field: 'nope', op: 'regex', value: '.*' }, want: false },
  { name: 'exists present', cond: { field: 'level', op: 'exists' }, want: true },
  { name: 'exists counts null as present', cond: { field: 'nul', op: 'exists' }, want: true },
  { name: 'exists missing', cond: { field: 'nope', op: 'exists' }, want: false },
  { name: 'exists false on missing', cond: { field: 'nope', op: 'exists', value: false }, want: true },
  { name: 'exists false on present', cond: { field: 'level', op: 'exists', value: false }, want: false },
  { name: 'gt true', cond: { field: 'code', op: 'gt', value: 500 }, want: true },
  { name: 'gt equal is false', cond: { field: 'code', op: 'gt', value: 503 }, want: false },
  { name: 'lt true', cond: { field: 'code', op: 'lt', value: 600 }, want: true },
  { name: 'lt on a numeric string', cond: { field: 'numstr', op: 'lt', value: 100 }, want: false },
  { name: 'gt on a missing field', cond: { field: 'nope', op: 'gt', value: 0 }, want: false },
  { name: 'dotted path', cond: { field: 'nested.a.b', op: 'eq', value: 'deep' }, want: true },
  { name: 'dotted path through a scalar', cond: { field: 'level.x', op: 'exists' }, want: false },
  { name: 'array index path', cond: { field: 'list.0.mount', op: 'eq', value: '/var' }, want: true },
  { name: 'array index out of range', cond: { field: 'list.3.mount', op: 'exists' }, want: false },
  { name: 'no prototype lookups', cond: { field: 'nested.constructor', op: 'exists' }, want: false },
  { name: 'channel', cond: { field: 'channel', op: 'eq', value: 'syslog' }, want: true },
  { name: 'host.name', cond: { field: 'host.name', op: 'regex', value: '^web-' }, want: true },
  { name: 'host.ip', cond: { field: 'host.ip', op: 'eq', value: '10.1.2.3' }, want: true },
  { name: 'host.cloudId', cond: { field: 'host.cloudId', op: 'gt', value: 2 }, want: true },
];

describe('compileFilters', () => {
  it.each(cases)('evaluates $name', ({ cond, want }) => {
    expect(compileFilters({ allOf: [cond] })(rec)).toBe(want);
  });

  it('passes every record when filters are absent or empty', () => {
    expect(compileFilters(undefined)(rec)).toBe(true);
    expect(compileFilters({ allOf: [], anyOf: [] })(rec)).toBe(true);
  });

  it('requires every allOf condition when several are given', () => {
    const yes = { field: 'level', op: 'eq', value: 'error' } as const;
    const no = { field: 'code', op: 'lt', value: 100 } as const;
    expect(compileFilters({ allOf: [yes, yes] })(rec)).toBe(true);
    expect(compileFilters({ allOf: [yes, no] })(rec)).toBe(false);
  });

  it('requires one anyOf condition when several are given', () => {
    const yes = { field: 'level', op: 'eq', value: 'error' } as const;
    const no = { field: 'code', op: 'lt', value: 100 } as const;
    expect(compileFilters({ anyOf: [no, yes] })(rec)).toBe(true);
    expect(compileFilters({ anyOf: [no, no] })(rec)).toBe(false);
  });

  it('applies allOf and anyOf together when both are given', () => {
    const yes = { field: 'level', op: 'eq', value: 'error' } as const;
    const no = { field: 'code', op: 'lt', value: 100 } as const;
    expect(compileFilters({ allOf: [yes], anyOf: [no, yes] })(rec)).toBe(true);
    expect(compileFilters({ allOf: [no], anyOf: [yes] })(rec)).toBe(false);
    expect(compileFilters({ allOf: [yes], anyOf: [no] })(rec)).toBe(false);
  });

  const invalid: Array<{ name: string; cond: FilterCondition; error: string }> = [
    {
      name: 'bad regex',
      cond: { field: 'msg', op: 'regex', value: '(' },
      error: 'spec.filters.allOf[0]: invalid regex /(/',
    },
    {
      name: 'regex with a number',
      cond: { field: 'msg', op: 'regex', value: 3 },
      error: 'regex needs a string pattern',
    },
    { name: 'in with a scalar', cond: { field: 'code', op: 'in', value: 3 }, error: 'in needs an array' },
    {
      name: 'eq with no value',
      cond: { field: 'code', op: 'eq' },
      error: 'eq needs a string, number or boolean',
    },
    {
      name: 'gt with a string',
      cond: { field: 'code', op: 'gt', value: '3' },
      error: 'gt needs a finite number',
    },
    {
      name: 'exists with a string',
      cond: { field: 'code', op: 'exists', value: 'y' },
      error: 'optional boolean',
    },
    { name: 'empty field', cond: { field: '', op: 'exists' }, error: 'field must be a non-empty path' },
    { name: 'unknown op', cond: { field: 'a', op: 'like' as 'eq', value: 'x' }, error: 'unknown op "like"' },
  ];

  it.each(invalid)('throws FilterError when given $name', ({ cond, error }) => {
    const compile = () => compileFilters({ allOf: [cond] });
    expect(compile).toThrow(FilterError);
    expect(compile).toThrow(error);
  });

  it('names the anyOf index when an anyOf condition is bad', () => {
    expect(() =>
      compileFilters(
        {
          anyOf: [
            { field: 'a', op: 'exists' },
            { field: 'b', op: 'regex', value: '[' },
          ],
        },
        'routes[2].spec.filters',
      ),
    ).toThrow('routes[2].spec.filters.anyOf[1]: invalid regex');
  });
});

describe('readField', () => {
  it('reads record paths and fields paths when given a dotted path', () => {
    expect(readField(rec, 'host.cloudId')).toBe(3);
    expect(readField(rec, 'nested.a.b')).toBe('deep');
    expect(readField(rec, 'missing.x')).toBeUndefined();
  });
});
