import { describe, expect, it } from 'vitest';
import { manifestMessage } from '../../src/controller/delta.js';
import { planHost } from '../../src/controller/plan.js';
import { applyManifestDelta } from '../../src/protocol/apply-delta.js';
import type { HostFacts } from '../../src/protocol/manifest.js';
import { configFile, makeRevision } from '../helpers/revision.js';

const host: HostFacts = { id: 'h1', name: 'web-1', ips: ['10.0.0.1'], cloudId: 0, labels: {} };
const files = (n: number, changed: Record<number, string> = {}) =>
  Array.from({ length: n }, (_, i) => configFile(`f${i}`, { content: changed[i] ?? `content ${i}` }));

describe('manifestMessage', () => {
  it('sends the full manifest to a host that holds none', () => {
    const desired = planHost(makeRevision(files(3)), host).manifest;
    expect(manifestMessage('m1', undefined, desired)).toMatchObject({ mode: 'full', manifest: desired });
  });

  it('sends only changed and removed items, and the agent rebuilds the same manifest', () => {
    const held = planHost(makeRevision(files(10)), host).manifest;
    const desired = planHost(makeRevision(files(9, { 2: 'new' }), {}, 'rev-2'), host).manifest;
    const msg = manifestMessage('m2', held, desired);
    expect(msg.mode).toBe('delta');
    if (msg.mode !== 'delta') return;
    expect(msg.upsert.map((i) => i.name)).toEqual(['f2']);
    expect(msg.remove).toEqual(['ConfigFile/f9']);
    expect(applyManifestDelta(held, msg)).toEqual(desired);
  });

  it('is refused by an agent holding another base, which then asks for the full manifest', () => {
    const held = planHost(makeRevision(files(2)), host).manifest;
    const desired = planHost(makeRevision(files(2, { 0: 'x' })), host).manifest;
    const msg = manifestMessage('m3', held, desired);
    if (msg.mode !== 'delta') throw new Error('expected a delta');
    const other = planHost(makeRevision(files(1)), host).manifest;
    expect(applyManifestDelta(other, msg)).toBeUndefined();
    expect(applyManifestDelta(undefined, msg)).toBeUndefined();
  });

  it('falls back to full when every item changed', () => {
    const held = planHost(makeRevision(files(3)), host).manifest;
    const desired = planHost(makeRevision(files(3, { 0: 'a', 1: 'b', 2: 'c' })), host).manifest;
    expect(manifestMessage('m4', held, desired).mode).toBe('full');
  });
});
