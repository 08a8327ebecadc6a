import { describe, expect, it } from 'vitest';
import { type HostObservation, hostSyncState, itemSyncState } from '../../src/controller/sync-state.js';
import type { HostManifest } from '../../src/protocol/manifest.js';
import type { ItemReport } from '../../src/protocol/messages.js';

const desired: HostManifest = {
  hostId: 'h',
  revision: 'r',
  labels: {},
  hash: 'H2',
  items: [
    {
      kind: 'ConfigFile',
      name: 'a',
      hash: 'ia',
      path: '/a',
      content: 'a',
      encoding: 'utf8',
      contentHash: 'x',
      mode: 0o644,
      selfHeal: true,
      prune: false,
    },
  ],
};
const item = (state: ItemReport['state'], hash = 'ia'): ItemReport => ({
  kind: 'ConfigFile',
  name: 'a',
  hash,
  state,
});
const base: HostObservation = {
  connected: true,
  desired,
  reportedHash: 'H2',
  items: [item('ok')],
  planErrors: 0,
};

describe('hostSyncState', () => {
  const table: { name: string; obs: Partial<HostObservation>; expected: string }[] = [
    { name: 'reported the desired manifest, all ok', obs: {}, expected: 'Synced' },
    { name: 'a file was changed on this apply', obs: { items: [item('changed')] }, expected: 'Synced' },
    { name: 'not connected', obs: { connected: false }, expected: 'Unknown' },
    { name: 'a resource could not be planned', obs: { planErrors: 1 }, expected: 'Failed' },
    { name: 'holds an older manifest, nothing sent', obs: { reportedHash: 'H1' }, expected: 'OutOfSync' },
    {
      name: 'holds an older manifest, new one sent',
      obs: { reportedHash: 'H1', sentHash: 'H2' },
      expected: 'Progressing',
    },
    { name: 'a resource failed', obs: { items: [item('failed')] }, expected: 'Failed' },
    { name: 'drifted and not healed', obs: { items: [item('drifted')] }, expected: 'OutOfSync' },
    { name: 'report lacks the resource', obs: { items: [] }, expected: 'Progressing' },
    {
      name: 'the new manifest could not be sent (the host holds an older one)',
      obs: { reportedHash: 'H1', sendFailed: true },
      expected: 'Failed',
    },
    {
      name: 'a send failed but the host already holds the desired manifest',
      obs: { sendFailed: true },
      expected: 'Synced',
    },
  ];
  it.each(table)('is $expected when $name', ({ obs, expected }) => {
    expect(hostSyncState({ ...base, ...obs })).toBe(expected);
  });
});

describe('itemSyncState', () => {
  it('is Progressing when the report is about another version of the item', () => {
    expect(itemSyncState('ia', item('ok', 'old'), true)).toBe('Progressing');
  });
  it('is Unknown when the host is not connected', () => {
    expect(itemSyncState('ia', item('ok'), false)).toBe('Unknown');
  });
});
