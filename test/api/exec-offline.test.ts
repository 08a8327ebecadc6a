/**
 * POST /api/v1/exec names the hosts the selector picks that are not connected: the real ExecService on the
 * in-memory store (web-1 connected, web-2 known to the registry but offline, db-1 offline and not picked)
 * behind the API, with a hub that answers for web-1 as its agent would.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExecService } from '../../src/controller/exec-service.js';
import type { HostFacts } from '../../src/protocol/manifest.js';
import type { ExecMessage } from '../../src/protocol/messages.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { idleMetrics } from '../helpers/controller-fixtures.js';
import { ADMIN, host, MemoryPort, type ServedApi, serveApi } from './memory-port.js';

const metrics = idleMetrics();
const web1: HostFacts = {
  id: 'web-1',
  name: 'web-1',
  ips: ['10.0.0.1'],
  cloudId: 0,
  labels: { role: 'web' },
};

let store: MemoryStore;
let service: ExecService;
let sentTo: string[];
/** Hosts whose send fails (the connection dropped between the listing and the send). */
let dropped: Set<string>;
let api: ServedApi;

async function lines(res: Response): Promise<Array<Record<string, unknown>>> {
  return (await res.text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeEach(async () => {
  store = MemoryStore.open();
  await store.upsertHost(host('web-1', { labels: { role: 'web' } }));
  await store.upsertHost(host('web-2', { labels: { role: 'web' }, connected: false }));
  await store.upsertHost(host('db-1', { labels: { role: 'db' }, connected: false }));
  sentTo = [];
  dropped = new Set();
  let n = 0;
  service = new ExecService({
    store,
    hub: {
      send(to, msg) {
        if (dropped.has(to)) return false;
        sentTo.push(to);
        const exec = msg as ExecMessage;
        // web-1's agent answers once the task is out.
        setImmediate(() => {
          service
            .recordResult(to, {
              v: 1,
              type: 'execResult',
              id: `r-${exec.taskId}`,
              taskId: exec.taskId,
              reason: 'adhoc',
              exitCode: 0,
              signal: null,
              stdoutTail: 'hi\n',
              stderrTail: '',
              startedAt: new Date().toISOString(),
              durationMs: 5,
              timedOut: false,
              killed: false,
            })
            .catch(() => undefined);
        });
        return true;
      },
    },
    manifestOf: () => undefined,
    connectedHosts: () => [web1],
    metrics,
    now: () => Date.now(),
    newId: () => `id-${++n}`,
  });
  // The memory port with the real exec service in place of its recording one.
  api = await serveApi(Object.assign(Object.create(new MemoryPort()) as MemoryPort, { exec: service }));
});
afterEach(() => api.close());

describe('POST /api/v1/exec with an offline host', () => {
  it('streams an offline line for the host not connected, runs the connected one, and lists it in the summary', async () => {
    const res = await api.call('/api/v1/exec', {
      token: ADMIN,
      body: { hosts: 'role=web', script: 'echo hi' },
    });
    const out = await lines(res);
    const taskId = out[0]?.taskId;
    expect(out.map((l) => [l.type, l.hostId, l.status])).toEqual([
      ['started', undefined, undefined],
      ['offline', 'web-2', 'offline'],
      ['result', 'web-1', 'succeeded'],
      ['summary', undefined, undefined],
    ]);
    expect(out[0]).toEqual({ type: 'started', taskId, hosts: ['web-1'], offline: ['web-2'] });
    expect(out[3]).toEqual({
      type: 'summary',
      taskId,
      hosts: 1,
      succeeded: 1,
      pending: [],
      offline: ['web-2'],
    });
    // Only the connected host was sent the task or got a row; the offline one was not run.
    expect(sentTo).toEqual(['web-1']);
    expect(await store.getExecution(taskId as string, 'web-2')).toBeUndefined();
    expect((await store.getExecution(taskId as string, 'web-1'))?.status).toBe('succeeded');
  });

  it('returns the offline hosts in the wait:false answer', async () => {
    const res = await api.call('/api/v1/exec', {
      token: ADMIN,
      body: { hosts: '*', script: 'true', wait: false },
    });
    const body = (await res.json()) as { taskId: string; hosts: string[]; offline: string[] };
    expect(body).toEqual({ taskId: body.taskId, hosts: ['web-1'], offline: ['db-1', 'web-2'] });
  });

  it('names a connected host offline when its send fails, rather than leaving it out', async () => {
    dropped.add('web-1');
    const res = await api.call('/api/v1/exec', {
      token: ADMIN,
      body: { hosts: 'role=web', script: 'true', wait: false },
    });
    const body = (await res.json()) as { hosts: string[]; offline: string[] };
    expect(body).toMatchObject({ hosts: [], offline: ['web-1', 'web-2'] });
  });

  it('names no host offline when every picked host is connected', async () => {
    const res = await api.call('/api/v1/exec', {
      token: ADMIN,
      body: { hosts: 'web-1', script: 'true', wait: false },
    });
    expect(((await res.json()) as { offline: string[] }).offline).toEqual([]);
  });
});
