import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseYamlFast, resolvePlainScalar } from '../../src/spec/fast-yaml.js';
import { parseYamlFile } from '../../src/spec/parse-yaml.js';
import { seededRandom } from '../helpers/random.js';
import { CONFIG_FILE, STREAM_TARGET, yaml } from './helpers.js';

/** The fast path's answer must be the `yaml` path's, or no answer (the file then takes the `yaml` path). */
function expectSameAsYaml(text: string): 'fast' | 'fallback' {
  const fast = parseYamlFast('f.yaml', text);
  const full = parseYamlFile('f.yaml', text);
  if (fast === undefined) return 'fallback';
  expect(full.errors, `fast path accepted what yaml refuses:\n${text}`).toEqual([]);
  expect(fast, `fast path differs from yaml:\n${text}`).toEqual(
    full.docs.map(({ file, index, data, pos }) => ({ file, index, data, pos })),
  );
  return 'fast';
}

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(dir, f));
}

const random = seededRandom;

/** Characters and tokens that change YAML's structure or a scalar's type when inserted. */
const MUTATION_CHARS = [
  ...' \n:-#{}[],"\'|>?&*!%@`~.0123456789eExotTfFnN_+\\',
  ...[': ', '- ', '\n  ', '\n- ', '? ', '\n---\n', '\n...\n', '|-\n', '>\n  ', '  ', '\n#', ' #', '{}', '[]'],
];

function mutate(text: string, next: () => number): string {
  let out = text;
  const edits = 1 + Math.floor(next() * 3);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(next() * (out.length + 1));
    const ch = MUTATION_CHARS[Math.floor(next() * MUTATION_CHARS.length)] ?? ' ';
    const op = next();
    if (op < 0.4) out = out.slice(0, at) + ch + out.slice(at);
    else if (op < 0.7) out = out.slice(0, at) + out.slice(at + 1);
    else out = out.slice(0, at) + ch + out.slice(at + 1);
  }
  return out;
}

const ROUTE = yaml(
  '# a comment before the document',
  'apiVersion: gse/v1',
  'kind: Route',
  'metadata: { name: r1, labels: { team: a, "tier": "1" } }',
  'spec:',
  '  channel: 1001',
  '  hosts:',
  '    matchLabels: { role: web }',
  '    names: ["web-*", api-?1]',
  '  filters:',
  '    allOf:',
  '      - { field: level, op: ne, value: debug }',
  '    anyOf:',
  "      - { field: type, op: regex, value: '^process\\.' }",
  '      - field: size',
  '        op: gt',
  '        value: 1.5e3',
  '  targets:',
  '    - name: redis-events',
  '  batch: { maxRecords: 500, maxDelay: 200ms }',
  '  notes: >-',
  '    folded',
  '    text',
  '',
  '    and more',
  '  script: |',
  '    #!/bin/sh',
  '    echo "a: b" && exit 0',
  '  plain: multi',
  '    line plain',
);

describe('resolvePlainScalar', () => {
  it.each([
    '',
    '~',
    'null',
    'Null',
    'NULL',
    'nULL',
    'true',
    'True',
    'TRUE',
    'tRUE',
    'false',
    'FALSE',
    'yes',
    'no',
    'on',
    'off',
    'y',
    '0',
    '-0',
    '+12',
    '0644',
    '0o17',
    '0o8',
    '0x1F',
    '0X1F',
    '0b101',
    '1_000',
    '12345678901234567890',
    '1.5',
    '1.',
    '.5',
    '+.5',
    '-1.50',
    '1e3',
    '1E-3',
    '.5e2',
    '1.0.0',
    '.inf',
    '-.Inf',
    '+.INF',
    '.nan',
    '.NaN',
    '-.nan',
    '30s',
    '25%',
    'systemctl reload app',
    '10.0.0.0/16',
  ])('resolves %j as yaml does', (source) => {
    expect(resolvePlainScalar(source)).toEqual(parse(`v: ${source}\n`).v);
  });
});

