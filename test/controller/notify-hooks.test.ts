/** The outcomes the controller's parts yield for the notifier: drift records (pure) and paused rollouts. */
import { describe, expect, it } from 'vitest';
import {
  driftOutcomes,
  executionOutcome,
  remediationOutcome,
  rolloutPausedOutcome,
} from '../../src/controller/notify-hooks.js';
import { RolloutManager } from '../../src/controller/rollouts.js';
import type { AgentVersion } from '../../src/spec/types.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { RolloutRecord } from '../../src/store/rollout-record.js';
import type { DriftRecord, ExecutionRecord } from '../../src/store/types.js';
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

function remediationRecord(over: Partial<ExecutionRecord>): ExecutionRecord {
  return {
    id: 'remediation:Remediation/restart@2026-01-01T00:00:00.000Z@ProcessWatch/nginx',
    hostId: 'web-1',
    reason: 'remediation:Remediation/restart',
    resource: 'Remediation/restart',
    command: 'systemctl restart nginx',
    status: 'succeeded',
    exitCode: 0,
    signal: null,
    stdoutTail: 'ok\n',
    stderrTail: '',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    durationMs: 1000,
    timedOut: false,
    killed: false,
    remediation: {
      name: 'restart',
      itemHash: 'h1',
      revision: 'rev-1',
      decision: 'ran',
      event: {
        type: 'process.down',
        time: '2026-01-01T00:00:00.000Z',
        resource: 'ProcessWatch/nginx',
        fields: { process: 'nginx', pids: [] },
      },
    },
    ...over,
  };
}

const chain = remediationRecord({}).remediation as NonNullable<ExecutionRecord['remediation']>;

describe('remediationOutcome', () => {
  it.each([
    { name: 'a run that finished', over: {}, type: 'remediation.ran', decision: 'ran' },
    {
      name: 'a run that failed',
      over: { status: 'failed' as const, exitCode: 1 },
      type: 'remediation.ran',
      decision: 'ran',
    },
    {
      name: 'a cooldown skip',
      over: {
        status: 'skipped' as const,
        remediation: { ...chain, decision: 'cooldown' as const, detail: 'in cooldown' },
      },
      type: 'remediation.skipped',
      decision: 'cooldown',
    },
    {
      name: 'a budget skip',
      over: { status: 'skipped' as const, remediation: { ...chain, decision: 'budget' as const } },
      type: 'remediation.skipped',
      decision: 'budget',
    },
    {
      name: 'a concurrency skip',
      over: { status: 'skipped' as const, remediation: { ...chain, decision: 'concurrency' as const } },
      type: 'remediation.skipped',
      decision: 'concurrency',
    },
    {
      name: 'a dry run',
      over: {
        status: 'skipped' as const,
        remediation: { ...chain, decision: 'dryRun' as const, detail: 'dry run: would run: x' },
      },
      type: 'remediation.skipped',
      decision: 'dryRun',
    },
  ])('yields $type ($decision) for $name', ({ over, type, decision }) => {
    const rec = remediationRecord(over);
    expect(remediationOutcome(rec)).toMatchObject({
      type,
      host: 'web-1',
      at: '2026-01-01T00:00:01.000Z',
      remediation: 'restart',
      decision,
      detail: rec.remediation?.detail ?? null,
      revision: 'rev-1',
      event: {
        type: 'process.down',
        resource: 'ProcessWatch/nginx',
        fields: { process: 'nginx', pids: [] },
      },
      execution: { taskId: rec.id, status: rec.status, exitCode: rec.exitCode, stdout: 'ok\n' },
    });
  });

  it.each([
    { name: 'a record with no remediation chain', rec: remediationRecord({ remediation: undefined }) },
    { name: 'a run still in progress', rec: remediationRecord({ status: 'running', finishedAt: undefined }) },
  ])('yields nothing for $name', ({ rec }) => {
    expect(remediationOutcome(rec)).toBeUndefined();
  });

  it('yields null for an event without a resource (agent.lost), not undefined (JSON keeps it)', () => {
    const o = remediationOutcome(
      remediationRecord({
        remediation: {
          ...chain,
          event: { type: 'agent.lost', time: chain.event.time, fields: { host: 'web-2' } },
        },
      }),
    );
    expect(o).toMatchObject({ event: { type: 'agent.lost', resource: null, fields: { host: 'web-2' } } });
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
