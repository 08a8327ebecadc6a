/**
 * When an exec task's one callback is sent: every host finished, offline (not run or disconnected) or past
 * the deadline; resumed from disk by a new instance. Real files; the POST is the injected `send`.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TASK_DEADLINE_GRACE_MS, TaskCallbacks } from '../../src/notify/task-callbacks.js';
import type { ExecutionRecord } from '../../src/store/types.js';

function rec(taskId: string, hostId: string, exitCode: number): ExecutionRecord {
  return {
    id: taskId,
    hostId,
    reason: 'adhoc',
    command: 'echo hi',
    status: exitCode === 0 ? 'succeeded' : 'failed',
    exitCode,
    signal: null,
    stdoutTail: `out ${hostId}\n`,
    stderrTail: '',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    durationMs: 1000,
    timedOut: false,
    killed: false,
  };
}

describe('TaskCallbacks', () => {
  let dir: string;
  let sent: Array<{ url: string; body: Record<string, unknown> }>;
  let stored: Map<string, ExecutionRecord>;
  const instances: TaskCallbacks[] = [];

  async function open(now: () => number = Date.now): Promise<TaskCallbacks> {
    const tc = await TaskCallbacks.open({
      dir,
      send: async (url, body) => {
        sent.push({ url, body });
      },
      getExecution: async (taskId, hostId) => stored.get(`${taskId}/${hostId}`),
      now,
    });
    instances.push(tc);
    return tc;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-taskcb-'));
    sent = [];
    stored = new Map();
  });
  afterEach(async () => {
    for (const tc of instances.splice(0)) tc.stop();
    vi.useRealTimers();
    await rm(dir, { recursive: true, force: true });
  });

  it('sends once, when the last host reports, with offline hosts named and GSE field names', async () => {
    const tc = await open();
    await tc.track({ taskId: 't1', url: 'http://r/x', hosts: ['a', 'b'], offline: ['c'], timeoutMs: 60_000 });
    await tc.result(rec('t1', 'b', 2));
    expect(sent).toEqual([]);
    await tc.result(rec('t1', 'a', 0));
    await tc.result(rec('t1', 'a', 0)); // a re-sent result changes nothing
    expect(sent).toHaveLength(1);
    const body = sent[0]?.body as { hosts: Array<Record<string, unknown>>; summary: Record<string, number> };
    expect(body.hosts.map((h) => [h.host, h.status, h.exitCode, h.script_exit_code])).toEqual([
      ['a', 'succeeded', 0, 0],
      ['b', 'failed', 2, 2],
      ['c', 'offline', null, null],
    ]);
    expect(body.hosts[0]).toMatchObject({
      stdout: 'out a\n',
      bk_agent_id: 'a',
      start_time: Date.parse('2026-01-01T00:00:00.000Z'),
    });
    expect(body.summary).toEqual({ succeeded: 1, failed: 1, offline: 1 });
    expect(await readdir(dir)).toEqual([]);
  });

  it('counts a host that disconnects mid-run as offline', async () => {
    const tc = await open();
    await tc.track({ taskId: 't2', url: 'http://r/x', hosts: ['a', 'b'], offline: [], timeoutMs: 60_000 });
    await tc.result(rec('t2', 'a', 0));
    await tc.hostDisconnected('b');
    expect(((sent[0]?.body.hosts ?? []) as Array<{ status: string }>).map((h) => h.status)).toEqual([
      'succeeded',
      'offline',
    ]);
  });

  it('ignores disconnects once stopped (a controller shutting down closes every session)', async () => {
    const tc = await open();
    await tc.track({ taskId: 't5', url: 'http://r/x', hosts: ['a'], offline: [], timeoutMs: 60_000 });
    tc.stop();
    await tc.hostDisconnected('a');
    expect(sent).toEqual([]);
    expect(await readdir(dir)).toEqual(['t5.json']);
  });

  it('reports hosts that never answer as noAnswer once the timeout and its grace have passed', async () => {
    vi.useFakeTimers();
    const tc = await open();
    await tc.track({ taskId: 't3', url: 'http://r/x', hosts: ['a', 'b'], offline: [], timeoutMs: 1_000 });
    await tc.result(rec('t3', 'a', 0));
    await vi.advanceTimersByTimeAsync(1_000 + TASK_DEADLINE_GRACE_MS - 100);
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(((sent[0]?.body.hosts ?? []) as Array<{ status: string }>).map((h) => h.status)).toEqual([
      'succeeded',
      'noAnswer',
    ]);
  });

  it('resumes a waiting task after a restart, counting results stored meanwhile', async () => {
    const first = await open();
    await first.track({ taskId: 't4', url: 'http://r/x', hosts: ['a', 'b'], offline: [], timeoutMs: 60_000 });
    await first.result(rec('t4', 'a', 0));
    first.stop();
    expect(await readdir(dir)).toEqual(['t4.json']);
    stored.set('t4/b', rec('t4', 'b', 0)); // arrived while no controller was listening
    const second = await open();
    expect(second.waiting).toBe(0);
    expect(sent).toHaveLength(1);
    expect(((sent[0]?.body.hosts ?? []) as Array<{ host: string }>).map((h) => h.host)).toEqual(['a', 'b']);
  });
});
