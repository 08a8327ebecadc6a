import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../agent/engine/deps.js';
import {
  agentStartEvent,
  agentStopEvent,
  checkFailedEvent,
  corefileEvent,
  diskFullEvent,
  diskReadonlyEvent,
  processEvent,
  processRestartedEvent,
  processRestartFailedEvent,
} from '../../../agent/engine/events.js';
import { schemaDocument } from '../../../src/spec/schemas.js';

// The vocabulary in specs/ is the truth: what the agent builds must fit it.
const EVENTS_DOC = schemaDocument('events');
const EVENTS_ID = String(EVENTS_DOC.$id);
const EVENTS = new Ajv2020({ strict: true, allowUnionTypes: true }).addSchema(EVENTS_DOC);

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
        process: 'nginx',
        pids: [],
        ensure: 'running',
        restarts: 0,
      }),
      want: {
        type: 'process.down',
        time,
        resource: 'ProcessWatch/nginx',
        fields: { process: 'nginx', name: 'nginx', pids: [], ensure: 'running', restarts: 0 },
      },
    },
    {
      name: 'process.restarted',
      event: processRestartedEvent(clock, 'ProcessWatch/nginx', {
        process: 'nginx',
        pids: [42],
        restarts: 1,
      }),
      want: {
        type: 'process.restarted',
        time,
        resource: 'ProcessWatch/nginx',
        fields: { process: 'nginx', name: 'nginx', pids: [42], restarts: 1 },
      },
    },
    {
      name: 'process.restart_failed',
      event: processRestartFailedEvent(clock, 'ProcessWatch/nginx', {
        process: 'nginx',
        restarts: 2,
        error: 'the start command exited with code 1',
      }),
      want: {
        type: 'process.restart_failed',
        time,
        resource: 'ProcessWatch/nginx',
        fields: {
          process: 'nginx',
          name: 'nginx',
          restarts: 2,
          error: 'the start command exited with code 1',
        },
      },
    },
    {
      name: 'disk.full',
      event: diskFullEvent(clock, { mount: '/var', usedPercent: 99 }),
      want: { type: 'disk.full', time, fields: { mount: '/var', usedPercent: 99 } },
    },
    {
      name: 'disk.readonly',
      event: diskReadonlyEvent(clock, { mount: '/data' }),
      want: { type: 'disk.readonly', time, fields: { mount: '/data' } },
    },
    {
      name: 'disk.full from a HostCheck',
      event: diskFullEvent(
        clock,
        {
          mount: '/var',
          device: '/dev/sda2',
          fstype: 'ext4',
          check: 'var-disk',
          usedPercent: 97.5,
          thresholdPercent: 90,
        },
        'HostCheck/var-disk',
      ),
      want: {
        type: 'disk.full',
        time,
        resource: 'HostCheck/var-disk',
        fields: {
          mount: '/var',
          device: '/dev/sda2',
          fstype: 'ext4',
          check: 'var-disk',
          usedPercent: 97.5,
          thresholdPercent: 90,
        },
      },
    },
    {
      name: 'disk.readonly from a HostCheck',
      event: diskReadonlyEvent(
        clock,
        { mount: '/data', fstype: 'xfs', check: 'data-ro' },
        'HostCheck/data-ro',
      ),
      want: {
        type: 'disk.readonly',
        time,
        resource: 'HostCheck/data-ro',
        fields: { mount: '/data', fstype: 'xfs', check: 'data-ro' },
      },
    },
    {
      name: 'corefile',
      event: corefileEvent(
        clock,
        { path: '/var/crash/core.1', dir: '/var/crash', size: 10, check: 'cores' },
        'HostCheck/cores',
      ),
      want: {
        type: 'corefile',
        time,
        resource: 'HostCheck/cores',
        fields: { path: '/var/crash/core.1', dir: '/var/crash', size: 10, check: 'cores' },
      },
    },
    {
      name: 'check.failed',
      event: checkFailedEvent(
        clock,
        { check: 'health', exitCode: 1, failures: 3, output: 'down' },
        'HostCheck/health',
      ),
      want: {
        type: 'check.failed',
        time,
        resource: 'HostCheck/health',
        fields: { check: 'health', exitCode: 1, failures: 3, output: 'down' },
      },
    },
  ])(
    'builds $name with the ISO time of the injected clock, with the fields its schema declares',
    ({ event, want }) => {
      expect(event).toEqual(want);
      const validate = EVENTS.getSchema(`${EVENTS_ID}#/$defs/${event.type}`);
      expect(validate?.(event.fields), JSON.stringify(validate?.errors)).toBe(true);
    },
  );
});
