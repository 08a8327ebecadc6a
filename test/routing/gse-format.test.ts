import { describe, expect, it } from 'vitest';
import type { DataRecord } from '../../src/protocol/messages.js';
import { formatGse, type GseBasicAlarm, gseDataIdOf, gseTime } from '../../src/routing/gse-format.js';

const host = { id: 'agent-7f3a', name: 'web-1', ip: '10.0.0.1', cloudId: 0 };

function event(type: string, fields: Record<string, unknown>, resource?: string): DataRecord {
  return {
    rid: 'r-1',
    channel: 'events',
    time: '2026-03-04T05:06:07.000Z',
    host,
    fields: { type, time: '2026-03-04T05:06:07.890Z', ...(resource ? { resource } : {}), fields },
  };
}

/** The envelope every basic alarm shares (GSE.md §5.2) for the event time above, timezone 0. */
const envelope = {
  server: '10.0.0.1',
  time: '2026-03-04 05:06:07',
  utctime: '2026-03-04 05:06:07',
  utctime2: '2026-03-04 05:06:07',
  timezone: 0,
  isdst: 0,
};
const valueBase = {
  event_desc: '',
  event_raw_id: 42,
  event_source_system: '',
  event_time: '2026-03-04 05:06:07',
  event_title: '',
  event_type: 'gse_basic_alarm_type',
};

