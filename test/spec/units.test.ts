import { describe, expect, it } from 'vitest';
import { parseDurationMs, parseMode } from '../../src/spec/defaults.js';
import { closestMatch, editDistance } from '../../src/spec/did-you-mean.js';
import { formatFieldPath, pointerToPath } from '../../src/spec/field-path.js';
import { parseYamlFile } from '../../src/spec/parse-yaml.js';
import { literalSecretIssues } from '../../src/spec/secrets.js';
import { cidrProblem, globProblem } from '../../src/spec/selector-checks.js';
import { isSpecFile } from '../../src/spec/spec-files.js';
import { formatSpecError } from '../../src/spec/types.js';

describe('editDistance', () => {
  it.each([
    ['targets', 'targets', 0],
    ['tragets', 'targets', 1],
    ['lables', 'labels', 1],
    ['kafka-a', 'kafka-b', 1],
    ['', 'abc', 3],
    ['mode', 'path', 4],
  ])('counts %s -> %s as %i edits', (a, b, n) => {
    expect(editDistance(a, b)).toBe(n);
  });
});

describe('closestMatch', () => {
  it('suggests the nearest candidate when it is a likely typo', () => {
    expect(closestMatch('tragets', ['channel', 'targets', 'hosts'])).toBe('targets');
    expect(closestMatch('Targets', ['targets'])).toBe('targets');
  });

  it('suggests nothing when every candidate is far', () => {
    expect(closestMatch('bogus', ['hosts', 'path', 'source', 'content'])).toBeUndefined();
    expect(closestMatch('x', [])).toBeUndefined();
  });
});

describe('globProblem', () => {
  it.each(['*', 'web-*', 'db-0?', 'cache-[0-9]*', 'a[!xy]b', 'host.example.com'])('accepts %s', (glob) => {
    expect(globProblem(glob)).toBeUndefined();
  });

  it.each([
    ['web-[', 'has a "[" without a closing "]"'],
    ['web-]', 'has a "]" without a "["'],
    ['web-[]', 'has an empty character class "[]"'],
    ['web-[z-a]', 'has a reversed range "z-a"'],
    ['web-{a,b}', 'braces are not supported; list each pattern separately'],
    ['web *', 'contains whitespace'],
  ])('rejects %s', (glob, problem) => {
    expect(globProblem(glob)).toBe(problem);
  });
});

describe('cidrProblem', () => {
  it.each(['10.0.0.0/8', '192.168.1.7', '0.0.0.0/0', 'fd00::/8', '::1'])('accepts %s', (cidr) => {
    expect(cidrProblem(cidr)).toBeUndefined();
  });

  it.each([
    ['10.0.0.0/33', 'the prefix length must be 0 to 32'],
    ['fd00::/129', 'the prefix length must be 0 to 128'],
    ['10.0.0/8', '"10.0.0" is not an IPv4 or IPv6 address'],
    ['10.0.0.0/x', 'the prefix length must be 0 to 32'],
    ['10.0.0.0/8/9', 'has more than one "/"'],
  ])('rejects %s', (cidr, problem) => {
    expect(cidrProblem(cidr)).toBe(problem);
  });
});

describe('parseDurationMs', () => {
  it.each([
    ['200ms', 200],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['0s', 0],
  ])('reads %s as %i ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it('throws when the text is not a duration', () => {
    expect(() => parseDurationMs('5min')).toThrow(RangeError);
  });
});

describe('parseMode', () => {
  it('reads octal strings with and without a leading zero', () => {
    expect(parseMode('0644')).toBe(0o644);
    expect(parseMode('755')).toBe(0o755);
    expect(parseMode('1777')).toBe(0o1777);
  });
});

describe('formatFieldPath', () => {
  it('prints keys with dots and indexes with brackets', () => {
    expect(formatFieldPath(['spec', 'targets', 0, 'name'])).toBe('spec.targets[0].name');
    expect(formatFieldPath(['metadata', 'labels', 'gse-gitops.dev/tier'])).toBe(
      'metadata.labels["gse-gitops.dev/tier"]',
    );
    expect(formatFieldPath([])).toBe('');
  });
});

