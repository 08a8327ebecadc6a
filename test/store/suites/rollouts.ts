/** Conformance: rollout records (put, get, list in order, validation, survival of a reopen). */
import { describe, expect, it } from 'vitest';
import { InvalidRecordError } from '../../../src/store/errors.js';
import type { RolloutRecord } from '../../../src/store/rollout-record.js';
import type { StoreContext } from '../backends.js';
import { at } from '../fixtures.js';

function rollout(name: string, generation: number, extra: Partial<RolloutRecord> = {}): RolloutRecord {
  return {
    id: `${name}#${generation}`,
    name,
    generation,
    version: `1.${generation}.0`,
    artifact: { sha256: 'a'.repeat(64), url: `/api/v1/artifacts/gse-agent-1.${generation}.0.tgz` },
    gitVersion: `1.${generation}.0`,
    undo: false,
    revision: 'rev-1',
    phase: 'Progressing',
    mode: 'auto',
    batchSize: 2,
    maxUnavailable: 1,
    maxFailures: 0,
    pauseBetweenMs: 0,
    healthDeadlineMs: 30_000,
    hosts: ['h1', 'h2', 'h3'],
    reached: 1,
    approved: 1,
    attempt: 1,
    failures: [],
    startedAt: at(1),
    updatedAt: at(1),
    ...extra,
  };
}

export function rolloutSuite(ctx: StoreContext): void {
  describe('rollouts', () => {
    it('returns undefined for an unknown id and an empty list at first', async () => {
      const store = await ctx.store();
      expect(await store.getRollout('agents#1')).toBeUndefined();
      expect(await store.listRollouts()).toEqual([]);
    });

    it('replaces a rollout by id and lists by name, then generation', async () => {
      const store = await ctx.store();
      await store.putRollout(rollout('web', 2));
      await store.putRollout(rollout('db', 1));
      await store.putRollout(rollout('web', 1, { phase: 'Superseded', endReason: 'superseded by 1.2.0' }));
      const paused = rollout('web', 2, {
        phase: 'Paused',
        pauseReason: 'batch 1 of 2: 1 host(s) failed',
        failures: [{ hostId: 'h2', batch: 1, message: 'sha256 mismatch' }],
      });
      await store.putRollout(paused);
      expect(await store.getRollout('web#2')).toEqual(paused);
      expect((await store.listRollouts()).map((r) => r.id)).toEqual(['db#1', 'web#1', 'web#2']);
    });

    it('does not mix rollouts with state values', async () => {
      const store = await ctx.store();
      await store.setState('rollout/web', { batch: 2 });
      await store.setState('rollouts', 'x');
      await store.putRollout(rollout('web', 1));
      expect((await store.listRollouts()).map((r) => r.id)).toEqual(['web#1']);
    });

    it('refuses a record with a bad field, naming it', async () => {
      const store = await ctx.store();
      const bad = { ...rollout('web', 1), phase: 'Running' } as unknown as RolloutRecord;
      await expect(store.putRollout(bad)).rejects.toThrow(InvalidRecordError);
      await expect(store.putRollout(bad)).rejects.toThrow(/rollout\.phase/);
    });

    it('keeps rollouts across a reopen, so a restarted controller resumes them', async () => {
      const fixture = await ctx.fresh();
      const store = await fixture.open();
      await store.putRollout(rollout('web', 1, { reached: 2 }));
      const again = await fixture.open();
      expect((await again.getRollout('web#1'))?.reached).toBe(2);
    });
  });
}
