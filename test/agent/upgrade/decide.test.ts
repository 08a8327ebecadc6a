import { describe, expect, it } from 'vitest';
import {
  decideAgentVersion,
  mustReapplyOnStart,
  planExit,
  planLaunch,
  RESTART_MAX_DELAY_MS,
} from '../../../agent/upgrade/decide.js';
import { EXIT_RESTART_NEW_VERSION } from '../../../agent/upgrade/layout.js';
import { type UpgradeAttempt, type UpgradeRecord, withFailure } from '../../../agent/upgrade/record.js';
import type { ManifestAgentVersion } from '../../../src/protocol/manifest.js';

const SHA = 'a'.repeat(64);
const item = (over: Partial<ManifestAgentVersion> = {}): ManifestAgentVersion => ({
  kind: 'AgentVersion',
  name: 'agents',
  hash: 'h',
  version: '1.1.0',
  artifact: { sha256: SHA, url: '/api/v1/artifacts/gse-agent-1.1.0.tgz' },
  healthDeadlineMs: 30_000,
  attempt: 1,
  ...over,
});
const attempt = (over: Partial<UpgradeAttempt> = {}): UpgradeAttempt => ({
  from: '1.0.0',
  to: '1.1.0',
  sha256: SHA,
  attempt: 1,
  url: 'https://c/x.tgz',
  healthDeadlineMs: 30_000,
  state: 'switched',
  at: '2026-01-01T00:00:00.000Z',
  ...over,
});
const empty: UpgradeRecord = { failed: [] };

describe('decideAgentVersion', () => {
  const base = { running: '1.0.0', installDir: '/opt/gse', record: empty };
  const table: Array<{ name: string; input: Parameters<typeof decideAgentVersion>[0]; want: unknown }> = [
    {
      name: 'ok when the running version is the wanted one (v prefix ignored)',
      input: { ...base, item: item({ version: 'v1.0.0' }) },
      want: { action: 'report', state: 'ok', message: 'running 1.0.0' },
    },
    {
      name: 'upgrade when another version is wanted under a launcher',
      input: { ...base, item: item() },
      want: { action: 'upgrade', state: 'changed', message: 'upgrading 1.0.0 -> 1.1.0' },
    },
    {
      name: 'changed, no second upgrade, while this process is upgrading to it',
      input: { ...base, item: item(), inProgress: { to: '1.1.0', sha256: SHA, attempt: 1 } },
      want: { action: 'report', state: 'changed', message: 'upgrading 1.0.0 -> 1.1.0' },
    },
  ];
  for (const t of table) {
    it(`is ${t.name}`, () => {
      expect(decideAgentVersion(t.input)).toEqual(t.want);
    });
  }

  it('fails naming the launcher when the agent runs on its own', () => {
    const d = decideAgentVersion({ ...base, installDir: undefined, item: item() });
    expect(d.action).toBe('report');
    expect(d.state).toBe('failed');
    expect(d.message).toMatch(/running 1\.0\.0, want 1\.1\.0: this agent was not started by a launcher/);
    expect(d.message).toContain('gse-agent launch --install-dir D');
  });

  it('fails naming spec.artifact when the item has no artifact', () => {
    const d = decideAgentVersion({ ...base, item: item({ artifact: undefined }) });
    expect(d).toMatchObject({ action: 'report', state: 'failed' });
    expect(d.message).toContain('spec.artifact.sha256');
  });

  it('never retries a (version, sha256, attempt) that failed, and reports why', () => {
    const record = withFailure({ current: attempt(), failed: [] }, 'sha256 mismatch', 'now');
    const d = decideAgentVersion({ ...base, record, item: item() });
    expect(d).toEqual({
      action: 'report',
      state: 'failed',
      message: 'upgrade 1.0.0 -> 1.1.0 failed (attempt 1): sha256 mismatch',
    });
  });

  it('tries again when the controller bumped the attempt', () => {
    const record = withFailure({ current: attempt(), failed: [] }, 'boom', 'now');
    expect(decideAgentVersion({ ...base, record, item: item({ attempt: 2 }) }).action).toBe('upgrade');
  });
});

describe('mustReapplyOnStart', () => {
  it('re-applies while an upgrade is under way or a failure is unreported, not otherwise', () => {
    expect(mustReapplyOnStart(empty)).toBe(false);
    expect(mustReapplyOnStart({ current: attempt({ state: 'downloading' }), failed: [] })).toBe(true);
    expect(mustReapplyOnStart({ current: attempt({ state: 'switched' }), failed: [] })).toBe(true);
    expect(mustReapplyOnStart({ current: attempt({ state: 'healthy' }), failed: [] })).toBe(false);
    expect(mustReapplyOnStart({ current: attempt({ state: 'failed' }), failed: [] })).toBe(true);
    expect(mustReapplyOnStart({ current: attempt({ state: 'failed', reported: true }), failed: [] })).toBe(
      false,
    );
  });
});

describe('planLaunch', () => {
  it('finishes a switch cut short, watches a switched version, else starts plainly', () => {
    expect(planLaunch({ current: attempt({ state: 'switching' }), failed: [] }).kind).toBe('finish-switch');
    expect(planLaunch({ current: attempt({ state: 'switched' }), failed: [] }).kind).toBe('watch-health');
    expect(planLaunch({ current: attempt({ state: 'healthy' }), failed: [] }).kind).toBe('plain');
    expect(planLaunch(empty).kind).toBe('plain');
  });
});

describe('planExit', () => {
  const input = {
    code: 1,
    signal: null,
    stopping: false,
    record: empty,
    deadlineMissed: false,
    ranVersion: '1.0.0',
    crashes: 0,
  };

  it('stops when the launcher is stopping', () => {
    expect(planExit({ ...input, stopping: true })).toEqual({ kind: 'stop' });
  });

  it('starts the new version at once when the old one exits to upgrade', () => {
    const record = { current: attempt({ state: 'switched' }), failed: [] };
    expect(planExit({ ...input, code: EXIT_RESTART_NEW_VERSION, record })).toEqual({ kind: 'start-now' });
  });

  it('rolls back a new version that exited before it reported', () => {
    const record = { current: attempt({ state: 'switched' }), failed: [] };
    const plan = planExit({ ...input, signal: 'SIGKILL', code: null, record, ranVersion: '1.1.0' });
    expect(plan).toMatchObject({ kind: 'rollback' });
    expect(plan.kind === 'rollback' && plan.reason).toBe(
      'version 1.1.0 exited (signal SIGKILL) before it reported; rolled back to 1.0.0',
    );
  });

  it('rolls back a new version that missed its health deadline', () => {
    const record = { current: attempt({ state: 'switched', healthDeadlineMs: 5000 }), failed: [] };
    const plan = planExit({ ...input, record, ranVersion: '1.1.0', deadlineMissed: true });
    expect(plan.kind === 'rollback' && plan.reason).toBe(
      'version 1.1.0 did not connect and report within 5000 ms (health deadline); rolled back to 1.0.0',
    );
  });

  it('restarts a crashed agent with a growing, capped delay', () => {
    expect(planExit(input)).toEqual({ kind: 'restart', delayMs: 500 });
    expect(planExit({ ...input, crashes: 2 })).toEqual({ kind: 'restart', delayMs: 2000 });
    expect(planExit({ ...input, crashes: 50 })).toEqual({ kind: 'restart', delayMs: RESTART_MAX_DELAY_MS });
  });
});
