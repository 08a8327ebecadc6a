/**
 * Desired state from process operations: laid over a plan it gives exactly the manifest Git would give
 * with that `ensure` (same item and manifest hashes), and it survives a reopen of the store.
 */
import { describe, expect, it } from 'vitest';
import { planHost } from '../../src/controller/plan.js';
import {
  applyProcessOverrides,
  PROCESS_OVERRIDES_KEY,
  type ProcessOverride,
  StoredProcessOverrides,
} from '../../src/gse-task/overrides.js';
import type { HostFacts } from '../../src/protocol/manifest.js';
import type { Resource } from '../../src/spec/types.js';
import { MemoryStore, MemoryStoreData } from '../../src/store/memory-store.js';
import { configFile, makeRevision } from '../helpers/revision.js';

const host: HostFacts = { id: 'h1', name: 'h1', ips: ['10.0.0.1'], cloudId: 0, labels: {} };

function watch(name: string, ensure: 'running' | 'observed'): Resource {
  return {
    apiVersion: 'gse/v1',
    kind: 'ProcessWatch',
    metadata: { name },
    pos: { file: 'w.yaml', line: 1, col: 1 },
    spec: {
      process: { name },
      hosts: { names: ['*'] },
      ensure,
      start: `start ${name}`,
      probeIntervalMs: 1000,
    },
  };
}

const override = (name: string, ensure: 'running' | 'observed', hostId = 'h1'): ProcessOverride => ({
  hostId,
  name,
  ensure,
  op: ensure === 'observed' ? 'stop' : 'delegate',
  by: 'nodeman',
  at: '2026-01-01T00:00:00.000Z',
});

describe('applyProcessOverrides', () => {
  it('yields the manifest Git would plan with that ensure, hashes included', () => {
    const plan = (ensure: 'running' | 'observed') =>
      planHost(
        makeRevision([watch('svc', ensure), watch('other', 'running'), configFile('a', { content: 'x' })]),
        host,
      ).manifest;
    const running = plan('running');
    const overridden = applyProcessOverrides(running, [override('svc', 'observed')]);
    expect(overridden).toEqual(plan('observed'));
    expect(overridden.hash).not.toBe(running.hash);
  });

  it('leaves the manifest as it is when no override changes it', () => {
    const m = planHost(makeRevision([watch('svc', 'observed')]), host).manifest;
    expect(applyProcessOverrides(m, [])).toBe(m);
    expect(applyProcessOverrides(m, [override('svc', 'observed'), override('gone', 'running')])).toBe(m);
  });
});

describe('StoredProcessOverrides', () => {
  it('keeps one override per host and watch, in the store, and tells the controller each change', async () => {
    const data = new MemoryStoreData();
    let changes = 0;
    const first = await StoredProcessOverrides.open(MemoryStore.open(data), async () => {
      changes += 1;
    });
    await first.setAll([override('svc', 'observed')]);
    await first.setAll([override('svc', 'running')]);
    await first.setAll([override('svc', 'observed', 'h2')]);
    await first.clear('h2', 'svc');
    expect(changes).toBe(4);
    expect(first.forHost('h1')).toMatchObject([{ name: 'svc', ensure: 'running' }]);

    const reopened = await StoredProcessOverrides.open(MemoryStore.open(data));
    expect(reopened.all()).toEqual(first.all());
    expect(reopened.forHost('h2')).toEqual([]);
  });

  it('refuses a corrupt record rather than guessing', async () => {
    const store = MemoryStore.open();
    await store.setState(PROCESS_OVERRIDES_KEY, [{ hostId: 'h1', name: 'svc', ensure: 'sometimes' }]);
    await expect(StoredProcessOverrides.open(store)).rejects.toThrow(PROCESS_OVERRIDES_KEY);
  });
});