describe('parseYamlFast', () => {
  it('gives what parse-yaml gives for the spec files and examples of this repo', () => {
    const files = [...yamlFilesUnder('examples'), ...yamlFilesUnder('specs'), ...yamlFilesUnder('packaging')];
    expect(files.length).toBeGreaterThan(5);
    const outcomes = files.map((f) => expectSameAsYaml(readFileSync(f, 'utf8')));
    expect(outcomes).toContain('fast');
  });

  it.each([
    [
      'several documents, comments and markers',
      `# head\n---\n${CONFIG_FILE}---\n\n---\n# only a comment\n---\n${STREAM_TARGET}`,
    ],
    ['a document start on the marker line', `--- # c\n${CONFIG_FILE}--- {a: 1, b: [x, "y"]}\n`],
    ['a flow mapping as the root', '{apiVersion: gse/v1, kind: Route}\n'],
    ['every scalar style', ROUTE],
    ['indented content', '\n\n  # x\n  a: 1\n  b:\n    - c\n    -\n    - {}\n'],
    ['empty values and an empty key', 'a:\nb: ~\n"": x\nc: []\nd: {}\n'],
    ['keys that are not strings', '1: a\ntrue: b\n1.5: c\n0x10: d\nnull: e\n'],
    ['a __proto__ key', '__proto__: { polluted: true }\nother: 1\n'],
    ['quoted escapes', 'a: "tab\\tnew\\nline \\u00e9 \\x41"\nb: \'it\'\'s\'\nc: "multi\n  line"\n'],
    [
      'block scalar chomping',
      'a: |+\n  keep\n\nb: |-\n  strip\nc: >\n  f\n  g\n\n  h\nd: |2\n    indented\n',
    ],
    ['unicode', 'name: "héllo"\nemoji: 🚀 launch\n'],
    [
      'comments between entries',
      'x:\n  a: 1\n#c\n  b: 2\n  c:\n    # c\n    - 1\n# c\n    - 2\n  d:\n    "q"\n',
    ],
  ])('gives what parse-yaml gives for %s', (_name, text) => {
    expect(expectSameAsYaml(text)).toBe('fast');
  });

  it.each([
    ['an anchor and alias', 'a: &x { b: 1 }\nc: *x\n'],
    ['a merge key with an alias', 'a: &x { b: 1 }\nc: { <<: *x }\n'],
    ['a tag', 'a: !!str 1\n'],
    ['a custom tag', 'a: !secret x\n'],
    ['a directive', '%YAML 1.2\n---\na: 1\n'],
    ['a repeated key', 'a: 1\na: 2\n'],
    ['keys that collapse to one string', '1: a\n"1": b\n'],
    ['a mapping as a key', '? { a: 1 }\n: b\n'],
    ['a scalar document', 'just text\n'],
    ['a null document', '~\n'],
    ['a sequence document', '- a\n- b\n'],
    ['a tab', 'a:\tb\n'],
    ['CRLF line ends', 'a: 1\r\nb: 2\r\n'],
    ['a BOM', '\ufeffa: 1\n'],
    ['a control character', 'a: "\u0007"\n'],
    ['an empty file', ''],
    ['a file of comments', '# nothing\n'],
    ['an unclosed flow mapping', 'a: { b: 1\n'],
    ['an unclosed quote', 'a: "b\n'],
    ['bad indentation', 'a:\n  b: 1\n c: 2\n'],
    ['a multi-line implicit key', 'a\nb: 1\n'],
    ['a very long key', `${'k'.repeat(1100)}: 1\n`],
    ['an absent key', 'a: 1\n: b\n'],
    ['a document end marker', '...\na: 1\n'],
    ['a plain value after a less indented comment (yaml: an error)', 'x:\n  a:\n#c\n    b\n  e: 1\n'],
    ['a plain item after a less indented comment (yaml: another value)', 'x:\n  -\n#c\n    b\n  - e\n'],
  ])('leaves %s to parse-yaml', (_name, text) => {
    expect(expectSameAsYaml(text)).toBe('fallback');
  });

  // FUZZ_SEED / FUZZ_N explore further by hand (30,000 x 10 seeds passed); the defaults keep it reproducible.
  it('gives what parse-yaml gives, or leaves the file to it, for 3,000 random mutations of spec files', () => {
    const next = random(Number(process.env.FUZZ_SEED ?? 20261206));
    const samples = [CONFIG_FILE, STREAM_TARGET, ROUTE, `${CONFIG_FILE}---\n${STREAM_TARGET}`];
    const outcomes = { fast: 0, fallback: 0 };
    for (let i = 0; i < Number(process.env.FUZZ_N ?? 3000); i++) {
      const sample = samples[i % samples.length] ?? '';
      outcomes[expectSameAsYaml(mutate(sample, next))]++;
    }
    // Both paths must have been exercised for the comparison to mean anything.
    expect(outcomes.fast).toBeGreaterThan(300);
    expect(outcomes.fallback).toBeGreaterThan(300);
  });
});
