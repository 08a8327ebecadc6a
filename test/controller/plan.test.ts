import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { planHost, planManifests } from '../../src/controller/plan.js';
import type { HostFacts } from '../../src/protocol/manifest.js';
import type { Resource, Selector } from '../../src/spec/types.js';
import { configFile, hostGroup, makeRevision } from '../helpers/revision.js';

const web1: HostFacts = {
  id: 'a-1',
  name: 'web-1',
  ips: ['10.0.1.5'],
  cloudId: 0,
  labels: { role: 'web', zone: 'gz' },
};
const web2: HostFacts = { id: 'a-2', name: 'web-2', ips: ['10.0.2.5'], cloudId: 1, labels: { role: 'web' } };
const db1: HostFacts = {
  id: 'a-3',
  name: 'db-1',
  ips: ['192.168.7.9', 'fd00::9'],
  cloudId: 2,
  labels: { role: 'db', tier: 'gold' },
};
const hosts = [web1, web2, db1];

/**
 * Hosts selected by `selector`. The hosts' labels are given by Git (one HostGroup per host, by name), since
 * matchLabels and matchExpressions see only what HostGroups give; the agents declare none.
 */
function selected(hosts: HostFacts[], selector: Selector): string[] {
  const groups = hosts.map((h) => hostGroup(`g-${h.name}`, { names: [h.name] }, h.labels));
  const rev = makeRevision([...groups, configFile('x', { hosts: selector, content: 'x' })]);
  const plan = planManifests(
    rev,
    hosts.map((h) => ({ ...h, labels: {} })),
  );
  return hosts.filter((h) => (plan.manifests.get(h.id)?.items.length ?? 0) > 0).map((h) => h.name);
}

