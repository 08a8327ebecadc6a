/** The report a stored AgentVersion status stands for, and when a host held elsewhere is online. */
import { describe, expect, it } from 'vitest';
import { remoteOnline, reportOfStatus } from '../../src/cluster/remote-rollout-view.js';
import type { HostRecord, ResourceStatus } from '../../src/store/types.js';

const status = (state: ResourceStatus['state'], message?: string): ResourceStatus => ({
  hostId: 'h1',
  key: 'AgentVersion/agents',
  kind: 'AgentVersion',
  name: 'agents',
  hash: 'sha256:item',
  state,
  ...(message !== undefined && { message }),
  updatedAt: '2026-01-01T00:00:00.000Z',
});

describe('reportOfStatus', () => {
  it.each([
    {
      name: 'a Failed item is a failed report of that item, with its message',
      input: status('Failed', 'download failed'),
      report: { hash: 'sha256:item', state: 'failed', message: 'download failed' },
    },
    {
      name: 'Synced is an applied report',
      input: status('Synced'),
      report: { hash: 'sha256:item', state: 'ok' },
    },
    {
      name: 'OutOfSync (a version lag) is an applied report',
      input: status('OutOfSync', 'running 1.0.0, Git says 2.0.0'),
      report: { hash: 'sha256:item', state: 'ok', message: 'running 1.0.0, Git says 2.0.0' },
    },
    { name: 'Progressing says nothing of a report', input: status('Progressing'), report: undefined },
    { name: 'Unknown (offline) says nothing of a report', input: status('Unknown'), report: undefined },
  ])('$name', ({ input, report }) => {
    expect(reportOfStatus(input)).toEqual(report);
  });
});

describe('remoteOnline', () => {
  const rec = (connected: boolean, syncState: HostRecord['syncState']) =>
    ({ connected, syncState }) as HostRecord;
  it.each([
    { name: 'held, connected and heard from', rec: rec(true, 'Synced'), held: true, online: true },
    { name: 'held but silent (stored Unknown)', rec: rec(true, 'Unknown'), held: true, online: false },
    { name: 'held but the record says disconnected', rec: rec(false, 'Unknown'), held: true, online: false },
    {
      name: 'connected in the record but nobody holds it (its replica died)',
      rec: rec(true, 'Synced'),
      held: false,
      online: false,
    },
  ])('$name', ({ rec: r, held, online }) => {
    expect(remoteOnline(r, held)).toBe(online);
  });
});
