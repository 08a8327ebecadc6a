/**
 * The pure decision of GSE write-back (src/gse-write/plan.ts): each GSE data-route write -> the files it
 * changes and GSE's answer, decided on a revision loaded by the real spec loader; refusals as typed errors
 * whose message starts with the field path.
 */
import { describe, expect, it } from 'vitest';
import {
  ConflictError,
  FIRST_ALLOCATED_CHANNEL_ID,
  InvalidCallError,
  NotFoundError,
  planWrite,
  specNameOf,
  type WriteAction,
} from '../../src/gse-write/index.js';
import { buildQueryRoute, buildQueryStreamTo, streamToId } from '../../src/routing/gse-query.js';
import { loadRevision } from '../../src/spec/load.js';
import type { Revision } from '../../src/spec/types.js';

const BASE = {
  'data.yaml': `apiVersion: gse/v1
kind: StreamTarget
metadata: { name: kafka-main }
spec:
  kafka: { brokers: ["kafka-1:9092"], topic: main }
---
apiVersion: gse/v1
kind: StreamTarget
metadata: { name: kafka-b }
spec:
  kafka: { brokers: ["kafka-2:9092"], topic: b }
---
apiVersion: gse/v1
kind: Route
metadata: { name: hand-kept }
spec:
  channel: 1000
  targets: [{ name: kafka-main }]
`,
};

function revision(files: Record<string, string>): Revision {
  const result = loadRevision(new Map(Object.entries(files).map(([k, v]) => [k, Buffer.from(v)])), {
    secrets: { env: [] },
  });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.revision;
}

/** Applies a plan to the files and loads the result (the writer validates the same way). */
function applied(files: Record<string, string>, plan: ReturnType<typeof planWrite>): Revision {
  const next = { ...files };
  for (const [path, content] of Object.entries(plan.files)) {
    if (content === null) delete next[path];
    else next[path] = content;
  }
  return revision(next);
}

