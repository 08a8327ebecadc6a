import { describe, expect, it } from 'vitest';
import { planHost } from '../../src/controller/plan.js';
import { previewRevision } from '../../src/controller/preview.js';
import type { HostFacts } from '../../src/protocol/manifest.js';
import { loadRevision } from '../../src/spec/load.js';
import type { Revision } from '../../src/spec/types.js';
import { memTree } from '../spec/helpers.js';

function revision(files: Record<string, string>): Revision {
  const result = loadRevision(memTree(files));
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.revision;
}

const cf = (name: string, hosts: string, content: string) =>
  [
    'apiVersion: gse/v1',
    'kind: ConfigFile',
    `metadata: { name: ${name} }`,
    `spec: { hosts: { names: ["${hosts}"] }, path: /etc/${name}, content: ${JSON.stringify(content)} }`,
    '',
  ].join('\n');

const host = (id: string): HostFacts => ({ id, name: id, ips: ['10.0.0.1'], cloudId: 0, labels: {} });

describe('previewRevision', () => {
  const hosts = [host('web-1'), host('db-1')];
  const current = revision({ 'a.yaml': cf('motd', '*', 'hi\n'), 'b.yaml': cf('web', 'web-*', 'w\n') });
  const desired = new Map(hosts.map((h) => [h.id, planHost(current, h).manifest]));

  it('lists what each host would gain, change and lose, and the selectors that move', () => {
    const next = revision({
      'a.yaml': cf('motd', '*', 'hello\n'),
      'b.yaml': cf('web', 'db-*', 'w\n'),
      'c.yaml': cf('new', 'web-1', 'n\n'),
    });
    const p = previewRevision({ revision: next, current, hosts, desiredFor: (id) => desired.get(id) });
    const keys = (rs: Array<{ key: string }>) => rs.map((r) => r.key);
    expect(p.hosts.map((h) => [h.name, keys(h.added), keys(h.changed), keys(h.removed)])).toEqual([
      ['db-1', ['ConfigFile/web'], ['ConfigFile/motd'], []],
      ['web-1', ['ConfigFile/new'], ['ConfigFile/motd'], ['ConfigFile/web']],
    ]);
    expect(p.selectors).toEqual([
      { resource: 'ConfigFile/new', added: ['web-1'], dropped: [] },
      { resource: 'ConfigFile/web', added: ['db-1'], dropped: ['web-1'] },
    ]);
    expect(p.hosts[0]?.changed[0]?.diff).toContain('-hi\n+hello\n');
    expect(p).toMatchObject({ from: current.id, to: next.id, hostCount: 2 });
  });

  it('lists no host when the tree changes nothing', () => {
    const same = revision({ 'a.yaml': cf('motd', '*', 'hi\n'), 'b.yaml': cf('web', 'web-*', 'w\n') });
    const p = previewRevision({ revision: same, current, hosts, desiredFor: (id) => desired.get(id) });
    expect(p.hosts).toEqual([]);
    expect(p.selectors).toEqual([]);
  });
});
