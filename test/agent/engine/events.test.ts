import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../agent/engine/deps.js';
import {
  agentStartEvent,
  agentStopEvent,
  diskFullEvent,
  diskReadonlyEvent,
  processEvent,
} from '../../../agent/engine/events.js';

const clock: Clock = { now: () => Date.UTC(2024, 4, 6, 7, 8, 9, 10) };
const time = '2024-05-06T07:08:09.010Z';

describe('host events', () => {
  it.each([
    {
      name: 'agent.start',
      event: agentStartEvent(clock, { agentVersion: '0.1.0', pid: 7 }),
      want: { type: 'agent.start', time, fields: { agentVersion: '0.1.0', pid: 7 } },
    },
    {
      name: 'agent.stop',
      event: agentStopEvent(clock, { reason: 'SIGTERM' }),
      want: { type: 'agent.stop', time, fields: { reason: 'SIGTERM' } },
    },
    {
      name: 'process.down',
      event: processEvent(clock, 'process.down', 'ProcessWatch/nginx', {
        name: 'nginx',
        pids: [],
        ensure: 'running',
        restarts: 0,
      }),
      want: {
        type: 'process.down',
        time,
        resource: 'ProcessWatch/nginx',
        fields: { name: 'nginx', pids: [], ensure: 'running', restarts: 0 },
      },
    },
    {
      name: 'disk.full',
      event: diskFullEvent(clock, { path: '/var', usedPct: 99 }),
      want: { type: 'disk.full', time, fields: { path: '/var', usedPct: 99 } },
    },
    {
      name: 'disk.readonly',
      event: diskReadonlyEvent(clock, { path: '/data' }),
      want: { type: 'disk.readonly', time, fields: { path: '/data' } },
    },
  ])('builds $name with the ISO time of the injected clock', ({ event, want }) => {
    expect(event).toEqual(want);
  });
});
