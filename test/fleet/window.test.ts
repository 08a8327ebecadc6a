import { describe, expect, it } from 'vitest';
import { InFlightWindow } from '../../src/fleet/window.js';

/** A window over numbers whose runs finish only when released, recording hook calls. */
function harness(size: number, options: { held?: boolean; maxQueued?: number } = {}) {
  const log: string[] = [];
  const release = new Map<number, () => void>();
  const win = new InFlightWindow<number>(
    size,
    (n) =>
      new Promise<void>((resolve) => {
        log.push(`run ${n}`);
        release.set(n, resolve);
      }),
    { onFull: () => log.push('full'), onRoom: () => log.push('room') },
    options,
  );
  const finish = async (n: number) => {
    release.get(n)?.();
    await new Promise((r) => setImmediate(r));
  };
  return { win, log, finish };
}

describe('InFlightWindow', () => {
  it('runs at most `size` items and queues the rest when more are pushed', () => {
    const { win, log } = harness(2);
    for (const n of [1, 2, 3, 4]) win.push(n);
    expect(log).toEqual(['run 1', 'run 2', 'full']);
    expect([win.inFlight, win.queued, win.isFull]).toEqual([2, 2, true]);
  });

  it('starts the next queued item and signals room only when the queue is empty', async () => {
    const { win, log, finish } = harness(2);
    for (const n of [1, 2, 3]) win.push(n);
    await finish(1);
    expect(log).toEqual(['run 1', 'run 2', 'full', 'run 3']);
    await finish(2);
    expect(log.at(-1)).toBe('room');
    expect([win.inFlight, win.queued, win.isFull]).toEqual([1, 0, false]);
  });

  it('only queues while held, and runs in order when opened', () => {
    const { win, log } = harness(3, { held: true });
    win.push(1);
    win.push(2);
    expect(log).toEqual(['full']);
    win.open();
    expect(log).toEqual(['full', 'run 1', 'run 2', 'room']);
  });

  it('refuses an item when the queue is at its bound', () => {
    const { win } = harness(1, { maxQueued: 2 });
    expect([win.push(1), win.push(2), win.push(3), win.push(4)]).toEqual([true, true, true, false]);
  });

  it('drops queued items and resolves idle when cleared and the running ones finish', async () => {
    const { win, log, finish } = harness(1);
    win.push(1);
    win.push(2);
    win.clear();
    let idle = false;
    void win.idle().then(() => {
      idle = true;
    });
    await finish(1);
    expect(idle).toBe(true);
    expect(log).not.toContain('run 2');
  });
});