describe('planManifests selection', () => {
  const table: { name: string; selector: Selector; expected: string[] }[] = [
    { name: 'name glob', selector: { names: ['web-*'] }, expected: ['web-1', 'web-2'] },
    {
      name: 'name glob with ? and class',
      selector: { names: ['web-[2]', 'db-?'] },
      expected: ['web-2', 'db-1'],
    },
    { name: 'matchLabels', selector: { matchLabels: { role: 'db' } }, expected: ['db-1'] },
    {
      name: 'matchLabels all must hold',
      selector: { matchLabels: { role: 'web', zone: 'gz' } },
      expected: ['web-1'],
    },
    {
      name: 'matchExpressions In',
      selector: { matchExpressions: [{ key: 'role', operator: 'In', values: ['db', 'cache'] }] },
      expected: ['db-1'],
    },
    {
      name: 'matchExpressions NotIn',
      selector: { matchExpressions: [{ key: 'role', operator: 'NotIn', values: ['db'] }] },
      expected: ['web-1', 'web-2'],
    },
    {
      name: 'matchExpressions Exists',
      selector: { matchExpressions: [{ key: 'zone', operator: 'Exists' }] },
      expected: ['web-1'],
    },
    {
      name: 'matchExpressions DoesNotExist',
      selector: { matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] },
      expected: ['web-2', 'db-1'],
    },
    { name: 'IPv4 cidr', selector: { cidrs: ['10.0.0.0/16'] }, expected: ['web-1', 'web-2'] },
    { name: 'IPv6 cidr on a second IP', selector: { cidrs: ['fd00::/8'] }, expected: ['db-1'] },
    { name: 'cloudIds', selector: { cloudIds: [1, 2] }, expected: ['web-2', 'db-1'] },
    { name: 'clauses are ANDed', selector: { names: ['web-*'], cloudIds: [0] }, expected: ['web-1'] },
    { name: 'empty selector selects nothing', selector: {}, expected: [] },
  ];
  it.each(table)('selects by $name', ({ selector, expected }) => {
    expect(selected(hosts, selector)).toEqual(expected);
  });

  it('selects by labels a HostGroup gives', () => {
    const rev = makeRevision([
      hostGroup('dc-east', { cidrs: ['10.0.2.0/24'] }, { dc: 'east' }),
      configFile('east', { hosts: { matchLabels: { dc: 'east' } }, content: 'x' }),
    ]);
    const plan = planManifests(rev, hosts);
    expect(plan.manifests.get('a-2')?.labels).toEqual({ dc: 'east', role: 'web' });
    expect(plan.manifests.get('a-2')?.items.map((i) => i.name)).toEqual(['east']);
    expect(plan.manifests.get('a-1')?.items).toEqual([]);
  });

  it('lets the HostGroup label win when the agent declares the same key', () => {
    const rev = makeRevision([hostGroup('all', { names: ['*'] }, { role: 'generic', env: 'prod' })]);
    expect(planHost(rev, web1).manifest.labels).toEqual({ role: 'generic', zone: 'gz', env: 'prod' });
  });

  it('never selects by an agent-declared label through matchLabels or matchExpressions', () => {
    // web-1's agent says role=web and zone=gz; Git gives no labels.
    const rev = makeRevision([
      configFile('by-labels', { hosts: { matchLabels: { role: 'web' } }, content: 'x' }),
      configFile('by-expr', {
        hosts: { matchExpressions: [{ key: 'zone', operator: 'Exists' }] },
        content: 'x',
      }),
    ]);
    expect(planHost(rev, web1).manifest.items).toEqual([]);
  });

  it('selects by an agent-declared label when the selector says matchAgentLabels', () => {
    const rev = makeRevision([
      configFile('canary', { hosts: { matchAgentLabels: { zone: 'gz' } }, content: 'x' }),
    ]);
    const plan = planManifests(rev, hosts);
    expect(plan.manifests.get('a-1')?.items.map((i) => i.name)).toEqual(['canary']);
    expect(plan.manifests.get('a-2')?.items).toEqual([]);
  });

  it('keeps an agent from claiming a HostGroup label to be selected', () => {
    // db-1's agent claims role=web; Git says it is a db host: web resources must not reach it.
    const liar: HostFacts = { ...db1, labels: { role: 'web' } };
    const rev = makeRevision([
      hostGroup('db', { names: ['db-*'] }, { role: 'db' }),
      configFile('web-only', { hosts: { matchLabels: { role: 'web' } }, content: 'x' }),
    ]);
    const { manifest } = planHost(rev, liar);
    expect(manifest.labels.role).toBe('db');
    expect(manifest.items).toEqual([]);
  });

  it('gives an empty manifest to a host selected by nothing', () => {
    const rev = makeRevision([configFile('x', { hosts: { names: ['nothing-*'] }, content: 'x' })]);
    const { manifest, errors } = planHost(rev, web1);
    expect(manifest.items).toEqual([]);
    expect(manifest.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(errors).toEqual([]);
  });
});

describe('planHost templates', () => {
  it('renders host facts and labels when template is true', () => {
    const rev = makeRevision([configFile('app', { source: 'files/app.conf', template: true })], {
      'files/app.conf':
        'server_name {{ host.name }}; # {{host.ip}} {{ host.labels.zone }} cloud={{ host.cloudId }} {{{{ raw }}',
    });
    const item = planHost(rev, web1).manifest.items[0];
    expect(item?.kind === 'ConfigFile' && item.content).toBe(
      'server_name web-1; # 10.0.1.5 gz cloud=0 {{ raw }}',
    );
  });

  it('leaves tags alone when template is false', () => {
    const rev = makeRevision([configFile('app', { content: 'x={{ host.name }}' })]);
    const item = planHost(rev, web1).manifest.items[0];
    expect(item?.kind === 'ConfigFile' && item.content).toBe('x={{ host.name }}');
  });

  it('reports a variable the host lacks instead of rendering it empty', () => {
    const rev = makeRevision([configFile('app', { content: 'zone={{ host.labels.zone }}', template: true })]);
    const { manifest, errors } = planHost(rev, web2);
    expect(manifest.items).toEqual([]);
    expect(errors).toEqual([
      {
        hostId: 'a-2',
        resource: 'ConfigFile/app',
        message: 'template: {{ host.labels.zone }} is not set on host web-2',
      },
    ]);
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])(
    'treats host.labels.%s as not set when it is no label of the host',
    (name) => {
      const rev = makeRevision([
        configFile('app', {
          content: `x={{ host.labels.${name} }} y={{ host.facts.${name} }}`,
          template: true,
        }),
      ]);
      const { manifest, errors } = planHost(rev, { ...web1, facts: { cpus: 4 } });
      expect(manifest.items).toEqual([]);
      expect(errors[0]?.message).toBe(
        `template: {{ host.labels.${name} }} is not set on host web-1; {{ host.facts.${name} }} is not set on host web-1`,
      );
    },
  );

  it('reports a malformed tag', () => {
    const rev = makeRevision([configFile('app', { content: 'x={{ host name }}', template: true })]);
    expect(planHost(rev, web1).errors[0]?.message).toContain('{{host name}} is not a variable');
  });

  it('ships binary sources as base64 with the hash of the bytes', () => {
    const bytes = Buffer.from([0, 1, 2, 255]);
    const rev = makeRevision([configFile('bin', { source: 'files/blob' })], { 'files/blob': bytes });
    const item = planHost(rev, web1).manifest.items[0];
    expect(item).toMatchObject({ encoding: 'base64', content: bytes.toString('base64') });
    expect(item?.kind === 'ConfigFile' && item.contentHash).toBe(
      createHash('sha256').update(bytes).digest('hex'),
    );
  });
});

