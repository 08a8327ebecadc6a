import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../src/source/coalescer.js';

/** A task whose runs the test finishes by hand. */
function manualTask() {
  const finishers: ((value: number) => void)[] = [];
  let started = 0;
  const task = () =>
    new Promise<number>((resolve) => {
      started += 1;
      finishers.push(resolve);
    });
  return { task, finish: (i: number, value: number) => finishers[i]?.(value), started: () => started };
}

describe('Coalescer', () => {
  it('runs once and shares one follow-up run among calls made while a run is in flight', async () => {
    const { task, finish, started } = manualTask();
    const coalescer = new Coalescer(task);

    const first = coalescer.run();
    const joiners = [coalescer.run(), coalescer.run(), coalescer.run()];
    expect(started()).toBe(1);
    finish(0, 1);
    expect(await first).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(started()).toBe(2);
    finish(1, 2);

    expect(await Promise.all(joiners)).toEqual([2, 2, 2]);
  });

  it('starts a fresh run when called after the previous one settled', async () => {
    const coalescer = new Coalescer(async () => 7);

    await coalescer.run();
    await coalescer.run();
    await coalescer.idle();

    expect(await coalescer.run()).toBe(7);
  });

  it('lets the follow-up run even when the in-flight run failed', async () => {
    let calls = 0;
    const coalescer = new Coalescer(async () => {
      calls += 1;
      if (calls === 1) throw new Error('first fails');
      return calls;
    });

    const first = coalescer.run();
    const second = coalescer.run();

    await expect(first).rejects.toThrow('first fails');
    expect(await second).toBe(2);
  });

  it('joins an in-flight run that started after `since`, and queues one for news older than its start', async () => {
    const { task, finish, started } = manualTask();
    let clock = 100;
    const coalescer = new Coalescer(task, () => clock);

    const first = coalescer.run(); // starts at 100
    clock = 105;
    const heardBefore = coalescer.run(99); // the news came before the run started: it has seen it
    expect(heardBefore).toBe(first);
    const heardSameTick = coalescer.run(100); // the same tick: it may have started first, so a new run
    const heardAfter = coalescer.run(104);
    expect(heardAfter).toBe(heardSameTick);
    expect(started()).toBe(1);
    finish(0, 1);
    expect(await heardBefore).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(started()).toBe(2);
    finish(1, 2);
    expect(await heardSameTick).toBe(2);
  });
});
