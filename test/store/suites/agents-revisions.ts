/** Conformance: agent records and revisions (with the applied-revision pointer). */
import { describe, expect, it } from 'vitest';
import type { AgentRegistry as FleetAgentRegistry } from '../../../src/fleet/registry.js';
import type { StoreContext } from '../backends.js';
import { agent, at, revision } from '../fixtures.js';

export function agentSuite(ctx: StoreContext): void {
  describe('agents', () => {
    it('returns undefined when the agent is unknown', async () => {
      const store = await ctx.store();
      expect(await store.getAgent('nobody')).toBeUndefined();
    });

    it('returns the record put when read back', async () => {
      const store = await ctx.store();
      await store.putAgent(agent(1));
      expect(await store.getAgent('agent-0001')).toStrictEqual(agent(1));
    });

    it('replaces the record when the same agent is put again', async () => {
      const store = await ctx.store();
      await store.putAgent(agent(1, { status: 'pending' }));
      await store.putAgent(agent(1, { status: 'revoked', updatedAt: at(9) }));
      expect(await store.getAgent('agent-0001')).toStrictEqual(
        agent(1, { status: 'revoked', updatedAt: at(9) }),
      );
      expect(await store.listAgents()).toHaveLength(1);
    });

    it('serves as the fleet hub registry when passed as one', async () => {
      const registry: FleetAgentRegistry = await ctx.store();
      await registry.putAgent(agent(1, { status: 'pending', credentialHash: '' }));
      expect(await registry.listAgents()).toStrictEqual([
        agent(1, { status: 'pending', credentialHash: '' }),
      ]);
    });

    it('lists every agent ordered by id when several are enrolled', async () => {
      const store = await ctx.store();
      for (const i of [3, 1, 2]) await store.putAgent(agent(i));
      expect((await store.listAgents()).map((a) => a.agentId)).toEqual([
        'agent-0001',
        'agent-0002',
        'agent-0003',
      ]);
    });
  });
}

export function revisionSuite(ctx: StoreContext): void {
  describe('revisions', () => {
    it('returns the record with its errors when read back', async () => {
      const store = await ctx.store();
      const rejected = revision(1, {
        status: 'rejected',
        errors: [
          { file: 'routes/a.yaml', line: 3, col: 5, path: 'spec.targets[0]', message: 'no StreamTarget "k"' },
        ],
      });
      await store.putRevision(rejected);
      expect(await store.getRevision('sha-0001')).toStrictEqual(rejected);
      expect(await store.getRevision('sha-9999')).toBeUndefined();
    });

    it('lists newest seenAt first when revisions arrive out of order', async () => {
      const store = await ctx.store();
      for (const i of [2, 5, 1, 4, 3]) await store.putRevision(revision(i));
      const page = await store.listRevisions();
      expect(page.items.map((r) => r.sha)).toEqual([
        'sha-0005',
        'sha-0004',
        'sha-0003',
        'sha-0002',
        'sha-0001',
      ]);
      expect(page.nextCursor).toBeUndefined();
    });

    it('does not duplicate a revision when it is put twice', async () => {
      const store = await ctx.store();
      await store.putRevision(revision(1));
      await store.putRevision(revision(1, { seenAt: at(7) }));
      const page = await store.listRevisions();
      expect(page.items).toStrictEqual([revision(1, { seenAt: at(7) })]);
    });

    it('returns the newest rejected revision when several were rejected', async () => {
      const store = await ctx.store();
      expect(await store.getLastRejectedRevision()).toBeUndefined();
      await store.putRevision(revision(1, { status: 'rejected' }));
      await store.putRevision(revision(2, { status: 'rejected' }));
      await store.putRevision(revision(3));
      expect((await store.getLastRejectedRevision())?.sha).toBe('sha-0002');
    });

    it('forgets a rejection when the revision is put again as accepted', async () => {
      const store = await ctx.store();
      await store.putRevision(revision(1, { status: 'rejected' }));
      await store.putRevision(revision(1));
      expect(await store.getLastRejectedRevision()).toBeUndefined();
    });

    it('moves the applied pointer when a new revision is applied', async () => {
      const store = await ctx.store();
      expect(await store.getAppliedRevision()).toBeUndefined();
      await store.setAppliedRevision('sha-0001');
      expect(await store.getAppliedRevision()).toBe('sha-0001');
      await store.setAppliedRevision('sha-0002');
      expect(await store.getAppliedRevision()).toBe('sha-0002');
    });
  });
}
