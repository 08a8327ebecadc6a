/** ExecutionBatch: the results put in one turn go to the store in one write, each settled on its own. */
import { describe, expect, it } from 'vitest';
import { ExecutionBatch } from '../../src/controller/execution-batch.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { ExecutionRecord } from '../../src/store/types.js';

function record(hostId: string, over: Partial<ExecutionRecord> = {}): ExecutionRecord {
  return {
    id: 'task-1',
    hostId,
    reason: 'adhoc',
    command: 'true',
    status: 'succeeded',
    exitCode: 0,
    signal: null,
    stdoutTail: '',
    stderrTail: '',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:00.010Z',
    durationMs: 10,
    timedOut: false,
    killed: false,
    ...over,
  };
}

/** A memory store that counts its writes and refuses records of the hosts in `bad`. */
function countingStore(bad: ReadonlySet<string> = new Set()) {
  const store = MemoryStore.open();
  const calls: string[][] = [];
  return {
    store,
    calls,
    putExecution: async (r: ExecutionRecord) => {
      calls.push([r.hostId]);
      if (bad.has(r.hostId)) throw new Error(`refused ${r.hostId}`);
      await store.putExecution(r);
    },
    putExecutions: async (rs: ExecutionRecord[]) => {
      calls.push(rs.map((r) => r.hostId));
      if (rs.some((r) => bad.has(r.hostId))) throw new Error('refused');
      await store.putExecutions(rs);
    },
  };
}

/** A scheduler the test runs by hand: the flush happens only when `run()` is called. */
function manualScheduler() {
  const due: Array<() => void> = [];
  return {
    schedule: (flush: () => void) => {
      due.push(flush);
    },
    run: () => {
      for (const f of due.splice(0)) f();
    },
    get scheduled() {
      return due.length;
    },
  };
}

describe('ExecutionBatch', () => {
  it('writes the records put before the flush in one store write and settles each after it', async () => {
    const s = countingStore();
    const timer = manualScheduler();
    const batch = new ExecutionBatch(s, timer.schedule);
    const settled: string[] = [];
    const puts = ['h1', 'h2', 'h3'].map((h) => batch.put(record(h)).then(() => settled.push(h)));
    expect(timer.scheduled).toBe(1);
    await Promise.resolve();
    expect(settled).toEqual([]);
    expect(await s.store.getExecution('task-1', 'h1')).toBeUndefined();
    timer.run();
    await Promise.all(puts);
    expect(s.calls).toEqual([['h1', 'h2', 'h3']]);
    expect(settled).toEqual(['h1', 'h2', 'h3']);
    expect(await s.store.getExecution('task-1', 'h3')).toMatchObject({ status: 'succeeded' });
  });

  it('starts a new write for records put after a flush', async () => {
    const s = countingStore();
    const timer = manualScheduler();
    const batch = new ExecutionBatch(s, timer.schedule);
    const first = batch.put(record('h1'));
    timer.run();
    const second = batch.put(record('h2'));
    expect(timer.scheduled).toBe(1);
    timer.run();
    await Promise.all([first, second]);
    expect(s.calls).toEqual([['h1'], ['h2']]);
  });

  it('writes one by one when the batched write fails, so only the refused record fails', async () => {
    const s = countingStore(new Set(['h2']));
    const timer = manualScheduler();
    const batch = new ExecutionBatch(s, timer.schedule);
    const results = Promise.allSettled(['h1', 'h2', 'h3'].map((h) => batch.put(record(h))));
    timer.run();
    expect((await results).map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(s.calls).toEqual([['h1', 'h2', 'h3'], ['h1'], ['h2'], ['h3']]);
    expect(await s.store.getExecution('task-1', 'h2')).toBeUndefined();
    expect(await s.store.getExecution('task-1', 'h3')).toMatchObject({ status: 'succeeded' });
  });

  it('flushes after the current turn by default', async () => {
    const s = countingStore();
    const batch = new ExecutionBatch(s);
    await Promise.all([batch.put(record('h1')), batch.put(record('h2'))]);
    expect(s.calls).toEqual([['h1', 'h2']]);
  });
});
