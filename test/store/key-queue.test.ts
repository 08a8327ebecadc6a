/** KeyQueue: one at a time per key, keys independent, failures do not block the queue. */
import { describe, expect, it } from 'vitest';
import { KeyQueue } from '../../src/store/key-queue.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('KeyQueue', () => {
  it('starts work on a key only when the earlier work on it has settled', async () => {
    const queue = new KeyQueue();
    const gate = deferred();
    const log: string[] = [];
    const first = queue.run('k', async () => {
      log.push('first start');
      await gate.promise;
      log.push('first end');
    });
    const second = queue.run('k', async () => {
      log.push('second');
    });
    const other = queue.run('other', async () => {
      log.push('other');
    });
    await other;
    expect(log).toEqual(['first start', 'other']);
    gate.resolve();
    await Promise.all([first, second]);
    expect(log).toEqual(['first start', 'other', 'first end', 'second']);
  });

  it('runs the next work and passes the error on when earlier work fails', async () => {
    const queue = new KeyQueue();
    const failing = queue.run('k', async () => {
      throw new Error('boom');
    });
    const next = queue.run('k', async () => 42);
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe(42);
  });
});