describe('pointerToPath', () => {
  it('tells list indexes from numeric map keys by the data', () => {
    const data = { spec: { targets: [{ name: 'a' }], labels: { '0': 'x', 'a/b': 'y' } } };
    expect(pointerToPath('/spec/targets/0/name', data)).toEqual(['spec', 'targets', 0, 'name']);
    expect(pointerToPath('/spec/labels/0', data)).toEqual(['spec', 'labels', '0']);
    expect(pointerToPath('/spec/labels/a~1b', data)).toEqual(['spec', 'labels', 'a/b']);
  });
});

describe('isSpecFile', () => {
  it.each([
    ['a.yaml', true],
    ['deep/dir/b.yml', true],
    ['UPPER.YAML', true],
    ['files/a.yaml', false],
    ['apps/files/a.yaml', false],
    ['apps/files.yaml', true],
    ['.github/workflows/ci.yml', false],
    ['.gitlab-ci.yml', false],
    ['README.md', false],
    ['a.yaml.bak', false],
  ])('says %s is a spec file: %s', (path, expected) => {
    expect(isSpecFile(path)).toBe(expected);
  });
});

describe('literalSecretIssues', () => {
  it('finds secret-named keys holding literals anywhere', () => {
    const issues = literalSecretIssues({
      a: { password: 'x' },
      b: [{ DB_PASSWORD: 'y' }],
      passwordFrom: { env: 'P' },
    });
    expect(issues.map((i) => i.path)).toEqual([
      ['a', 'password'],
      ['b', 0, 'DB_PASSWORD'],
    ]);
  });

  it('walks shared and cyclic nodes once', () => {
    const shared: Record<string, unknown> = { token: 't' };
    shared.self = shared;
    expect(literalSecretIssues({ a: shared, b: shared })).toHaveLength(1);
  });
});

describe('parseYamlFile', () => {
  const text = ['# comment', '---', 'a:', '  b: [1, 2]', '  c:', '    d: 0644', '---', '# empty', ''].join(
    '\n',
  );

  it('places documents at their first content line and skips empty ones', () => {
    const { docs, errors } = parseYamlFile('f.yaml', text);
    expect(errors).toEqual([]);
    expect(docs.map((d) => [d.index, d.pos])).toEqual([[0, { file: 'f.yaml', line: 3, col: 1 }]]);
    expect(docs[0]?.data).toEqual({ a: { b: [1, 2], c: { d: 644 } } });
  });

  it('locates values, keys and missing fields at their nearest parent', () => {
    const doc = parseYamlFile('f.yaml', text).docs[0];
    expect(doc?.locate(['a', 'b', 1])).toEqual({ file: 'f.yaml', line: 4, col: 10 });
    expect(doc?.locate(['a', 'c', 'd'])).toEqual({ file: 'f.yaml', line: 6, col: 8 });
    expect(doc?.locate(['a', 'c', 'd'], 'key')).toEqual({ file: 'f.yaml', line: 6, col: 5 });
    expect(doc?.locate(['a', 'c'])).toEqual({ file: 'f.yaml', line: 5, col: 3 });
    expect(doc?.locate(['a', 'c', 'missing', 'deeper'])).toEqual({ file: 'f.yaml', line: 5, col: 3 });
    expect(doc?.locate(['nope'])).toEqual({ file: 'f.yaml', line: 3, col: 1 });
    expect(doc?.sourceText(['a', 'c', 'd'])).toBe('0644');
  });

  it('reports syntax errors at their position and keeps the valid documents', () => {
    const { docs, errors } = parseYamlFile('f.yaml', 'a: 1\n---\nb: [1\n---\nc: 3\n');
    expect(docs.map((d) => d.data)).toEqual([{ a: 1 }, { c: 3 }]);
    // At the `[` left open on line 3, not where the parser gave up (line 4).
    expect(errors[0]).toMatchObject({ file: 'f.yaml', line: 3, col: 4, path: '' });
  });
});

describe('formatSpecError', () => {
  it('prints file:line:col, then the path when there is one', () => {
    expect(formatSpecError({ file: 'a.yaml', line: 3, col: 5, path: 'spec.mode', message: 'bad' })).toBe(
      'a.yaml:3:5: spec.mode: bad',
    );
    expect(formatSpecError({ file: 'a.yaml', line: 1, col: 1, path: '', message: 'bad' })).toBe(
      'a.yaml:1:1: bad',
    );
  });
});
