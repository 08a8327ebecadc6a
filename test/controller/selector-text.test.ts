import { describe, expect, it } from 'vitest';
import { type SelectableHost, selectorMatches } from '../../src/controller/select.js';
import { parseSelectorText } from '../../src/controller/selector-text.js';
import { loadRevision } from '../../src/spec/load.js';
import type { Selector } from '../../src/spec/types.js';
import { memTree, yaml } from '../spec/helpers.js';

const host = (
  name: string,
  labels: Record<string, string>,
  ips = ['10.0.0.1'],
  cloudId = 0,
): SelectableHost => ({
  name,
  labels,
  ips,
  cloudId,
});

const FLEET = [
  host('web-1', { role: 'web', zone: 'gz' }),
  host('web-2', { role: 'web', zone: 'sh', canary: 'true' }),
  host('db-1', { role: 'db', zone: 'gz' }, ['192.168.1.5'], 2),
  host('cache-1', { zone: 'sh' }),
  host('both-1', { role: 'web', tier: 'db' }),
];

/** The names of the hosts in FLEET the text selects. */
function picks(text: string): string[] {
  const parsed = parseSelectorText(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return FLEET.filter((h) => selectorMatches(parsed.selector, h)).map((h) => h.name);
}

describe('parseSelectorText', () => {
  it('matches nothing for role=web,role=db when no host has both (the bug: it ran on db hosts)', () => {
    expect(picks('role=web,role=db')).toEqual([]);
    expect(picks('role=db')).toEqual(['db-1']);
  });

  it.each([
    { input: 'role=web', hosts: ['web-1', 'web-2', 'both-1'] },
    { input: 'role==web', hosts: ['web-1', 'web-2', 'both-1'] },
    { input: 'role=web,zone=gz', hosts: ['web-1'] },
    { input: ' role = web , zone = sh ', hosts: ['web-2'] },
    { input: 'role!=web', hosts: ['db-1', 'cache-1'] },
    { input: 'role in (web,db)', hosts: ['web-1', 'web-2', 'db-1', 'both-1'] },
    { input: 'role in ( web , db ),zone=gz', hosts: ['web-1', 'db-1'] },
    { input: 'role notin (web,db)', hosts: ['cache-1'] },
    { input: 'role notin (db),zone notin (sh)', hosts: ['web-1', 'both-1'] },
    { input: 'canary', hosts: ['web-2'] },
    { input: '!canary,role=web', hosts: ['web-1', 'both-1'] },
    { input: '!role', hosts: ['cache-1'] },
    { input: 'role,tier', hosts: ['both-1'] },
    { input: '*', hosts: ['web-1', 'web-2', 'db-1', 'cache-1', 'both-1'] },
    { input: 'web-*', hosts: ['web-1', 'web-2'] },
    { input: 'web-[!1]', hosts: ['web-2'] },
    { input: 'name=web-*,zone=gz', hosts: ['web-1'] },
    { input: 'name in (web-1,db-*)', hosts: ['web-1', 'db-1'] },
    { input: 'cidr=192.168.0.0/16', hosts: ['db-1'] },
    { input: 'cloud in (0,2),role=db', hosts: ['db-1'] },
    { input: 'cloud=0,role in (db)', hosts: [] },
  ])('$input selects $hosts', ({ input, hosts }) => {
    expect(picks(input)).toEqual(hosts);
  });

  it.each([
    { input: 'role=web', selector: { matchLabels: { role: 'web' } } },
    {
      input: 'role=web,role=db',
      selector: {
        matchLabels: { role: 'web' },
        matchExpressions: [{ key: 'role', operator: 'In', values: ['db'] }],
      },
    },
    { input: '*', selector: { names: ['*'] } },
    { input: 'cidr=10.0.0.0/8,cloud=2', selector: { cidrs: ['10.0.0.0/8'], cloudIds: [2] } },
    {
      input: 'gse-gitops.dev/tier notin (a,b),!legacy',
      selector: {
        matchExpressions: [
          { key: 'gse-gitops.dev/tier', operator: 'NotIn', values: ['a', 'b'] },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      },
    },
  ])('parses $input into a spec Selector', ({ input, selector }) => {
    expect(parseSelectorText(input)).toEqual({ ok: true, selector });
  });

  it.each([
    { name: 'empty', input: '', error: 'empty selector: give e.g. role=web' },
    { name: 'blank', input: '   ', error: 'empty selector' },
    {
      name: 'unclosed set',
      input: 'role in (web,db',
      error: "unclosed ( in 'role in (web,db' at column 9; close the set: role in (web,db)",
    },
    {
      name: 'unclosed set after another term',
      input: 'zone=gz, role notin (a',
      error: "unclosed ( in 'role notin (a' at column 21; close the set: role notin (a)",
    },
    {
      name: 'set without parentheses',
      input: 'role in web',
      error: "'role in web' at column 9: in takes a set in parentheses: role in (a,b)",
    },
    {
      name: 'empty set',
      input: 'role in ()',
      error: 'the set is empty; list at least one value: role in (a,b)',
    },
    {
      name: 'missing value',
      input: 'role=',
      error: "'role=' at column 6 has no value; write role=VALUE, or role alone",
    },
    { name: 'missing key', input: '=web', error: "'=web' at column 1 has no key; write key=value" },
    { name: 'extra comma', input: 'role=web,,zone=gz', error: 'empty term at column 10' },
    { name: 'trailing comma', input: 'role=web,', error: 'empty term at column 10' },
    {
      name: 'unknown operator',
      input: 'role like web',
      error:
        "'role like web' at column 6: expected =, !=, in (...), notin (...) or a comma after 'role', got 'like'",
    },
    {
      name: 'missing comma',
      input: 'role=web zone=gz',
      error: "'role=web zone=gz' at column 1: unexpected 'z' at column 10; join terms with a comma",
    },
    {
      name: 'a stray !',
      input: 'role !x',
      error: "'role !x' at column 6: expected =, !=, in (...), notin (...) or a comma after 'role', got '!'",
    },
    {
      name: 'a stray )',
      input: 'role)',
      error: "'role)' at column 5: expected =, !=, in (...), notin (...) or a comma after 'role', got ')'",
    },
    {
      name: 'negated pair',
      input: '!role=web',
      error: "'!' takes a key alone; to exclude a value write role!=VALUE",
    },
    {
      name: 'space in a key',
      input: 'ro le=x',
      error: "'ro le=x' at column 4: expected =, !=, in (...), notin (...) or a comma after 'ro', got 'le'",
    },
    { name: 'bad label key chars', input: 'role$=x', error: "'role$' is not a label key" },
    {
      name: 'cloud not a number',
      input: 'cloud=x',
      error: "cloud takes a number (a cloud area id), got 'x'",
    },
    {
      name: 'bad glob',
      input: 'name=web-[1',
      error: 'invalid glob \'web-[1\': has a "[" without a closing "]"',
    },
    { name: 'bad CIDR', input: 'cidr=10.0.0.0/33', error: 'invalid CIDR' },
    { name: 'negated name', input: 'name!=web-1', error: 'name takes = or in (...) only' },
    {
      name: 'two name terms',
      input: 'web-*,name=db-1',
      error:
        "'name=db-1' at column 7: name is already given by 'web-*'; for any of several write one term: name in (web-*,db-1)",
    },
  ])('rejects $name: $input', ({ input, error }) => {
    const r = parseSelectorText(input);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toContain(error);
  });
});

describe('selector text and spec YAML', () => {
  /** The selector of a ConfigFile whose `hosts:` is the YAML given, through the real spec loader. */
  function specSelector(hostsYaml: string[]): Selector {
    const doc = yaml(
      'apiVersion: gse/v1',
      'kind: ConfigFile',
      'metadata: { name: motd }',
      'spec:',
      '  hosts:',
      ...hostsYaml.map((l) => `    ${l}`),
      '  path: /etc/motd',
      '  content: hello',
    );
    const result = loadRevision(memTree({ 'motd.yaml': doc }));
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    const cf = result.revision.byKind.ConfigFile[0];
    if (!cf) throw new Error('no ConfigFile loaded');
    return cf.spec.hosts;
  }

  it.each([
    { text: 'role=web,zone=gz', yaml: ['matchLabels: { role: web, zone: gz }'] },
    {
      text: 'role in (web,db),!canary',
      yaml: [
        'matchExpressions:',
        '  - { key: role, operator: In, values: [web, db] }',
        '  - { key: canary, operator: DoesNotExist }',
      ],
    },
    {
      text: 'role notin (web),zone',
      yaml: [
        'matchExpressions:',
        '  - { key: role, operator: NotIn, values: [web] }',
        '  - { key: zone, operator: Exists }',
      ],
    },
    {
      text: 'name in (web-*,cache-*),zone=sh',
      yaml: ['names: [web-*, cache-*]', 'matchLabels: { zone: sh }'],
    },
    { text: 'cidr=192.168.0.0/16,cloud in (2,3)', yaml: ['cidrs: [192.168.0.0/16]', 'cloudIds: [2, 3]'] },
  ])('$text picks the same hosts as its YAML twin', ({ text, yaml: hostsYaml }) => {
    const fromSpec = specSelector(hostsYaml);
    const fromText = picks(text);
    expect(FLEET.filter((h) => selectorMatches(fromSpec, h)).map((h) => h.name)).toEqual(fromText);
    expect(fromText.length).toBeGreaterThan(0);
  });
});