describe('planHost hashes', () => {
  const resources = [
    configFile('b', { content: 'b' }),
    configFile('a', { content: 'a', mode: 0o600 }),
    hostGroup('g', { names: ['web-*'] }, { g: '1' }),
  ];

  it('gives the same manifest hash whatever the order of documents', () => {
    const one = planHost(makeRevision(resources), web1).manifest;
    const two = planHost(makeRevision([...resources].reverse(), {}, 'rev-2'), web1).manifest;
    expect(two.hash).toBe(one.hash);
    expect(two.items.map((i) => i.name)).toEqual(['a', 'b']);
  });

  it('changes the hash of only the item that changed', () => {
    const before = planHost(makeRevision(resources), web1).manifest;
    const after = planHost(
      makeRevision([configFile('a', { content: 'A', mode: 0o600 }), ...resources.slice(0, 1)]),
      web1,
    ).manifest;
    expect(after.hash).not.toBe(before.hash);
    expect(after.items.find((i) => i.name === 'b')?.hash).toBe(
      before.items.find((i) => i.name === 'b')?.hash,
    );
    expect(after.items.find((i) => i.name === 'a')?.hash).not.toBe(
      before.items.find((i) => i.name === 'a')?.hash,
    );
  });

  it('changes the hash when only the mode changes', () => {
    const a = planHost(makeRevision([configFile('a', { content: 'a', mode: 0o644 })]), web1).manifest;
    const b = planHost(makeRevision([configFile('a', { content: 'a', mode: 0o600 })]), web1).manifest;
    expect(a.hash).not.toBe(b.hash);
  });
});

describe('planHost HostChecks', () => {
  const check = (name: string, hosts: Selector, probe: object): Resource => ({
    apiVersion: 'gse/v1',
    kind: 'HostCheck',
    metadata: { name },
    pos: { file: 'checks.yaml', line: 1, col: 1 },
    spec: { hosts, intervalMs: 30_000, ...probe },
  });

  it('gives each selected host the check without its selector, after the other kinds', () => {
    const rev = makeRevision([
      check('var-disk', { names: ['web-*'] }, { disk: { mount: '/var', usedPercentOver: 90 } }),
      check('db-cores', { names: ['db-*'] }, { corefiles: { dir: '/var/crash', pattern: 'core*' } }),
      configFile('a', { content: 'a' }),
    ]);
    const { manifest } = planHost(rev, web1);
    expect(manifest.items.map((i) => `${i.kind}/${i.name}`)).toEqual(['ConfigFile/a', 'HostCheck/var-disk']);
    expect(manifest.items[1]).toEqual({
      kind: 'HostCheck',
      name: 'var-disk',
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      intervalMs: 30_000,
      disk: { mount: '/var', usedPercentOver: 90 },
    });
  });

  it('changes the check item hash when its threshold changes', () => {
    const at = (pct: number) =>
      planHost(
        makeRevision([check('d', { names: ['*'] }, { disk: { mount: '/', usedPercentOver: pct } })]),
        web1,
      ).manifest.items[0]?.hash;
    expect(at(80)).not.toBe(at(90));
  });
});
