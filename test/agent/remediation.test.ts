/** The host's remediation decisions with a real budget file: every decision emitted, budgets durable. */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecOutcome, ExecSpec } from '../../agent/engine/index.js';
import { RemediationRunner } from '../../agent/remediation.js';
import { RemediationBudgets } from '../../agent/remediation-budgets.js';
import type { ManifestRemediation } from '../../src/protocol/manifest.js';
import type { ExecResultMessage, HostEvent, SpooledMessage } from '../../src/protocol/messages.js';
import { type Sandbox, sandbox } from './engine/helpers.js';

const T = Date.UTC(2026, 0, 1);

function rule(extra: Partial<ManifestRemediation> = {}): ManifestRemediation {
  return {
    kind: 'Remediation',
    name: 'restart-svc',
    hash: 'h'.repeat(64),
    on: { event: 'process.down', match: { process: 'svc' } },
    run: { run: 'echo restart', script: 'echo restart', timeoutMs: 5_000 },
    cooldownMs: 1_000,
    maxConcurrent: 1,
    maxPerHour: 2,
    dryRun: false,
    ...extra,
  };
}

function down(i: number, process = 'svc'): HostEvent {
  return {
    type: 'process.down',
    time: new Date(T + i).toISOString(),
    resource: `ProcessWatch/${process}`,
    fields: { process },
  };
}

describe('RemediationRunner', () => {
  let box: Sandbox;
  let now: number;
  let emitted: ExecResultMessage[];
  let runs: ExecSpec[];

  beforeEach(async () => {
    box = await sandbox('gse-remediation-');
    now = T;
    emitted = [];
    runs = [];
  });
  afterEach(() => box.cleanup());

  async function runner(): Promise<RemediationRunner> {
    const budgets = await RemediationBudgets.open(join(box.dir, 'remediation-budgets.json'));
    return new RemediationRunner({
      clock: { now: () => now },
      budgets,
      run: async (spec): Promise<ExecOutcome> => {
        runs.push(spec);
        return {
          exitCode: 0,
          signal: null,
          stdoutTail: 'restarted\n',
          stderrTail: '',
          startedAt: new Date(now).toISOString(),
          durationMs: 1,
          timedOut: false,
          killed: false,
        };
      },
      emit: async (msg: SpooledMessage) => {
        if (msg.type === 'execResult') emitted.push(msg);
      },
    });
  }

  it('records ran, cooldown and budget decisions, and the budget holds across a restart', async () => {
    const r1 = await runner();
    await r1.setItems([rule()], 'rev-1');
    await r1.onEvent(down(0));
    now += 10;
    await r1.onEvent(down(10));
    now += 2_000;
    await r1.onEvent(down(2_010));
    now += 2_000;
    await r1.onEvent(down(4_010));
    expect(emitted.map((m) => m.remediation?.decision)).toEqual(['ran', 'cooldown', 'ran', 'budget']);
    expect(runs).toHaveLength(2);
    expect(emitted[0]?.remediation).toMatchObject({
      name: 'restart-svc',
      itemHash: 'h'.repeat(64),
      revision: 'rev-1',
      event: { type: 'process.down', fields: { process: 'svc' } },
    });
    expect(emitted[0]?.stdoutTail).toBe('restarted\n');
    expect(emitted[1]).toMatchObject({ exitCode: null, reason: 'remediation:Remediation/restart-svc' });
    expect(emitted[1]?.remediation?.detail).toMatch(/cooldown/);
    expect(new Set(emitted.map((m) => m.taskId)).size).toBe(4);

    const mode = (await stat(join(box.dir, 'remediation-budgets.json'))).mode & 0o777;
    expect(mode).toBe(0o600);

    // A new runner on the same state dir (the agent restarted): the hourly budget is still used.
    emitted = [];
    const r2 = await runner();
    await r2.setItems([rule()], 'rev-1');
    now += 60_000;
    await r2.onEvent(down(64_010));
    expect(emitted.map((m) => m.remediation?.decision)).toEqual(['budget']);
    expect(runs).toHaveLength(2);
  });

  it('a dry run records what it would run and runs nothing', async () => {
    const r = await runner();
    await r.setItems([rule({ dryRun: true })], 'rev-1');
    await r.onEvent(down(0));
    expect(runs).toEqual([]);
    expect(emitted).toHaveLength(1);
    expect(emitted[0]?.remediation).toMatchObject({
      decision: 'dryRun',
      detail: 'dry run: would run: echo restart',
    });
    expect(emitted[0]?.exitCode).toBeNull();
  });

  it('an event no rule matches decides nothing and runs nothing', async () => {
    const r = await runner();
    await r.setItems([rule()], 'rev-1');
    await r.onEvent(down(0, 'other'));
    await r.onEvent({ type: 'disk.full', time: new Date(T).toISOString(), fields: {} });
    expect(emitted).toEqual([]);
    expect(runs).toEqual([]);
  });

  it('forgets the budget of a rule that left the manifest, and stops firing it', async () => {
    const r = await runner();
    await r.setItems([rule()], 'rev-1');
    await r.onEvent(down(0));
    await r.setItems([], 'rev-2');
    await r.onEvent(down(5_000));
    expect(runs).toHaveLength(1);
    const file = JSON.parse(await readFile(join(box.dir, 'remediation-budgets.json'), 'utf8'));
    expect(file.budgets).toEqual({});
    // Declared again: a fresh budget (the old starts were forgotten with the rule).
    await r.setItems([rule()], 'rev-3');
    now += 10;
    await r.onEvent(down(5_010));
    expect(emitted.at(-1)?.remediation).toMatchObject({ decision: 'ran', revision: 'rev-3' });
  });

  it('holds maxConcurrent from the decision on: a storm of events at once starts one run, the rest skip', async () => {
    const r = await runner();
    await r.setItems([rule({ cooldownMs: 0, maxPerHour: 1_000, maxConcurrent: 1 })], 'rev-1');
    await Promise.all(Array.from({ length: 50 }, (_, i) => r.onEvent(down(i))));
    expect(runs).toHaveLength(1);
    expect(emitted).toHaveLength(50);
    const decisions = emitted.map((m) => m.remediation?.decision);
    expect(decisions.filter((d) => d === 'ran')).toHaveLength(1);
    expect(decisions.filter((d) => d === 'concurrency')).toHaveLength(49);
  });
});
