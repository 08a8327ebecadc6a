/** Conformance: the state key/value and retention of executions and drift. */
import { describe, expect, it } from 'vitest';
import { CorruptRecordError, InvalidQueryError } from '../../../src/store/errors.js';
import type { JsonValue, Store } from '../../../src/store/types.js';
import type { StoreContext } from '../backends.js';
import { at, drift, execution } from '../fixtures.js';

const SECOND_MS = 1_000;

function isCount(value: JsonValue): value is { count: number } {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && typeof value.count === 'number'
  );
}

export function stateSuite(ctx: StoreContext): void {
  describe('state key/value', () => {
    it('returns undefined when the key was never set', async () => {
      const store = await ctx.store();
      expect(await store.getState('rollout/web')).toBeUndefined();
    });

    it('returns each JSON value as set, the last one winning', async () => {
      const store = await ctx.store();
      const rollout = { batch: 2, paused: false, hosts: ['h1', 'h2'], nested: { at: at(1), ratio: 0.5 } };
      await store.setState('rollout/web', rollout);
      await store.setState('streamto/kafka-a', 1_000_123);
      await store.setState('nothing', null);
      expect(await store.getState('rollout/web')).toStrictEqual(rollout);
      expect(await store.getState('streamto/kafka-a')).toBe(1_000_123);
      expect(await store.getState('nothing')).toBeNull();
      await store.setState('rollout/web', 'done');
      expect(await store.getState('rollout/web')).toBe('done');
    });

    it('checks the value with the guard when one is given', async () => {
      const store = await ctx.store();
      await store.setState('hwm', { count: 3 });
      await store.setState('bad', 'text');
      expect(await store.getState('hwm', isCount)).toEqual({ count: 3 });
      await expect(store.getState('bad', isCount)).rejects.toThrow(CorruptRecordError);
    });
  });
}

async function seedHistory(store: Store, count: number): Promise<void> {
  for (let i = 1; i <= count; i++) {
    await store.putExecution(execution(i));
    await store.putDrift(drift(i));
  }
}

export function retentionSuite(ctx: StoreContext): void {
  describe('retention', () => {
    it('keeps the newest maxCount records when there are more', async () => {
      const store = await ctx.store();
      await seedHistory(store, 10);
      const result = await store.applyRetention(
        { executions: { maxCount: 3 }, drift: { maxCount: 8 } },
        new Date(at(100)),
      );
      expect(result).toEqual({ executions: 7, drift: 2 });
      expect((await store.listExecutions()).items.map((e) => e.id)).toEqual([
        'task-0010',
        'task-0009',
        'task-0008',
      ]);
      expect((await store.listDrift()).items).toHaveLength(8);
      expect(await store.getExecution('task-0007', 'host-0001')).toBeUndefined();
      expect((await store.listExecutions({ hostId: 'host-0001', status: 'succeeded' })).items).toHaveLength(
        3,
      );
    });

    it('deletes records older than maxAgeMs when measured at now', async () => {
      const store = await ctx.store();
      await seedHistory(store, 10);
      // At second 12 with 5 s kept, records from second 7 on stay.
      const result = await store.applyRetention(
        { executions: { maxAgeMs: 5 * SECOND_MS }, drift: { maxAgeMs: 5 * SECOND_MS } },
        new Date(at(12)),
      );
      expect(result).toEqual({ executions: 6, drift: 6 });
      expect((await store.listDrift()).items.map((d) => d.id)).toEqual([
        'drift-0010',
        'drift-0009',
        'drift-0008',
        'drift-0007',
      ]);
      expect((await store.listDrift({ hostId: 'host-0001' })).items).toHaveLength(4);
    });

    it('applies both bounds when age and count are given', async () => {
      const store = await ctx.store();
      await seedHistory(store, 10);
      const result = await store.applyRetention(
        { executions: { maxAgeMs: 5 * SECOND_MS, maxCount: 2 } },
        new Date(at(12)),
      );
      expect(result).toEqual({ executions: 8, drift: 0 });
      expect((await store.listExecutions()).items.map((e) => e.id)).toEqual(['task-0010', 'task-0009']);
    });

    it('deletes nothing when the policy is within bounds', async () => {
      const store = await ctx.store();
      await seedHistory(store, 3);
      const result = await store.applyRetention(
        { executions: { maxCount: 3, maxAgeMs: 60 * SECOND_MS }, drift: {} },
        new Date(at(4)),
      );
      expect(result).toEqual({ executions: 0, drift: 0 });
    });

    it('rejects the policy when a bound is negative', async () => {
      const store = await ctx.store();
      await expect(store.applyRetention({ drift: { maxCount: -1 } }, new Date())).rejects.toThrow(
        InvalidQueryError,
      );
    });
  });
}
