/** The rollout routes over a port of plain objects: listing, one rollout, and audited operator actions. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RolloutView } from '../../src/api/port.js';
import { ADMIN, MemoryPort, type ServedApi, serveApi, T0, VIEWER } from './memory-port.js';

const at = new Date(T0).toISOString();
const VIEW: RolloutView = {
  rollout: {
    id: 'agents#2',
    name: 'agents',
    generation: 2,
    version: '1.1.0',
    gitVersion: '1.1.0',
    undo: false,
    revision: 'rev-2',
    phase: 'Paused',
    mode: 'auto',
    batchSize: 2,
    maxUnavailable: 0,
    maxFailures: 0,
    pauseBetweenMs: 0,
    healthDeadlineMs: 30_000,
    hosts: ['h1', 'h2'],
    reached: 1,
    approved: 1,
    attempt: 1,
    pauseReason: 'batch 1 of 1: 1 host(s) failed',
    failures: [{ hostId: 'h2', batch: 1, message: 'sha256 mismatch' }],
    startedAt: at,
    updatedAt: at,
  },
  batch: 1,
  batches: 1,
  counts: { upgraded: 1, upgrading: 0, failed: 1, pending: 0, waiting: 0 },
  hosts: [
    { hostId: 'h1', batch: 1, state: 'upgraded', runningVersion: '1.1.0' },
    { hostId: 'h2', batch: 1, state: 'failed', runningVersion: '1.0.0', message: 'sha256 mismatch' },
  ],
};

let port: MemoryPort;
let api: ServedApi;
beforeEach(async () => {
  port = new MemoryPort();
  port.rolloutViews.set('agents', VIEW);
  api = await serveApi(port);
});
afterEach(() => api.close());

describe('rollout routes', () => {
  it('lists every rollout and shows one with its pause reason to a viewer', async () => {
    const list = await api.call('/api/v1/rollouts', { token: VIEWER });
    expect(list.status).toBe(200);
    expect(((await list.json()) as { items: RolloutView[] }).items.map((v) => v.rollout.id)).toEqual([
      'agents#2',
    ]);
    const one = await api.call('/api/v1/rollouts/agents', { token: VIEWER });
    expect(((await one.json()) as RolloutView).rollout.pauseReason).toContain('failed');
    expect((await api.call('/api/v1/rollouts/nope', { token: VIEWER })).status).toBe(404);
  });

  it('refuses actions to a viewer and audits an operator resume', async () => {
    expect((await api.call('/api/v1/rollouts/agents/resume', { method: 'POST', token: VIEWER })).status).toBe(
      403,
    );
    const res = await api.call('/api/v1/rollouts/agents/resume', { method: 'POST', token: ADMIN });
    expect(res.status).toBe(200);
    expect(port.rolloutActions).toEqual(['resume agents by admin']);
    expect(
      port.auditRecords.some((r) => r.target.includes('/rollouts/agents/resume') && r.status === 200),
    ).toBe(true);
  });

  it('answers 404 for an action on an unknown rollout', async () => {
    const res = await api.call('/api/v1/rollouts/nope/undo', { method: 'POST', token: ADMIN });
    expect(res.status).toBe(404);
  });
});
