import { describe, expect, it } from 'vitest';
import { agentVersionItem, defaultArtifactUrl } from '../../src/rollout/item.js';
import {
  advanceRollout,
  assignmentFor,
  endRollout,
  gitChanged,
  hostIndex,
  pauseRollout,
  ROLLBACK_GRACE_MS,
  type RolloutHost,
  resolveCount,
  resumeRollout,
  startRollout,
  undoRollout,
} from '../../src/rollout/plan.js';
import type { AgentVersionSpec } from '../../src/spec/types.js';
import type { RolloutRecord } from '../../src/store/rollout-record.js';
import { agentVersion } from '../helpers/controller-fixtures.js';

const SHA1 = 'a'.repeat(64);
const SHA2 = 'b'.repeat(64);
const T0 = Date.parse('2026-01-01T00:00:00Z');

const av = (version: string, rollout: Partial<AgentVersionSpec['rollout']> = {}, sha = SHA2) =>
  agentVersion(version, rollout, sha);

/** Five online hosts h1..h5, each running `version` unless `on` says otherwise. */
function fleet(version: string, on: Record<string, Partial<RolloutHost>> = {}): RolloutHost[] {
  return ['h3', 'h1', 'h5', 'h2', 'h4'].map((id) => ({
    id,
    online: true,
    runningVersion: version,
    ...on[id],
  }));
}

const hashOf = (r: RolloutRecord) =>
  agentVersionItem(av(r.version), { version: r.version, artifact: r.artifact, attempt: r.attempt }).hash;

function step(r: RolloutRecord, hosts: RolloutHost[], now = T0) {
  return advanceRollout(r, hosts, hashOf(r), now);
}

const reachedHosts = (r: RolloutRecord, hosts: RolloutHost[]) => {
  const index = hostIndex(r);
  return hosts
    .filter((h) => assignmentFor(r, h.id, h.runningVersion, index).version === r.version)
    .map((h) => h.id)
    .sort();
};

describe('resolveCount', () => {
  it.each([
    { value: 2, total: 5, min: 1, want: 2 },
    { value: '10%', total: 1000, min: 1, want: 100 },
    { value: '25%', total: 5, min: 1, want: 2 },
    { value: '1%', total: 5, min: 1, want: 1 },
    { value: '0%', total: 5, min: 0, want: 0 },
    { value: 0, total: 5, min: 1, want: 1 },
  ])('gives $want for $value of $total', ({ value, total, min, want }) => {
    expect(resolveCount(value, total, min)).toBe(want);
  });
});

describe('startRollout', () => {
  it('orders the hosts that need the version by id and reaches the first batch', () => {
    const r = startRollout(
      av('1.1.0'),
      fleet('1.0.0', { h2: { runningVersion: '1.1.0' } }),
      'rev-2',
      undefined,
      T0,
    );
    expect(r.hosts).toEqual(['h1', 'h3', 'h4', 'h5']);
    expect(r.reached).toBe(1);
    expect(r.artifact).toEqual({ sha256: SHA2, url: defaultArtifactUrl('1.1.0') });
    expect(r.fromVersion).toBeUndefined();
    expect(r.id).toBe('agents#1');
  });

  it('remembers the previous version and its package for undo', () => {
    const first = startRollout(av('1.0.0', {}, SHA1), fleet('1.0.0'), 'rev-1', undefined, T0);
    const next = startRollout(av('1.1.0'), fleet('1.0.0'), 'rev-2', first, T0);
    expect(next).toMatchObject({ id: 'agents#2', generation: 2, fromVersion: '1.0.0' });
    expect(next.fromArtifact?.sha256).toBe(SHA1);
  });
});

