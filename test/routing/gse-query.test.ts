import { describe, expect, it } from 'vitest';
import { TargetConfigError } from '../../src/routing/errors.js';
import {
  buildQueryRoute,
  buildQueryStreamTo,
  channelIdOfName,
  channelIdsOf,
  streamToId,
  streamToIds,
} from '../../src/routing/gse-query.js';
import { route, target } from './fixtures.js';

const kafka = target('kafka-main', {
  kafka: {
    brokers: ['kafka-1.example:9093', 'kafka-2.example'],
    topic: 'gse_events',
    ssl: true,
    sasl: { mechanism: 'scram-sha-512', username: 'gse', passwordFrom: { env: 'KAFKA_PW' } },
  },
});
const redis = target('redis-alarm', {
  redis: { url: 'redis://:inline-secret@10.0.0.5:6380/0', mode: 'pubsub', key: 'alarms' },
});
const sentinel = target('redis-ha', {
  redis: {
    url: 'redis://ignored',
    mode: 'stream',
    key: 's',
    passwordFrom: { file: '/etc/gse/redis.pw' },
    sentinel: { name: 'mymaster', nodes: ['10.0.0.6:26379', '10.0.0.7'] },
  },
});
const file = target('local-file', { file: { path: '/var/log/gse/data.jsonl' } });
const targets = [kafka, redis, sentinel, file];

describe('streamToId', () => {
  it('is stable and in range when derived from a name', () => {
    expect(streamToId('kafka-main')).toBe(streamToId('kafka-main'));
    expect(streamToId('kafka-main')).not.toBe(streamToId('kafka-mainx'));
    // FNV-1a-32("a") = 0xe40c292c = 3826002220; 1000 + 3826002220 mod 2e9.
    expect(streamToId('a')).toBe(1000 + (3826002220 % 2_000_000_000));
    for (const t of targets) {
      const id = streamToId(t.metadata.name);
      expect(Number.isInteger(id) && id >= 1000 && id < 2_000_001_000).toBe(true);
    }
  });

  it('refuses two names whose ids collide when assigning ids', () => {
    // Found by hashing t-0, t-1, ... until two ids met (both map to 263755012).
    const [a, b] = ['t-350165', 't-653048'];
    expect(streamToId(a)).toBe(streamToId(b));
    expect(() =>
      streamToIds([target(a, { file: { path: '/a' } }), target(b, { file: { path: '/b' } })]),
    ).toThrow(TargetConfigError);
    expect(() =>
      streamToIds([target(a, { file: { path: '/a' } }), target(b, { file: { path: '/b' } })]),
    ).toThrow(`collides with target "${a}"`);
  });
});

describe('buildQueryStreamTo', () => {
  it('answers kafka with nested and top-level SASL fields and a redacted password when SASL is set', () => {
    const [entry] = buildQueryStreamTo(targets, {
      plat_name: 'bkmonitor',
      stream_to_id: streamToId('kafka-main'),
    });
    const kafkaFields = {
      storage_address: [
        { ip: 'kafka-1.example', port: 9093 },
        { ip: 'kafka-2.example', port: 9092 },
      ],
      sasl_username: 'gse',
      sasl_passwd: '******',
      sasl_mechanisms: 'SCRAM-SHA-512',
      security_protocol: 'SASL_SSL',
    };
    expect(entry).toEqual({
      metadata: { plat_name: 'bkmonitor', label: {}, stream_to_id: streamToId('kafka-main') },
      operation: { operator_name: 'gse-gitops' },
      stream_to: { name: 'kafka-main', report_mode: 'kafka', kafka: kafkaFields },
      kafka: kafkaFields,
      sasl_username: 'gse',
      sasl_passwd: '******',
      sasl_mechanisms: 'SCRAM-SHA-512',
      security_protocol: 'SASL_SSL',
    });
  });

  it('answers redis with the address and a redacted password when the URL carries one', () => {
    const [entry] = buildQueryStreamTo(targets, { stream_to_id: streamToId('redis-alarm') });
    expect(entry?.stream_to).toEqual({
      name: 'redis-alarm',
      report_mode: 'redis',
      redis: { storage_address: [{ ip: '10.0.0.5', port: 6380 }], passwd: '******' },
    });
    expect(JSON.stringify(entry)).not.toContain('inline-secret');
  });

  it('answers sentinels and master_name when the target declares a sentinel', () => {
    const [entry] = buildQueryStreamTo(targets, { stream_to_id: streamToId('redis-ha') });
    expect(entry?.stream_to.redis).toEqual({
      storage_address: [
        { ip: '10.0.0.6', port: 26379 },
        { ip: '10.0.0.7', port: 26379 },
      ],
      master_name: 'mymaster',
      passwd: '******',
    });
  });

  it('answers data_log_path when the target is a file', () => {
    const [entry] = buildQueryStreamTo(targets, { stream_to_id: streamToId('local-file') });
    expect(entry?.stream_to).toEqual({
      name: 'local-file',
      report_mode: 'file',
      data_log_path: '/var/log/gse/data.jsonl',
    });
  });

  it('lists every target when no stream_to_id is given and none when the id is unknown', () => {
    expect(buildQueryStreamTo(targets, {}).map((e) => e.stream_to.name)).toEqual([
      'kafka-main',
      'redis-alarm',
      'redis-ha',
      'local-file',
    ]);
    expect(buildQueryStreamTo(targets, { stream_to_id: 1 })).toEqual([]);
  });
});

