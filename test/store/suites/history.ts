/** Conformance: drift records, executions and the audit log (idempotent puts, filters, order). */
import { describe, expect, it } from 'vitest';
import type { ExecutionRecord } from '../../../src/store/types.js';
import type { StoreContext } from '../backends.js';
import { at, audit, drift, execution } from '../fixtures.js';

export function driftSuite(ctx: StoreContext): void {
  describe('drift', () => {
    it('stores one record when the same drift id is sent three times', async () => {
      const store = await ctx.store();
      const full = drift(1, { expectedHash: 'e', observedHash: 'o' });
      for (let i = 0; i < 3; i++) await store.putDrift(full);
      expect((await store.listDrift()).items).toStrictEqual([full]);
    });

    it('does not un-heal a record when the unhealed original is re-sent', async () => {
      const store = await ctx.store();
      await store.putDrift(drift(1));
      expect(await store.markDriftHealed('drift-0001', at(5))).toBe(true);
      await store.putDrift(drift(1));
      expect((await store.listDrift()).items).toStrictEqual([drift(1, { healed: true, healedAt: at(5) })]);
    });

    it('heals the record when it is re-sent as healed', async () => {
      const store = await ctx.store();
      await store.putDrift(drift(1));
      await store.putDrift(drift(1, { healed: true, healedAt: at(3), detail: 'ignored' }));
      expect((await store.listDrift()).items).toStrictEqual([drift(1, { healed: true, healedAt: at(3) })]);
    });

    it('keeps the first healedAt when the record is marked healed twice', async () => {
      const store = await ctx.store();
      await store.putDrift(drift(1));
      await store.markDriftHealed('drift-0001', at(5));
      await store.markDriftHealed('drift-0001', at(9));
      expect((await store.listDrift()).items[0]?.healedAt).toBe(at(5));
    });

    it('returns false when marking an unknown id healed', async () => {
      const store = await ctx.store();
      expect(await store.markDriftHealed('nope', at(1))).toBe(false);
      expect((await store.listDrift()).items).toEqual([]);
    });

    it('filters by host, key, since and healed when given', async () => {
      const store = await ctx.store();
      await store.putDrift(drift(1, { hostId: 'h1', key: 'ConfigFile/a' }));
      await store.putDrift(drift(2, { hostId: 'h2', key: 'ConfigFile/a' }));
      await store.putDrift(drift(3, { hostId: 'h1', key: 'ConfigFile/b', kind: 'intentional' }));
      await store.putDrift(drift(4, { hostId: 'h1', key: 'ConfigFile/a' }));
      await store.markDriftHealed('drift-0004', at(10));
      const ids = async (q: Parameters<typeof store.listDrift>[0]) =>
        (await store.listDrift(q)).items.map((d) => d.id);
      expect(await ids({})).toEqual(['drift-0004', 'drift-0003', 'drift-0002', 'drift-0001']);
      expect(await ids({ hostId: 'h1' })).toEqual(['drift-0004', 'drift-0003', 'drift-0001']);
      expect(await ids({ key: 'ConfigFile/a' })).toEqual(['drift-0004', 'drift-0002', 'drift-0001']);
      expect(await ids({ since: at(2) })).toEqual(['drift-0004', 'drift-0003', 'drift-0002']);
      expect(await ids({ healed: true })).toEqual(['drift-0004']);
      expect(await ids({ healed: false, hostId: 'h1', key: 'ConfigFile/a' })).toEqual(['drift-0001']);
      expect(await ids({ since: at(3), key: 'ConfigFile/a', healed: false })).toEqual([]);
    });
  });
}