describe('advanceRollout', () => {
  it('moves five hosts in batches of two as each batch reports the new version', () => {
    let hosts = fleet('1.0.0');
    let r = startRollout(av('1.1.0'), hosts, 'rev-2', undefined, T0);
    expect(reachedHosts(r, hosts)).toEqual(['h1', 'h2']);
    // Nothing moves while the first batch upgrades.
    expect(step(r, hosts).record.reached).toBe(1);
    hosts = fleet('1.0.0', { h1: { runningVersion: '1.1.0' }, h2: { runningVersion: '1.1.0' } });
    r = step(r, hosts).record;
    expect(r.reached).toBe(2);
    expect(reachedHosts(r, hosts)).toEqual(['h1', 'h2', 'h3', 'h4']);
    hosts = fleet('1.1.0', { h5: { runningVersion: '1.0.0' } });
    r = step(r, hosts).record;
    expect(r.reached).toBe(3);
    const done = step(r, fleet('1.1.0'));
    expect(done.record.phase).toBe('Completed');
    expect(done.progress.counts.upgraded).toBe(5);
  });

  it('tells a waiting host to keep the version it runs', () => {
    const hosts = fleet('1.0.0', { h5: { runningVersion: '0.9.0' } });
    const r = startRollout(av('1.1.0'), hosts, 'rev-2', undefined, T0);
    const a = assignmentFor(r, 'h5', '0.9.0', hostIndex(r));
    expect(a).toEqual({ version: '0.9.0', artifact: undefined, attempt: 1 });
    expect(assignmentFor(r, 'h1', '1.0.0', hostIndex(r)).version).toBe('1.1.0');
  });

  it('pauses when a batch has more failed hosts than maxFailures, naming them and why', () => {
    const r0 = startRollout(av('1.1.0'), fleet('1.0.0'), 'rev-2', undefined, T0);
    const hosts = fleet('1.0.0', {
      h1: { runningVersion: '1.1.0' },
      h2: { report: { hash: hashOf(r0), state: 'failed', message: 'sha256 mismatch' } },
    });
    const s = step(r0, hosts);
    expect(s.record.phase).toBe('Paused');
    expect(s.record.pauseReason).toContain('batch 1 of 3');
    expect(s.record.pauseReason).toContain('h2: sha256 mismatch');
    expect(s.record.failures).toEqual([{ hostId: 'h2', batch: 1, message: 'sha256 mismatch' }]);
    // Paused: no further batch however long it waits.
    expect(step(s.record, hosts, T0 + 3_600_000).record.reached).toBe(1);
  });

  it('tolerates failures up to maxFailures', () => {
    const r0 = startRollout(av('1.1.0', { maxFailures: 1 }), fleet('1.0.0'), 'rev-2', undefined, T0);
    const hosts = fleet('1.0.0', {
      h1: { runningVersion: '1.1.0' },
      h2: { report: { hash: hashOf(r0), state: 'failed', message: 'health deadline missed' } },
    });
    const s = step(r0, hosts);
    expect(s.record.phase).toBe('Progressing');
    expect(s.record.reached).toBe(2);
  });

  it('ignores a failure reported for an earlier attempt, and resume retries failed hosts', () => {
    const r0 = startRollout(av('1.1.0'), fleet('1.0.0'), 'rev-2', undefined, T0);
    const failedReport = { hash: hashOf(r0), state: 'failed' as const, message: 'boom' };
    const hosts = fleet('1.0.0', { h1: { runningVersion: '1.1.0' }, h2: { report: failedReport } });
    const paused = step(r0, hosts).record;
    const resumed = resumeRollout(paused, T0 + 1);
    expect(resumed).toMatchObject({ phase: 'Progressing', attempt: 2, failures: [] });
    expect(resumed.pauseReason).toBeUndefined();
    expect(assignmentFor(resumed, 'h2', '1.0.0', hostIndex(resumed)).attempt).toBe(2);
    // h2's old report is about attempt 1: it counts as upgrading, not failed.
    const s = step(resumed, hosts, T0 + 2);
    expect(s.record.phase).toBe('Progressing');
    expect(s.progress.hosts.find((h) => h.hostId === 'h2')?.state).toBe('upgrading');
  });

  it('waits pauseBetween after a batch settles', () => {
    const r0 = startRollout(av('1.1.0', { pauseBetweenMs: 60_000 }), fleet('1.0.0'), 'rev-2', undefined, T0);
    const hosts = fleet('1.0.0', { h1: { runningVersion: '1.1.0' }, h2: { runningVersion: '1.1.0' } });
    const s1 = step(r0, hosts, T0 + 1_000);
    expect(s1.record.reached).toBe(1);
    expect(s1.record.settledAt).toBe(new Date(T0 + 1_000).toISOString());
    expect(s1.waiting).toContain('pauseBetween');
    expect(step(s1.record, hosts, T0 + 60_999).record.reached).toBe(1);
    expect(step(s1.record, hosts, T0 + 61_000).record.reached).toBe(2);
  });

  it('waits while more hosts are offline than maxUnavailable, and lists offline reached hosts as pending', () => {
    const r0 = startRollout(av('1.1.0', { maxUnavailable: 0 }), fleet('1.0.0'), 'rev-2', undefined, T0);
    const hosts = fleet('1.0.0', { h1: { runningVersion: '1.1.0' }, h2: { online: false } });
    const s = step(r0, hosts);
    expect(s.record.reached).toBe(1);
    expect(s.waiting).toContain('over maxUnavailable 0');
    expect(s.progress.hosts.find((h) => h.hostId === 'h2')?.state).toBe('pending');
    const loose = advanceRollout({ ...r0, maxUnavailable: 1 }, hosts, hashOf(r0), T0);
    expect(loose.record.reached).toBe(2);
  });

  it('holds the next batch while a reached host that just went offline may be restarting or rolling back', () => {
    // batchSize 1: h1 got the version, exited to restart into it and is offline; maxUnavailable allows one.
    const r0 = startRollout(
      av('1.1.0', { batchSize: 1, maxUnavailable: 1 }),
      fleet('1.0.0'),
      'rev-2',
      undefined,
      T0,
    );
    const gone = T0 + 1_000;
    const hosts = fleet('1.0.0', { h1: { online: false, lastSeenMs: gone } });
    const deadline = gone + r0.healthDeadlineMs + ROLLBACK_GRACE_MS;
    const early = step(r0, hosts, deadline - 1);
    expect(early.progress.hosts.find((h) => h.hostId === 'h1')?.state).toBe('upgrading');
    expect(early.progress.settled).toBe(false);
    expect(early.record.reached).toBe(1);
    // Past its deadline and the rollback grace, an offline host is pending and the rollout moves on.
    const late = step(r0, hosts, deadline);
    expect(late.progress.hosts.find((h) => h.hostId === 'h1')?.state).toBe('pending');
    expect(late.record.reached).toBe(2);
    // A host that was offline before the batch reached it (long gone) is pending at once.
    const longGone = step(r0, fleet('1.0.0', { h1: { online: false, lastSeenMs: T0 - 3_600_000 } }), T0);
    expect(longGone.record.reached).toBe(2);
  });

  it('in manual mode waits for resume before each next batch', () => {
    const r0 = startRollout(av('1.1.0', { mode: 'manual' }), fleet('1.0.0'), 'rev-2', undefined, T0);
    const hosts = fleet('1.0.0', { h1: { runningVersion: '1.1.0' }, h2: { runningVersion: '1.1.0' } });
    const s = step(r0, hosts);
    expect(s.record.reached).toBe(1);
    expect(s.waiting).toContain('manual mode');
    expect(step(resumeRollout(s.record, T0), hosts).record.reached).toBe(2);
  });

  it('appends hosts that appear mid-rollout and need the version', () => {
    const r0 = startRollout(av('1.1.0'), fleet('1.0.0'), 'rev-2', undefined, T0);
    const hosts = [...fleet('1.0.0'), { id: 'h0', online: true, runningVersion: '1.0.0' }];
    const s = step(r0, hosts);
    expect(s.changed).toBe(true);
    expect(s.record.hosts).toEqual(['h1', 'h2', 'h3', 'h4', 'h5', 'h0']);
  });

  it('holds an operator pause until resume, which bumps the attempt', () => {
    const r0 = startRollout(av('1.1.0'), fleet('1.0.0'), 'rev-2', undefined, T0);
    const paused = pauseRollout(r0, 'paused by admin', T0);
    const hosts = fleet('1.0.0', { h1: { runningVersion: '1.1.0' }, h2: { runningVersion: '1.1.0' } });
    expect(step(paused, hosts).record.reached).toBe(1);
    expect(step(resumeRollout(paused, T0), hosts).record).toMatchObject({ reached: 2, attempt: 2 });
  });
});