describe('buildQueryRoute', () => {
  const routes = [
    {
      ...route('alarms', {
        channel: 1000,
        targets: [{ name: 'kafka-main' }, { name: 'redis-alarm', key: 'alarms-override' }],
      }),
      metadata: { name: 'alarms', labels: { bk_biz_id: '2', odm: 'gse', team: 'ops' } },
    },
    route('procs', {
      channel: '1100008',
      targets: [{ name: 'kafka-main', topic: 'proc_events' }, { name: 'local-file' }],
    }),
    route('named', { channel: 'metrics', targets: [{ name: 'kafka-main' }] }),
  ];

  it('answers the channel with one route entry per target when channel_id matches', () => {
    expect(buildQueryRoute(routes, targets, { channel_id: 1000 })).toEqual([
      {
        metadata: { plat_name: 'bkmonitor', channel_id: 1000, label: { odm: 'gse', bk_biz_id: 2 } },
        route: [
          {
            name: 'alarms_kafka-main',
            stream_to: { stream_to_id: streamToId('kafka-main'), kafka: { topic_name: 'gse_events' } },
            filter_name_and: [],
            filter_name_or: [],
          },
          {
            name: 'alarms_redis-alarm',
            stream_to: {
              stream_to_id: streamToId('redis-alarm'),
              redis: { channel_name: 'alarms-override' },
            },
            filter_name_and: [],
            filter_name_or: [],
          },
        ],
        stream_filters: [],
      },
    ]);
  });

  it('uses the topic override and a bare stream_to for a file target when the route sets them', () => {
    const [ch] = buildQueryRoute(routes, targets, { channel_id: 1100008 });
    expect(ch?.route.map((r) => r.stream_to)).toEqual([
      { stream_to_id: streamToId('kafka-main'), kafka: { topic_name: 'proc_events' } },
      { stream_to_id: streamToId('local-file') },
    ]);
  });

  it('gives a named channel a stable derived id and answers nothing for an unknown channel', () => {
    const ids = buildQueryRoute(routes, targets, {}).map((c) => c.metadata.channel_id);
    expect(ids).toEqual([1000, 1100008, channelIdOfName('metrics')]);
    expect(channelIdOfName('metrics')).toBe(channelIdOfName('metrics'));
    expect(channelIdOfName('metrics')).toBeGreaterThanOrEqual(1_800_000_000);
    expect(channelIdOfName('metrics')).toBeLessThan(2 ** 31);
    expect(buildQueryRoute(routes, targets, { channel_id: 5 })).toEqual([]);
  });

  it('lists the events Route under each GSE event data id when its channel is events', () => {
    const events = [route('host-events', { channel: 'events', targets: [{ name: 'kafka-main' }] })];
    for (const id of [1000, 1100000, 1100008]) {
      const [ch] = buildQueryRoute(events, targets, { channel_id: id });
      expect(ch?.metadata.channel_id).toBe(id);
      expect(ch?.route.map((r) => r.name)).toEqual(['host-events_kafka-main']);
    }
    expect(channelIdsOf('events')).toEqual([1000, 1100000, 1100008]);
    expect(channelIdsOf(1001)).toEqual([1001]);
    expect(channelIdsOf('1001')).toEqual([1001]);
  });
});
