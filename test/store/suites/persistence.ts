/** Conformance: data survives close/reopen (and a server restart), and bad records are refused. */
import { describe, expect, it } from 'vitest';
import { InvalidRecordError, StoreClosedError } from '../../../src/store/errors.js';
import type { HostRecord, RevisionRecord, Store } from '../../../src/store/types.js';
import type { StoreContext } from '../backends.js';
import { agent, audit, drift, execution, fullHost, host, revision, status } from '../fixtures.js';

async function seedOneOfEach(store: Store): Promise<void> {
  await store.putAgent(agent(1));
  await store.putRevision(revision(1, { status: 'rejected' }));
  await store.setAppliedRevision('sha-0000');
  await store.upsertHost(fullHost(1));
  await store.putResourceStatuses('host-0001', [status('host-0001', 'a', { state: 'Failed' })]);
  await store.putDrift(drift(1));
  await store.putExecution(execution(1, { resource: 'ConfigFile/a' }));
  await store.appendAudit(audit(1));
  await store.setState('rollout/web', { batch: 1 });
}

async function expectOneOfEach(store: Store): Promise<void> {
  expect(await store.getAgent('agent-0001')).toStrictEqual(agent(1));
  expect(await store.getLastRejectedRevision()).toStrictEqual(revision(1, { status: 'rejected' }));
  expect(await store.getAppliedRevision()).toBe('sha-0000');
  expect((await store.listHosts({ syncState: 'OutOfSync', labels: { role: 'web' } })).items).toStrictEqual([
    fullHost(1),
  ]);
  expect((await store.countHostsBySyncState()).OutOfSync).toBe(1);
  expect((await store.listResourceStatuses({ state: 'Failed' })).items).toHaveLength(1);
  expect((await store.listDrift({ hostId: 'host-0001' })).items).toStrictEqual([drift(1)]);
  expect((await store.listExecutions({ resource: 'ConfigFile/a' })).items).toStrictEqual([
    execution(1, { resource: 'ConfigFile/a' }),
  ]);
  expect((await store.listAudit()).items).toStrictEqual([audit(1)]);
  expect(await store.getState('rollout/web')).toEqual({ batch: 1 });
}

export function persistenceSuite(ctx: StoreContext): void {
  describe('persistence', () => {
    it('keeps every kind of record when the store is closed and opened again', async () => {
      const fixture = await ctx.fresh();
      const first = await fixture.open();
      await seedOneOfEach(first);
      await first.close();
      await expectOneOfEach(await fixture.open());
    });

    it('sees the same data from two stores open at once', async () => {
      const fixture = await ctx.fresh();
      const a = await fixture.open();
      const b = await fixture.open();
      await seedOneOfEach(a);
      await expectOneOfEach(b);
    });

    if (ctx.backend.restartServer) {
      const restart = ctx.backend.restartServer;
      it('keeps every record and reconnects when the server restarts', async () => {
        const fixture = await ctx.fresh();
        const store = await fixture.open();
        await seedOneOfEach(store);
        await restart();
        await expectOneOfEach(store);
        await expectOneOfEach(await fixture.open());
      });
    }

    it('refuses calls with StoreClosedError when the store is closed', async () => {
      const store = await ctx.store();
      await store.close();
      await store.close();
      await expect(store.getHost('h1')).rejects.toThrow(StoreClosedError);
      await expect(store.setState('k', 1)).rejects.toThrow(StoreClosedError);
    });
  });
}

const INVALID: { name: string; put: (store: Store) => Promise<unknown>; error: RegExp }[] = [
  {
    name: 'a host with an unknown sync state',
    put: (s) => s.upsertHost({ ...host(1), syncState: 'Great' } as unknown as HostRecord),
    error: /^host\.syncState: must be one of/,
  },
  {
    name: 'a host whose label is not a string',
    put: (s) => s.upsertHost({ ...host(1), labels: { n: 1 } } as unknown as HostRecord),
    error: /^host\.labels\.n: must be a string/,
  },
  {
    name: 'a drift record with a bad time',
    put: (s) => s.putDrift(drift(1, { detectedAt: 'last tuesday' })),
    error: /^drift\.detectedAt: must be an ISO 8601 time/,
  },
  {
    name: 'an execution with an empty id',
    put: (s) => s.putExecution(execution(1, { id: '' })),
    error: /^execution\.id: must be a non-empty string/,
  },
  {
    name: 'a revision error without a line',
    put: (s) =>
      s.putRevision({
        ...revision(1),
        errors: [{ file: 'a.yaml', col: 1, path: '', message: 'x' }],
      } as unknown as RevisionRecord),
    error: /^revision\.errors\[0\]\.line: must be a finite number/,
  },
  {
    name: 'a host id containing NUL',
    put: (s) => s.upsertHost(host(1, { hostId: 'a\u0000b' })),
    error: /^host\.hostId: must be a non-empty string without NUL/,
  },
];

export function validationSuite(ctx: StoreContext): void {
  describe('validation', () => {
    it.each(INVALID)('rejects $name with InvalidRecordError naming the field', async ({ put, error }) => {
      const store = await ctx.store();
      const failure = put(store);
      await expect(failure).rejects.toThrow(InvalidRecordError);
      await expect(failure).rejects.toThrow(error);
      expect((await store.listHosts()).items).toEqual([]);
    });

    it('rejects a heal time when it is not a time', async () => {
      const store = await ctx.store();
      await store.putDrift(drift(1));
      await expect(store.markDriftHealed('drift-0001', 'soon')).rejects.toThrow(InvalidRecordError);
      expect((await store.listDrift({ healed: true })).items).toEqual([]);
    });
  });
}