describe('supersede and undo', () => {
  it('sees a new version or package in Git as a change', () => {
    const r = startRollout(av('1.1.0'), fleet('1.0.0'), 'rev-2', undefined, T0);
    expect(gitChanged(av('1.1.0'), r)).toBe(false);
    expect(gitChanged(av('1.2.0'), r)).toBe(true);
    expect(gitChanged(av('1.1.0', {}, SHA1), r)).toBe(true);
  });

  it('ends a superseded rollout and starts the next from the hosts current versions', () => {
    const r = startRollout(av('1.1.0'), fleet('1.0.0'), 'rev-2', undefined, T0);
    const hosts = fleet('1.0.0', { h1: { runningVersion: '1.1.0' } });
    const old = endRollout(r, 'superseded by 1.2.0 (rev-3)', T0);
    const next = startRollout(av('1.2.0'), hosts, 'rev-3', old, T0);
    expect(old.phase).toBe('Superseded');
    expect(next.fromVersion).toBe('1.1.0');
    expect(next.hosts).toEqual(['h1', 'h2', 'h3', 'h4', 'h5']);
    // A host not yet reached keeps what it runs, whichever version that is.
    expect(assignmentFor(next, 'h5', '1.0.0', hostIndex(next)).version).toBe('1.0.0');
  });

  it('undo returns every host to the previous version in one batch, with its package', () => {
    const first = startRollout(av('1.0.0', {}, SHA1), fleet('1.0.0'), 'rev-1', undefined, T0);
    const r = startRollout(av('1.1.0'), fleet('1.0.0'), 'rev-2', first, T0);
    const hosts = fleet('1.1.0', { h5: { runningVersion: '1.0.0' } });
    const u = undoRollout(r, hosts, T0);
    expect(u).toMatchObject({ version: '1.0.0', undo: true, gitVersion: '1.1.0', fromVersion: '1.1.0' });
    expect(u?.artifact?.sha256).toBe(SHA1);
    expect(u && reachedHosts(u, hosts)).toEqual(['h1', 'h2', 'h3', 'h4', 'h5']);
  });

  it('has no undo without a previous version', () => {
    const r = startRollout(av('1.1.0'), fleet('1.0.0'), 'rev-2', undefined, T0);
    expect(undoRollout(r, fleet('1.0.0'), T0)).toBeUndefined();
  });
});
