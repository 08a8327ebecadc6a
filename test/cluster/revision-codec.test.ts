import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeRevision, encodeRevision, RevisionDecodeError } from '../../src/cluster/revision-codec.js';
import { planManifests } from '../../src/controller/plan.js';
import type { HostFacts } from '../../src/protocol/manifest.js';
import { loadRevisionFromDir } from '../../src/spec/load.js';
import { configFile, makeRevision } from '../helpers/revision.js';

const hosts: HostFacts[] = [
  { id: 'web-1', name: 'web-1', ips: ['10.0.0.1'], cloudId: 0, labels: { role: 'web' } },
  { id: 'db-1', name: 'db-1', ips: ['10.0.1.1'], cloudId: 0, labels: { role: 'db' } },
  { id: 'edge-1', name: 'edge-1', ips: ['192.168.1.9'], cloudId: 2, labels: {} },
];

describe('revision codec', () => {
  it('plans the same manifests from a decoded revision as from the example fleet it encoded', async () => {
    const loaded = await loadRevisionFromDir(fileURLToPath(new URL('../../examples/fleet', import.meta.url)));
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors.slice(0, 3)));
    const decoded = decodeRevision(encodeRevision(loaded.revision));
    expect(decoded.id).toBe(loaded.revision.id);
    expect(decoded.resources.length).toBeGreaterThan(5);
    const a = planManifests(loaded.revision, hosts);
    const b = planManifests(decoded, hosts);
    expect([...b.manifests]).toEqual([...a.manifests]);
    expect(b.errors).toEqual(a.errors);
  });

  it('keeps binary source files byte for byte', () => {
    const bytes = Buffer.from([0, 255, 1, 254, 10, 13]);
    const rev = makeRevision([configFile('bin', { path: '/etc/bin', source: 'files/bin' })], {
      'files/bin': bytes,
    });
    const decoded = decodeRevision(encodeRevision(rev));
    expect(decoded.files.get('files/bin')?.equals(bytes)).toBe(true);
    expect(decoded.byKind.ConfigFile.map((r) => r.metadata.name)).toEqual(['bin']);
  });

  it.each([
    { name: 'not JSON', text: '{', error: /published revision: not JSON/ },
    {
      name: 'another shape',
      text: '{"v":2,"id":"x"}',
      error: /expected \{v: 1, id, resources\[\], files\[\]\}/,
    },
    {
      name: 'an unknown kind',
      text: '{"v":1,"id":"x","resources":[{"kind":"Nope"}],"files":[]}',
      error: /unknown kind Nope/,
    },
  ])('refuses $name', ({ text, error }) => {
    expect(() => decodeRevision(text)).toThrow(RevisionDecodeError);
    expect(() => decodeRevision(text)).toThrow(error);
  });
});