describe('planWrite', () => {
  it('writes add_streamto as a StreamTarget that query_streamto answers under the GSE name', () => {
    const plan = planWrite(
      'add_streamto',
      {
        metadata: { plat_name: 'bkmonitor', label: { bk_biz_id: 2 } },
        stream_to: {
          name: 'mq_stream_to_3',
          report_mode: 'kafka',
          kafka: { storage_address: [{ ip: 'kafka.service', port: 9092 }] },
        },
      },
      revision(BASE),
      'alice',
    );
    expect(Object.keys(plan.files)).toEqual(['gse/streamto/mq-stream-to-3.yaml']);
    expect(plan.data).toEqual({ stream_to_id: streamToId('mq-stream-to-3'), name: 'mq_stream_to_3' });
    const rev = applied(BASE, plan);
    const [entry] = buildQueryStreamTo(rev.byKind.StreamTarget, {
      stream_to_id: plan.data.stream_to_id as number,
    });
    expect(entry?.stream_to).toEqual({
      name: 'mq_stream_to_3',
      report_mode: 'kafka',
      kafka: { storage_address: [{ ip: 'kafka.service', port: 9092 }] },
    });
    expect(entry?.metadata.label).toEqual({ bk_biz_id: '2' });
  });

  it('writes add_route as a Route that query_route answers with the GSE route names and topics', () => {
    const plan = planWrite(
      'add_route',
      {
        metadata: { plat_name: 'bkmonitor', channel_id: 1500001, label: { odm: 'bkmonitor' } },
        route: [
          {
            name: 'stream_to_bkmonitor_kafka_t1',
            stream_to: { stream_to_id: streamToId('kafka-main'), kafka: { topic_name: 't1' } },
          },
        ],
      },
      revision(BASE),
      'alice',
    );
    expect(plan.data).toEqual({ channel_id: 1500001, proofing_id: 0 });
    const rev = applied(BASE, plan);
    expect(buildQueryRoute(rev.byKind.Route, rev.byKind.StreamTarget, { channel_id: 1500001 })).toEqual([
      {
        metadata: { plat_name: 'bkmonitor', channel_id: 1500001, label: { odm: 'bkmonitor' } },
        route: [
          {
            name: 'stream_to_bkmonitor_kafka_t1',
            stream_to: { stream_to_id: streamToId('kafka-main'), kafka: { topic_name: 't1' } },
            filter_name_and: [],
            filter_name_or: [],
          },
        ],
        stream_filters: [],
      },
    ]);
  });

  it('allocates a channel id when add_route sends none, and replaces or trims the list on update/delete', () => {
    const route = [{ name: 'a', stream_to: { stream_to_id: streamToId('kafka-main') } }];
    const first = planWrite('add_route', { metadata: { plat_name: 'x' }, route }, revision(BASE), 'al');
    expect(first.data.channel_id).toBe(FIRST_ALLOCATED_CHANNEL_ID);
    const files = { ...BASE, ...(first.files as Record<string, string>) };
    const second = planWrite('add_route', { metadata: { plat_name: 'x' }, route }, revision(files), 'al');
    expect(second.data.channel_id).toBe(FIRST_ALLOCATED_CHANNEL_ID + 1);

    const id = FIRST_ALLOCATED_CHANNEL_ID;
    const updated = planWrite(
      'update_route',
      {
        condition: { channel_id: id, plat_name: 'x' },
        specification: {
          route: [...route, { name: 'b', stream_to: { stream_to_id: streamToId('kafka-b') } }],
        },
      },
      revision(files),
      'bo',
    );
    const withTwo = { ...files, ...(updated.files as Record<string, string>) };
    expect(
      applied(files, updated).byKind.Route.find((r) => r.spec.channel === id)?.spec.targets,
    ).toHaveLength(2);
    const trimmed = planWrite(
      'delete_route',
      {
        condition: { channel_id: id, plat_name: 'x' },
        operation: { operator_name: 'bo', method: 'specification' },
        specification: { route: ['a'] },
      },
      revision(withTwo),
      'bo',
    );
    const rev = applied(withTwo, trimmed);
    expect(
      buildQueryRoute(rev.byKind.Route, rev.byKind.StreamTarget, { channel_id: id })[0]?.route.map(
        (r) => r.name,
      ),
    ).toEqual(['b']);
    const gone = planWrite(
      'delete_route',
      { condition: { channel_id: id, plat_name: 'x' }, operation: { operator_name: 'bo', method: 'all' } },
      revision(withTwo),
      'bo',
    );
    expect(gone.files).toEqual({ [`gse/routes/channel-${id}.yaml`]: null });
  });

  const refusals: Array<{
    name: string;
    action: WriteAction;
    body: Record<string, unknown>;
    error: unknown;
    message: string;
  }> = [
    {
      name: 'no stream_to',
      action: 'add_streamto',
      body: {},
      error: InvalidCallError,
      message: 'stream_to: required',
    },
    {
      name: 'a password',
      action: 'add_streamto',
      body: {
        stream_to: {
          name: 'r',
          report_mode: 'redis',
          redis: { storage_address: [{ ip: 'r', port: 6379 }], passwd: 'x' },
        },
      },
      error: InvalidCallError,
      message: 'stream_to.redis.passwd: secrets are never committed to Git',
    },
    {
      name: 'pulsar',
      action: 'add_streamto',
      body: { stream_to: { name: 'p', report_mode: 'pulsar' } },
      error: InvalidCallError,
      message: 'stream_to.report_mode: "pulsar" is not supported',
    },
    {
      name: 'a name that exists',
      action: 'add_streamto',
      body: { stream_to: { name: 'kafka_main', report_mode: 'file', data_log_path: 'x' } },
      error: ConflictError,
      message: 'stream_to.name: "kafka_main" exists already',
    },
    {
      name: 'a channel that exists',
      action: 'add_route',
      body: { metadata: { channel_id: 1000 }, route: [] },
      error: ConflictError,
      message: 'metadata.channel_id: route 1000 exists already',
    },
    {
      name: 'a non-integer channel',
      action: 'add_route',
      body: { metadata: { channel_id: 'x' } },
      error: InvalidCallError,
      message: 'metadata.channel_id: must be an integer',
    },
    {
      name: 'a hand-written route',
      action: 'delete_route',
      body: { condition: { channel_id: 1000 } },
      error: ConflictError,
      message: 'declared in data.yaml by hand',
    },
    {
      name: 'an unknown channel',
      action: 'update_route',
      body: { condition: { channel_id: 7 }, specification: { route: [] } },
      error: NotFoundError,
      message: 'route 7 not found',
    },
    {
      name: 'an unknown stream_to',
      action: 'delete_streamto',
      body: { condition: { stream_to_id: 7 } },
      error: NotFoundError,
      message: 'stream_to 7 not found',
    },
  ];
  it.each(refusals)('refuses $name', ({ action, body, error, message }) => {
    let thrown: unknown;
    try {
      planWrite(action, body, revision(BASE), 'al');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(error as new () => Error);
    expect((thrown as Error).message).toContain(message);
  });

  it('names resources after GSE names in the spec alphabet', () => {
    expect(specNameOf('mq_stream_to_1', 'n')).toBe('mq-stream-to-1');
    expect(specNameOf('__Default MQ__', 'n')).toBe('default-mq');
    expect(() => specNameOf('___', 'stream_to.name')).toThrow('stream_to.name: "___" has no letter or digit');
  });
});
