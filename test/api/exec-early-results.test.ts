/**
 * POST /api/v1/exec with results that arrive before `exec.start()` returns (a fast host answers while the
 * task is still being sent): the stream must still carry them and end, not wait for its deadline.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, execution, host, MemoryPort, type ServedApi, serveApi, session } from './memory-port.js';

let port: MemoryPort;
let api: ServedApi;

beforeEach(async () => {
  port = new MemoryPort();
  for (const id of ['web-1', 'web-2']) {
    port.hosts.set(id, host(id));
    port.sessions.set(id, session(id));
  }
  api = await serveApi(port);
});
afterEach(() => api.close());

describe('POST /api/v1/exec', () => {
  it('streams results that arrived before the task was started, then ends with the summary', async () => {
    port.execHosts = ['web-1', 'web-2'];
    // The id is replaced by the task's own when delivered.
    port.execAnswersDuringStart = [execution('-', 'web-1', 'succeeded'), execution('-', 'web-2', 'failed')];
    // A long timeout: were the early results lost, the stream would stay open for 70 s and the test time out.
    const res = await api.call('/api/v1/exec', {
      token: ADMIN,
      body: { hosts: '*', script: 'true', timeoutMs: 60_000 },
    });
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const taskId = port.execRequests[0]?.taskId;
    expect(lines.map((l) => [l.type, l.hostId])).toEqual([
      ['started', undefined],
      ['result', 'web-1'],
      ['result', 'web-2'],
      ['summary', undefined],
    ]);
    expect(lines[3]).toEqual({
      type: 'summary',
      taskId,
      hosts: 2,
      succeeded: 1,
      failed: 1,
      pending: [],
      offline: [],
    });
    // Nobody listens once the stream ended.
    expect(port.execListeners.get(taskId as string)?.size ?? 0).toBe(0);
  });
});