export function executionSuite(ctx: StoreContext): void {
  describe('executions', () => {
    it('returns the record with null exit code and signal when read back', async () => {
      const store = await ctx.store();
      const killed = execution(1, {
        status: 'timedOut',
        exitCode: null,
        signal: 'SIGKILL',
        timedOut: true,
        killed: true,
        resource: 'ConfigFile/nginx',
        requestedBy: 'alice',
      });
      await store.putExecution(killed);
      expect(await store.getExecution('task-0001', 'host-0001')).toStrictEqual(killed);
      expect(await store.getExecution('task-0001', 'host-0002')).toBeUndefined();
    });

    it('stores one record per host when one task runs on two hosts', async () => {
      const store = await ctx.store();
      await store.putExecution(execution(1, { hostId: 'h1' }));
      await store.putExecution(execution(1, { hostId: 'h2', exitCode: 3, status: 'failed' }));
      expect((await store.getExecution('task-0001', 'h2'))?.exitCode).toBe(3);
      expect((await store.listExecutions()).items.map((e) => e.hostId)).toEqual(['h2', 'h1']);
    });

    it('replaces the running record when the result arrives, and not twice when it is re-sent', async () => {
      const store = await ctx.store();
      const running = execution(1, {
        status: 'running',
        exitCode: null,
        finishedAt: undefined,
        durationMs: undefined,
      });
      await store.putExecution(running);
      await store.putExecution(execution(1));
      await store.putExecution(execution(1));
      expect((await store.listExecutions()).items).toStrictEqual([execution(1)]);
      expect((await store.listExecutions({ status: 'running' })).items).toEqual([]);
    });

    it('keeps the result when a late running record arrives', async () => {
      const store = await ctx.store();
      await store.putExecution(execution(1, { status: 'failed', exitCode: 2 }));
      await store.putExecution(execution(1, { status: 'running', exitCode: null }));
      expect((await store.getExecution('task-0001', 'host-0001'))?.status).toBe('failed');
    });

    it('stores every row of a fan-out written at once, filterable by host and status', async () => {
      const store = await ctx.store();
      const running = {
        status: 'running' as const,
        exitCode: null,
        finishedAt: undefined,
        durationMs: undefined,
      };
      const rows = Array.from({ length: 250 }, (_, i) =>
        execution(1, { ...running, hostId: `h${String(i).padStart(3, '0')}` }),
      );
      await store.putExecutions(rows);
      const page = await store.listExecutions({ status: 'running', limit: 500 });
      expect(page.items.map((e) => e.hostId).sort()).toEqual(rows.map((r) => r.hostId));
      expect(await store.getExecution('task-0001', 'h249')).toEqual(rows[249]);
      expect((await store.listExecutions({ hostId: 'h007' })).items).toEqual([rows[7]]);
    });

    it('keeps finished results when a batch of running rows names the same tasks', async () => {
      const store = await ctx.store();
      await store.putExecution(execution(1, { hostId: 'h1', status: 'failed', exitCode: 2 }));
      await store.putExecutions([
        execution(1, { hostId: 'h1', status: 'running', exitCode: null }),
        execution(1, { hostId: 'h2', status: 'running', exitCode: null }),
      ]);
      expect((await store.getExecution('task-0001', 'h1'))?.status).toBe('failed');
      expect((await store.getExecution('task-0001', 'h2'))?.status).toBe('running');
    });

    it('stores nothing from a batch holding an invalid row, and takes an empty batch', async () => {
      const store = await ctx.store();
      await store.putExecutions([]);
      const bad = { ...execution(2, { hostId: 'h2' }), status: 'bogus' } as unknown as ExecutionRecord;
      await expect(store.putExecutions([execution(1, { hostId: 'h1' }), bad])).rejects.toThrow(/status/);
      expect((await store.listExecutions()).items).toEqual([]);
    });

    it('filters by host, resource, since and status when given', async () => {
      const store = await ctx.store();
      await store.putExecution(execution(1, { hostId: 'h1', resource: 'ConfigFile/a' }));
      await store.putExecution(execution(2, { hostId: 'h2', resource: 'ConfigFile/a', status: 'failed' }));
      await store.putExecution(execution(3, { hostId: 'h1' }));
      await store.putExecution(execution(4, { hostId: 'h1', resource: 'Remediation/r', status: 'failed' }));
      const ids = async (q: Parameters<typeof store.listExecutions>[0]) =>
        (await store.listExecutions(q)).items.map((e) => e.id);
      expect(await ids({})).toEqual(['task-0004', 'task-0003', 'task-0002', 'task-0001']);
      expect(await ids({ hostId: 'h1' })).toEqual(['task-0004', 'task-0003', 'task-0001']);
      expect(await ids({ resource: 'ConfigFile/a' })).toEqual(['task-0002', 'task-0001']);
      expect(await ids({ since: at(3) })).toEqual(['task-0004', 'task-0003']);
      expect(await ids({ status: 'failed' })).toEqual(['task-0004', 'task-0002']);
      expect(await ids({ status: 'failed', hostId: 'h1', since: at(1) })).toEqual(['task-0004']);
      expect(await ids({ resource: 'ConfigFile/a', hostId: 'h2', status: 'succeeded' })).toEqual([]);
    });

    it('keeps a remediation decision chain, skipped included, and lists one task id on every host', async () => {
      const store = await ctx.store();
      const chain = {
        name: 'restart-svc',
        itemHash: 'a'.repeat(64),
        revision: 'rev-1',
        decision: 'cooldown' as const,
        event: {
          type: 'process.down',
          time: at(1),
          resource: 'ProcessWatch/svc',
          fields: { process: 'svc', restarts: 2, ok: false },
        },
        detail: 'in cooldown',
      };
      const skipped = execution(1, {
        id: 'remediation:Remediation/restart-svc@1',
        reason: 'remediation:Remediation/restart-svc',
        resource: 'Remediation/restart-svc',
        status: 'skipped',
        exitCode: null,
        remediation: chain,
      });
      await store.putExecution(skipped);
      await store.putExecution(execution(2, { id: 'shared', hostId: 'h1' }));
      await store.putExecution(execution(2, { id: 'shared', hostId: 'h2' }));
      expect(await store.getExecution(skipped.id, skipped.hostId)).toStrictEqual(skipped);
      const listed = await store.listExecutions({ resource: 'Remediation/restart-svc', status: 'skipped' });
      expect(listed.items).toStrictEqual([skipped]);
      const shared = await store.listExecutions({ id: 'shared' });
      expect(shared.items.map((e) => e.hostId).sort()).toEqual(['h1', 'h2']);
      const bad = { ...skipped, remediation: { ...chain, decision: 'maybe' } } as unknown as ExecutionRecord;
      await expect(store.putExecution(bad)).rejects.toThrow(/remediation\.decision/);
    });
  });
}

export function auditSuite(ctx: StoreContext): void {
  describe('audit log', () => {
    it('lists newest first with details when records are appended', async () => {
      const store = await ctx.store();
      await store.appendAudit(audit(1, { detail: { hosts: ['h1', 'h2'], dryRun: false, n: 2 } }));
      await store.appendAudit(audit(3, { detail: 'text' }));
      await store.appendAudit(audit(2, { detail: null }));
      const page = await store.listAudit();
      expect(page.items).toStrictEqual([
        audit(3, { detail: 'text' }),
        audit(2, { detail: null }),
        audit(1, { detail: { hosts: ['h1', 'h2'], dryRun: false, n: 2 } }),
      ]);
    });

    it('does not duplicate a record when the same id is appended twice', async () => {
      const store = await ctx.store();
      await store.appendAudit(audit(1));
      await store.appendAudit(audit(1));
      expect((await store.listAudit()).items).toStrictEqual([audit(1)]);
    });
  });
}
