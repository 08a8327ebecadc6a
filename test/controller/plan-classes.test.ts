import { describe, expect, it } from 'vitest';
import { planHost, type VersionsOf } from '../../src/controller/plan.js';
import { ClassPlanner } from '../../src/controller/plan-classes.js';
import type { HostFacts } from '../../src/protocol/manifest.js';
import type { Resource } from '../../src/spec/types.js';
import { configFile, hostGroup, makeRevision } from '../helpers/revision.js';

const pos = { file: 'test.yaml', line: 1, col: 1 };

function fact(i: number, extra: Partial<HostFacts> = {}): HostFacts {
  return { id: `h-${i}`, name: `web-${i}`, ips: [`10.0.0.${i}`], cloudId: 0, labels: {}, ...extra };
}

function agentVersion(name: string, version: string): Resource {
  return {
    apiVersion: 'gse/v1',
    kind: 'AgentVersion',
    metadata: { name },
    pos,
    spec: {
      version,
      hosts: { names: ['*'] },
      rollout: {
        batchSize: 1,
        maxUnavailable: 1,
        maxFailures: 0,
        pauseBetweenMs: 0,
        mode: 'auto',
        healthDeadlineMs: 60_000,
      },
    },
  } as Resource;
}

const revision = makeRevision(
  [
    hostGroup('zone-a', { names: ['web-1', 'web-2', 'web-5'] }, { zone: 'a' }),
    hostGroup('zone-b', { names: ['web-3', 'web-4'] }, { zone: 'b' }),
    configFile('motd', { content: 'hello fleet\n' }),
    configFile('zone', { content: 'zone={{ host.labels.zone }}\n', template: true }),
    configFile('only-b', { content: 'b\n', hosts: { matchLabels: { zone: 'b' } } }),
    configFile('gpu', { content: 'gpu\n', hosts: { matchAgentLabels: { gpu: 'yes' } } }),
  ],
  {},
  'rev-1',
);

describe('ClassPlanner', () => {
  const table: Array<{ name: string; a: HostFacts; b: HostFacts; shared: boolean }> = [
    { name: 'same HostGroup, no agent labels', a: fact(1), b: fact(2), shared: true },
    { name: 'another HostGroup (another zone label and selection)', a: fact(1), b: fact(3), shared: false },
    {
      name: 'an agent label a selector reads',
      a: fact(1),
      b: fact(2, { labels: { gpu: 'yes' } }),
      shared: false,
    },
    {
      name: 'an agent label no selector reads (it is still in the manifest labels)',
      a: fact(1),
      b: fact(2, { labels: { team: 'x' } }),
      shared: false,
    },
    {
      name: 'the same agent labels in another order',
      a: fact(1, { labels: { team: 'x', tier: '1' } }),
      b: fact(2, { labels: { tier: '1', team: 'x' } }),
      shared: true,
    },
    {
      name: 'facts no template reads',
      a: fact(1, { os: 'linux', facts: { cpus: 4 } }),
      b: fact(2, { os: 'bsd', facts: { cpus: 64 } }),
      shared: true,
    },
  ];
  for (const { name, a, b, shared } of table) {
    it(`${shared ? 'shares' : 'does not share'} a plan when two hosts differ by ${name}`, () => {
      const planner = new ClassPlanner(revision);
      const pa = planner.plan(a);
      const pb = planner.plan(b);
      expect(pa.plan === pb.plan).toBe(shared);
      expect(pa.manifest.items === pb.manifest.items).toBe(shared);
      expect(planner.size).toBe(shared ? 1 : 2);
      // Whatever the class, each host gets exactly what planning it alone gives.
      for (const h of [a, b]) expect(planner.plan(h).manifest).toEqual(planHost(revision, h).manifest);
      expect(pb.manifest.hostId).toBe(b.id);
    });
  }

  it('moves a host to another class when its labels change', () => {
    const planner = new ClassPlanner(revision);
    const before = planner.plan(fact(1)).plan;
    const peer = planner.plan(fact(2)).plan;
    const moved = planner.plan(fact(1, { labels: { gpu: 'yes' } }));
    expect(peer).toBe(before);
    expect(moved.plan).not.toBe(before);
    expect(moved.manifest.items.map((i) => i.name)).toEqual(['gpu', 'motd', 'zone']);
    expect(moved.manifest.hash).not.toBe(before.hash);
    expect(planner.plan(fact(1)).plan).toBe(before);
  });

  it('keys a templated file by the variables it reads, so hosts with equal values share it', () => {
    const byName = makeRevision([configFile('id', { content: 'name={{ host.name }}\n', template: true })]);
    const planner = new ClassPlanner(byName);
    const a = planner.plan(fact(1));
    const b = planner.plan(fact(2));
    expect(a.plan).not.toBe(b.plan);
    expect(a.manifest).toEqual(planHost(byName, fact(1)).manifest);
    expect(b.manifest).toEqual(planHost(byName, fact(2)).manifest);
  });

  it('plans each host alone when its class cannot be rendered, so errors name that host', () => {
    const broken = makeRevision([configFile('t', { content: '{{ host.labels.role }}\n', template: true })]);
    const planner = new ClassPlanner(broken);
    const a = planner.plan(fact(1));
    const b = planner.plan(fact(2));
    expect(a.plan).toBe(b.plan);
    expect(a.plan.failed).toBe(true);
    expect(a.errors).toEqual([
      expect.objectContaining({ hostId: 'h-1', message: expect.stringContaining('web-1') }),
    ]);
    expect(b.errors).toEqual([
      expect.objectContaining({ hostId: 'h-2', message: expect.stringContaining('web-2') }),
    ]);
  });

  it('puts hosts with another rollout assignment in another class', () => {
    const rev = makeRevision([agentVersion('agent', '2.0.0')]);
    const versions: VersionsOf = (_name, host) =>
      host.id === 'h-2' ? { version: '1.0.0', attempt: 1 } : undefined;
    const planner = new ClassPlanner(rev);
    const [a, b, c] = [1, 2, 3].map((i) => planner.plan(fact(i), versions));
    expect(a?.plan).toBe(c?.plan);
    expect(b?.plan).not.toBe(a?.plan);
    expect(b?.manifest).toEqual(planHost(rev, fact(2), versions).manifest);
  });

  it('gives selectors the host as the planner sees it (HostGroup labels apart from the agent labels)', () => {
    const planner = new ClassPlanner(revision);
    expect(planner.plan(fact(3, { labels: { gpu: 'yes' } })).selectable).toEqual({
      name: 'web-3',
      ips: ['10.0.0.3'],
      cloudId: 0,
      labels: { zone: 'b' },
      agentLabels: { gpu: 'yes' },
    });
  });
});
