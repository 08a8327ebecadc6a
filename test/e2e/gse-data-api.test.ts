import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const SPECS = `apiVersion: gse/v1
kind: StreamTarget
metadata: { name: alarm-redis }
spec:
  redis:
    url: redis://127.0.0.1:1/0
    mode: pubsub
    key: gse:alarms
    passwordFrom: { env: GSE_TEST_UNSET_REDIS_PASSWORD }
---
apiVersion: gse/v1
kind: StreamTarget
metadata: { name: archive }
spec:
  file: { path: archive/alarms.jsonl }
---
apiVersion: gse/v1
kind: Route
metadata: { name: base-alarms }
spec:
  channel: 1000
  targets: [{ name: alarm-redis }]
  format: gse
`;

interface Envelope<T> {
  result: boolean;
  code: number;
  message: string;
  data: T;
}

describe('GSE data-route endpoints', () => {
  let repo: GitRepo;
  let ctl: RunningController;

  beforeAll(async () => {
    repo = await gitRepo({ 'data.yaml': SPECS });
    // The spec references this env variable as a secret: the controller must allow it (--secret-env).
    ctl = await startController(repo.dir, { secretEnv: ['GSE_TEST_UNSET_REDIS_PASSWORD'] });
    await waitFor('revision applied', () => ctl.controller.reconciler.current);
  });
  afterAll(async () => {
    await ctl?.cleanup();
    await repo?.cleanup();
  });

  it('answers query_route from the Route specs, with the stream_to ids of query_streamto', async () => {
    const route = await ctl.api<
      Envelope<
        Array<{
          metadata: { channel_id: number };
          route: Array<{ name: string; stream_to: { stream_to_id: number } }>;
        }>
      >
    >('/api/v1/gse/query_route', {
      body: {
        condition: { channel_id: 1000, plat_name: 'bkmonitor' },
        operation: { operator_name: 'admin' },
      },
    });
    expect(route.body.result).toBe(true);
    expect(route.body.data[0]?.metadata.channel_id).toBe(1000);
    const streamToId = route.body.data[0]?.route[0]?.stream_to.stream_to_id;
    expect(streamToId).toEqual(expect.any(Number));

    const streamTo = await ctl.api<
      Envelope<
        Array<{ metadata: { stream_to_id: number }; stream_to: { name: string; report_mode: string } }>
      >
    >('/api/v1/gse/query_streamto', {
      body: { condition: { plat_name: 'bkmonitor', stream_to_id: streamToId } },
    });
    expect(
      streamTo.body.data.map((s) => [s.stream_to.name, s.stream_to.report_mode, s.metadata.stream_to_id]),
    ).toEqual([['alarm-redis', 'redis', streamToId]]);
    // Secrets are never served, not even the name of where they come from as a value.
    expect(JSON.stringify(streamTo.body)).not.toContain('GSE_TEST_UNSET_REDIS_PASSWORD=');
  });

  it('lists every target without a condition', async () => {
    const res = await ctl.api<Envelope<Array<{ stream_to: { name: string; report_mode: string } }>>>(
      '/api/v1/gse/query_streamto',
      { body: {} },
    );
    expect(res.body.data.map((s) => s.stream_to.report_mode).sort()).toEqual(['file', 'redis']);
  });

  it('answers a route that does not exist with a failed envelope', async () => {
    const res = await ctl.api<Envelope<null>>('/api/v1/gse/query_route', {
      body: { condition: { channel_id: 4242 } },
    });
    expect(res.body).toMatchObject({ result: false, code: 1014505, data: null });
    expect(res.body.message).toContain('not found');
  });

  it('lists routes and target health in the native API', async () => {
    const routes = await ctl.api<{ items: Array<{ name: string; channel: string; format: string }> }>(
      '/api/v1/routes',
    );
    expect(routes.body.items).toEqual([
      expect.objectContaining({ name: 'base-alarms', channel: '1000', format: 'gse' }),
    ]);
  });
});