describe('formatGse', () => {
  it('builds the type 2 agent-lost alarm (GSE.md §5.3) when the event is agent.lost', () => {
    expect(formatGse(event('agent.lost', {}), { rawId: 42 })).toEqual({
      ...envelope,
      value: [
        {
          ...valueBase,
          extra: {
            type: 2,
            count: 1,
            host: [{ bizid: 0, cloudid: 0, ip: '10.0.0.1', agent_id: '0:10.0.0.1' }],
          },
        },
      ],
    });
  });

  it('sends the host id as agent_id when agentId is host-id', () => {
    const out = formatGse(event('agent.lost', {}), { rawId: 1, agentId: 'host-id' }) as GseBasicAlarm;
    expect(out.value[0].extra).toMatchObject({ host: [{ agent_id: 'agent-7f3a' }] });
  });

  it('builds the type 3 disk read-only alarm when the event is disk.readonly', () => {
    const ro = [
      { position: '/data', fs: '/dev/vdb1', type: 'ext4' },
      { positoin: '/logs', device: '/dev/vdc1', fstype: 'xfs' },
    ];
    expect(formatGse(event('disk.readonly', { ro }), { rawId: 42 })).toEqual({
      ...envelope,
      value: [
        {
          ...valueBase,
          extra: {
            type: 3,
            bizid: 0,
            cloudid: 0,
            host: '10.0.0.1',
            ro: [
              { position: '/data', fs: '/dev/vdb1', type: 'ext4' },
              { position: '/logs', fs: '/dev/vdc1', type: 'xfs' },
            ],
          },
        },
      ],
    });
  });

  it('builds one ro entry from flat fields when the event has no ro list', () => {
    const out = formatGse(event('disk.readonly', { mount: '/srv', device: '/dev/sda2', fstype: 'ext4' }), {
      rawId: 1,
    });
    expect((out as GseBasicAlarm).value[0].extra.ro).toEqual([
      { position: '/srv', fs: '/dev/sda2', type: 'ext4' },
    ]);
  });

  it('builds the type 6 disk-full alarm when the event is disk.full', () => {
    const fields = {
      mount: '/data',
      device: '/dev/vdb1',
      fstype: 'ext4',
      size: 1000,
      used: 970,
      avail: 30,
      used_percent: 97,
      message: 'disk /data is 97% full',
    };
    expect(formatGse(event('disk.full', fields), { rawId: 42 })).toEqual({
      ...envelope,
      value: [
        {
          ...valueBase,
          event_desc: 'disk /data is 97% full',
          extra: {
            type: 6,
            bizid: 0,
            cloudid: 0,
            host: '10.0.0.1',
            disk: '/data',
            file_system: '/dev/vdb1',
            fstype: 'ext4',
            size: 1000,
            used: 970,
            avail: 30,
            free: 3,
            used_percent: 97,
          },
        },
      ],
    });
  });

  it('builds the type 7 corefile alarm with filesize as a string when the event is corefile', () => {
    const fields = {
      path: '/corefile/core.nginx.123',
      size: 4096,
      executable: 'nginx',
      executable_path: '/usr/sbin/nginx',
      signal: 11,
    };
    expect(formatGse(event('corefile', fields), { rawId: 42 })).toEqual({
      ...envelope,
      value: [
        {
          ...valueBase,
          extra: {
            type: 7,
            bizid: 0,
            cloudid: 0,
            host: '10.0.0.1',
            corefile: '/corefile/core.nginx.123',
            filesize: '4096',
            executable: 'nginx',
            executable_path: '/usr/sbin/nginx',
            signal: '11',
          },
        },
      ],
    });
  });

  it('builds the process event shape (GSE.md §5.4) when the event is a process restart', () => {
    expect(
      formatGse(
        event('process.restarted', { content: 'nginx restarted by ProcessWatch' }, 'ProcessWatch/nginx'),
        {
          rawId: 9,
        },
      ),
    ).toEqual({
      data_id: 1100008,
      data: [
        {
          event_name: 'process_restart_success',
          event: { content: 'nginx restarted by ProcessWatch' },
          dimension: {
            bk_target_cloud_id: '0',
            bk_target_ip: '10.0.0.1',
            process_group_id: 'gse-gitops',
            process_index: 'gse-gitops:nginx',
            process_name: 'nginx',
            bk_agent_id: '0:10.0.0.1',
          },
          target: '10.0.0.1|0',
          timestamp: Date.parse('2026-03-04T05:06:07.890Z'),
        },
      ],
    });
  });

  it('keeps a GSE event_name and the GSE dimension names when the details carry them', () => {
    const out = formatGse(
      event('process.down', {
        event_name: 'process_resource_limit_exceed',
        process_group_id: 'nodeman',
        process_index: 'nodeman:bkmonitorbeat',
        process_name: 'bkmonitorbeat',
      }),
      { rawId: 1 },
    );
    expect(out).toMatchObject({
      data: [
        {
          event_name: 'process_resource_limit_exceed',
          dimension: {
            process_group_id: 'nodeman',
            process_index: 'nodeman:bkmonitorbeat',
            process_name: 'bkmonitorbeat',
          },
        },
      ],
    });
  });

  it('sends process.down and process.up as custom strings when GSE has no event for them', () => {
    for (const [type, text] of [
      ['process.down', 'process redis down'],
      ['process.up', 'process redis up'],
    ] as const) {
      const rec = event(type, { process: 'redis', name: 'redis', pids: [], ensure: 'running', restarts: 0 });
      expect(formatGse(rec, { rawId: 1 })).toEqual({
        _bizid_: 0,
        _cloudid_: 0,
        _server_: '10.0.0.1',
        _time_: '2026-03-04 05:06:07',
        _utctime_: '2026-03-04 05:06:07',
        _value_: [text],
      });
      expect(gseDataIdOf(rec)).toBe(1100000);
    }
  });

  it('gives an agent restart GSE process event names when the agent raises process.restarted or restart_failed', () => {
    const ok = event('process.restarted', { process: 'nginx', name: 'nginx', pids: [4242], restarts: 2 });
    expect(formatGse(ok, { rawId: 1 })).toEqual({
      data_id: 1100008,
      data: [
        {
          event_name: 'process_restart_success',
          event: { content: 'nginx restarted (restart 2)' },
          dimension: {
            bk_target_cloud_id: '0',
            bk_target_ip: '10.0.0.1',
            process_group_id: 'gse-gitops',
            process_index: 'gse-gitops:nginx',
            process_name: 'nginx',
            bk_agent_id: '0:10.0.0.1',
          },
          target: '10.0.0.1|0',
          timestamp: Date.parse('2026-03-04T05:06:07.890Z'),
        },
      ],
    });
    expect(gseDataIdOf(ok)).toBe(1100008);
    const failed = event('process.restart_failed', {
      process: 'nginx',
      name: 'nginx',
      restarts: 3,
      error: 'exit 1',
    });
    expect(formatGse(failed, { rawId: 1 })).toMatchObject({
      data: [
        { event_name: 'process_restart_failed', event: { content: 'nginx could not be restarted: exit 1' } },
      ],
    });
  });

  it('maps flat fields to GSE names when a collector pushes disk.full without nested fields', () => {
    const rec: DataRecord = {
      rid: 'r-2',
      channel: 'events',
      time: '2026-03-04T05:06:07.000Z',
      host,
      fields: {
        type: 'disk.full',
        mount: '/data',
        device: '/dev/sdb1',
        fstype: 'ext4',
        used_percent: 93,
        size: 1000,
        used: 930,
        avail: 70,
      },
    };
    expect(formatGse(rec, { rawId: 7 })).toMatchObject({
      value: [
        {
          extra: {
            type: 6,
            host: '10.0.0.1',
            disk: '/data',
            file_system: '/dev/sdb1',
            fstype: 'ext4',
            size: 1000,
            used: 930,
            avail: 70,
            free: 7,
            used_percent: 93,
          },
        },
      ],
    });
    expect(gseDataIdOf(rec)).toBe(1000);
  });

  it('falls back to the custom-string shape (type 100) when the event has no GSE type', () => {
    expect(formatGse(event('check.failed', { message: 'http check failed' }), { rawId: 1 })).toEqual({
      _bizid_: 0,
      _cloudid_: 0,
      _server_: '10.0.0.1',
      _time_: '2026-03-04 05:06:07',
      _utctime_: '2026-03-04 05:06:07',
      _value_: ['http check failed'],
    });
  });

  it('shifts time but not utctime when a timezone is given', () => {
    const out = formatGse(event('agent.lost', {}), { rawId: 1, timezoneHours: 8 });
    expect(out).toMatchObject({
      time: '2026-03-04 13:06:07',
      utctime: '2026-03-04 05:06:07',
      utctime2: '2026-03-04 05:06:07',
      timezone: 8,
    });
  });

  it('uses the record time when the event carries none', () => {
    const rec = event('agent.lost', {});
    delete rec.fields.time;
    expect(formatGse(rec, { rawId: 1 })).toMatchObject({ utctime2: '2026-03-04 05:06:07' });
  });

  it('returns undefined when the record is not on the events channel', () => {
    expect(formatGse({ ...event('agent.lost', {}), channel: 'metrics' }, { rawId: 1 })).toBeUndefined();
  });

  it.each(['agent.lost', 'disk.readonly', 'disk.full', 'corefile'])(
    'satisfies bk-monitor gse_event check() and flat() when the event is %s',
    (type) => {
      const out = formatGse(event(type, { ro: [{ position: '/', fs: '/dev/sda1', type: 'ext4' }] }), {
        rawId: 1,
      }) as GseBasicAlarm;
      expect(out.value).toHaveLength(1);
      expect([2, 3, 6, 7]).toContain(out.value[0]?.extra.type);
      expect(out.utctime2).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    },
  );
});

describe('gseTime', () => {
  it('formats as YYYY-MM-DD HH:MM:SS when given ms and an offset', () => {
    expect(gseTime(Date.parse('2026-12-31T23:30:00Z'), 1)).toBe('2027-01-01 00:30:00');
  });
});
