/** The outcomes the controller's parts yield for the notifier: drift records (pure) and paused rollouts. */
import { describe, expect, it } from 'vitest';
import { driftOutcomes, executionOutcome, rolloutPausedOutcome } from '../../src/controller/notify-hooks.js';
import { RolloutManager } from '../../src/controller/rollouts.js';
import type { AgentVersion } from '../../src/spec/types.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { RolloutRecord } from '../../src/store/rollout-record.js';
import type { DriftRecord } from '../../src/store/types.js';
import { makeRevision } from '../helpers/revision.js';

function drift(over: Partial<DriftRecord>): DriftRecord {
  return {
    id: 'web-1:r1:ConfigFile/motd',
    hostId: 'web-1',
    key: 'ConfigFile/motd',
    kind: 'corrective',
    revision: 'rev-1',
    detectedAt: '2026-01-01T00:00:00.000Z',
    healed: false,
    detail: 'content differs',
    ...over,
  };
}

describe('driftOutcomes', () => {
  it.each([
    { name: 'unhealed corrective drift', records: [drift({})], types: ['drift.detected'] },
    {
      name: 'corrective drift the agent healed',
      records: [drift({ healed: true, healedAt: '2026-01-01T00:00:01.000Z' })],
      types: ['drift.detected', 'drift.healed'],
    },
    {
      name: 'an intentional change (a new revision)',
      records: [drift({ kind: 'intentional', healed: true })],
      types: [],
    },
  ])('yields $types for $name', ({ records, types }) => {
    const out = driftOutcomes(records);
    expect(out.map((o) => o.type)).toEqual(types);
    for (const o of out)
      expect(o).toMatchObject({ host: 'web-1', resource: 'ConfigFile/motd', revision: 'rev-1' });
  });
});

describe('executionOutcome', () => {
  it('carries the host, status, exit code and output', () => {
    const o = executionOutcome({
      id: 't1',
      hostId: 'web-1',
      reason: 'adhoc',
      command: 'echo hi',
      status: 'failed',
      exitCode: 3,
      signal: null,
      stdoutTail: 'hi\n',
      stderrTail: 'oops\n',
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:01.000Z',
      durationMs: 1000,
      timedOut: false,
      killed: false,
    });
    expect(o).toMatchObject({
      type: 'execution.finished',
      host: 'web-1',
      at: '2026-01-01T00:00:01.000Z',
      execution: { taskId: 't1', status: 'failed', exitCode: 3, stdout: 'hi\n', stderr: 'oops\n' },
    });
  });
});

describe('RolloutManager onPaused', () => {
  const av: AgentVersion = {
    apiVersion: 'gse/v1',
    kind: 'AgentVersion',
    metadata: { name: 'agents' },
    pos: { file: 'a.yaml', line: 1, col: 1 },
    spec: {
      version: '2.0.0',
      artifact: { sha256: '2'.padEnd(64, '0') },
      hosts: { names: ['*'] },
      rollout: {
        batchSize: 1,
        maxUnavailable: 0,
        maxFailures: 0,
        pauseBetweenMs: 0,
        healthDeadlineMs: 30_000,
        mode: 'auto',
      },
    },
  };

  it('is told once per turn to Paused, with the outcome naming the rollout and why', async () => {
    const paused: RolloutRecord[] = [];
    const rollouts = new RolloutManager({
      store: MemoryStore.open(),
      now: () => Date.parse('2026-01-01T00:00:00.000Z'),
      onPaused: async (r) => {
        paused.push(r);
      },
    });
    const hosts = () => [
      { id: 'h1', online: true, runningVersion: '1.0.0' },
      { id: 'h2', online: true, runningVersion: '1.0.0' },
    ];
    await rollouts.applyRevision(makeRevision([av]), hosts);
    expect(paused).toEqual([]);
    await rollouts.pause('agents', 'alice');
    await rollouts.pause('agents', 'alice');
    expect(paused).toHaveLength(1);
    expect(rolloutPausedOutcome(paused[0] as RolloutRecord)).toMatchObject({
      type: 'rollout.paused',
      rollout: 'agents',
      version: '2.0.0',
      reason: 'paused by alice',
    });
    await rollouts.resume('agents');
    await rollouts.pause('agents', 'bob');
    expect(paused).toHaveLength(2);
  });
});
