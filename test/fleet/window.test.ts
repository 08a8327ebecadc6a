import { describe, expect, it } from 'vitest';
import { InFlightWindow, LanedWindow } from '../../src/fleet/window.js';

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

describe('LanedWindow', () => {
  /** Items are `c<n>` (control) or `d<n>` (data); runs finish only when released. */
  function laned(opts: { control: number; data: number; maxQueuedData?: number }) {
    const log: string[] = [];
    const release = new Map<string, () => void>();
    const win = new LanedWindow<string>(
      opts,
      (item) => (item.startsWith('c') ? 'control' : 'data'),
      (item, lane) =>
        new Promise<void>((resolve) => {
          log.push(`run ${item} (${lane})`);
          release.set(item, resolve);
        }),
      { onFull: () => log.push('full'), onRoom: () => log.push('room') },
    );
    const finish = async (item: string) => {
      release.get(item)?.();
      await new Promise((r) => setImmediate(r));
    };
    return { win, log, finish };
  }

  it('runs control items at once when the data lane is full and never stops reading for data', () => {
    const { win, log } = laned({ control: 2, data: 2 });
    expect(win.push('d1')).toBeUndefined();
    expect(win.push('d2')).toBeUndefined();
    expect(win.push('d3')).toBeUndefined(); // queued: one window's worth may wait
    expect(win.isFull).toBe(false);
    expect(win.push('c1')).toBeUndefined();
    expect(log).toEqual(['run d1 (data)', 'run d2 (data)', 'run c1 (control)']);
    expect(win.lane('data').queued).toBe(1);
    expect(win.inFlight).toBe(3);
    expect(win.queued).toBe(1);
  });

  it('stops reading only while the control lane is full, and reads again when it has room', async () => {
    const { win, log, finish } = laned({ control: 1, data: 4 });
    win.push('c1');
    expect(win.isFull).toBe(true);
    expect(log).toEqual(['run c1 (control)', 'full']);
    await finish('c1');
    expect(win.isFull).toBe(false);
    expect(log.at(-1)).toBe('room');
  });

  it('refuses a data item beyond its queue bound, naming the data window', () => {
    const { win } = laned({ control: 2, data: 1, maxQueuedData: 1 });
    expect(win.push('d1')).toBeUndefined();
    expect(win.push('d2')).toBeUndefined();
    expect(win.push('d3')).toEqual({
      lane: 'data',
      message: 'too many data frames in flight; honour the data window',
    });
    // Control is unaffected by the data lane's refusal.
    expect(win.push('c1')).toBeUndefined();
    expect(win.lane('control').inFlight).toBe(1);
  });

  it('resolves idle only when both lanes finished their running items', async () => {
    const { win, finish } = laned({ control: 1, data: 1 });
    win.push('c1');
    win.push('d1');
    let idle = false;
    void win.idle().then(() => {
      idle = true;
    });
    await finish('c1');
    expect(idle).toBe(false);
    await finish('d1');
    expect(idle).toBe(true);
  });
});
