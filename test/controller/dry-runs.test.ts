import { afterEach, describe, expect, it, vi } from 'vitest';
import { DryRuns } from '../../src/controller/dry-runs.js';
import type { HostManifest } from '../../src/protocol/manifest.js';
import type { DryRunMessage, ReportMessage } from '../../src/protocol/messages.js';

const manifest: HostManifest = { hostId: 'h1', revision: 'r', labels: {}, items: [], hash: 'm' };
const answer = (dryRunOf: string): ReportMessage => ({
  v: 1,
  type: 'report',
  id: 'x',
  manifestHash: 'm',
  revision: 'r',
  items: [],
  dryRunOf,
});

describe('DryRuns', () => {
  afterEach(() => vi.useRealTimers());

  it('resolves with the answer of the host it asked, and ignores another host answering that id', async () => {
    const sent: Array<[string, DryRunMessage]> = [];
    const runs = new DryRuns({ send: (id, msg) => sent.push([id, msg]) > 0, newId: () => 'd-1' });
    const pending = runs.ask('h1', manifest);
    expect(sent).toEqual([['h1', { v: 1, type: 'dryRun', id: 'd-1', manifest }]]);
    expect(runs.answer('h2', answer('d-1'))).toBe(false);
    expect(runs.answer('h1', answer('d-1'))).toBe(true);
    expect(await pending).toEqual({ hostId: 'h1', ok: true, report: answer('d-1') });
    // Answered once: a re-sent answer is dropped.
    expect(runs.answer('h1', answer('d-1'))).toBe(false);
  });

  it('answers offline when the host is not connected and timeout when it stays silent', async () => {
    vi.useFakeTimers();
    const offline = new DryRuns({ send: () => false });
    expect(await offline.ask('h1', manifest)).toMatchObject({ ok: false, error: 'offline' });
    const silent = new DryRuns({ send: () => true, newId: () => 'd-2' });
    const pending = silent.ask('h1', manifest, 1000);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await pending).toMatchObject({ ok: false, error: 'timeout' });
    expect(silent.answer('h1', answer('d-2'))).toBe(false);
  });
});
