/**
 * Host lifecycle in memory: the retention decision (a table), removeHost's order (revoke, then forget),
 * and the Reconciler forgetting a host: out of its views and the store, history kept, never written back.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { hostsPastRetention, removeHost } from '../../src/controller/host-removal.js';
import { type HubPort, Reconciler } from '../../src/controller/reconciler.js';
import { AgentNotFoundError } from '../../src/fleet/errors.js';
import type { HostFacts } from '../../src/protocol/manifest.js';
import type { ReportMessage } from '../../src/protocol/messages.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { DriftRecord, Store } from '../../src/store/types.js';
import { idleMetrics } from '../helpers/controller-fixtures.js';
import { configFile, makeRevision } from '../helpers/revision.js';

const DAY_MS = 86_400_000;
const T0_MS = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

describe('hostsPastRetention', () => {
  it.each([
    {
      name: 'silent past retention',
      host: { connected: false, lastSeen: iso(T0_MS - 31 * DAY_MS) },
      dropped: true,
    },
    {
      name: 'silent exactly at retention',
      host: { connected: false, lastSeen: iso(T0_MS - 30 * DAY_MS) },
      dropped: false,
    },
    {
      name: 'silent within retention',
      host: { connected: false, lastSeen: iso(T0_MS - DAY_MS) },
      dropped: false,
    },
    {
      name: 'connected with an old lastSeen',
      host: { connected: true, lastSeen: iso(T0_MS - 90 * DAY_MS) },
      dropped: false,
    },
  ])('drops=$dropped for a host $name', ({ host, dropped }) => {
    expect(hostsPastRetention([{ hostId: 'h1', ...host }], T0_MS, 30 * DAY_MS)).toEqual(
      dropped ? ['h1'] : [],
    );
  });
});

describe('removeHost', () => {
  it('revokes the agent before it forgets the host', async () => {
    const calls: string[] = [];
    const result = await removeHost(
      {
        revoke: async (id) => calls.push(`revoke ${id}`),
        forgetHost: async (id) => calls.push(`forget ${id}`) > 0,
      },
      'h1',
    );
    expect(calls).toEqual(['revoke h1', 'forget h1']);
    expect(result).toEqual({ hostId: 'h1', revoked: true });
  });

  it('still forgets a host that has no agent record, saying nothing was revoked', async () => {
    const forgotten: string[] = [];
    const result = await removeHost(
      {
        revoke: async (id) => {
          throw new AgentNotFoundError(id);
        },
        forgetHost: async (id) => forgotten.push(id) > 0,
      },
      'h1',
    );
    expect(result).toEqual({ hostId: 'h1', revoked: false });
    expect(forgotten).toEqual(['h1']);
  });

  it('keeps the host when the revoke fails otherwise', async () => {
    const forgotten: string[] = [];
    const removal = removeHost(
      {
        revoke: async () => {
          throw new Error('store down');
        },
        forgetHost: async (id) => forgotten.push(id) > 0,
      },
      'h1',
    );
    await expect(removal).rejects.toThrow('store down');
    expect(forgotten).toEqual([]);
  });
});

describe('Reconciler.forgetHost', () => {
  const facts: HostFacts = { id: 'h1', name: 'web-1', ips: ['10.0.0.1'], cloudId: 0, labels: {} };
  const other: HostFacts = { ...facts, id: 'h2', name: 'web-2' };
  const metrics = idleMetrics();
  const hub: HubPort = { send: () => true };
  let store: Store;
  let reconciler: Reconciler;

  beforeEach(async () => {
    store = MemoryStore.open();
    reconciler = new Reconciler({
      store,
      hub,
      metrics,
      logger: { info: () => {}, warn: () => {} },
      now: () => T0_MS,
      newId: () => 'm',
    });
    await reconciler.setRevision(makeRevision([configFile('a', { content: 'one' })]));
    await reconciler.hostConnected(facts, '');
    await reconciler.hostConnected(other, '');
  });

  /** A report of h1's manifest with item `a` drifted (so the reconciler writes a drift record first). */
  function driftedReport(): ReportMessage {
    const m = reconciler.desiredFor('h1');
    if (!m) throw new Error('no manifest for h1');
    return {
      v: 1,
      type: 'report',
      id: 'rep-1',
      manifestHash: m.hash,
      revision: m.revision,
      items: m.items.map((i) => ({
        kind: i.kind,
        name: i.name,
        hash: i.hash,
        state: 'drifted' as const,
        drift: { detectedAt: iso(T0_MS), healed: false, detail: 'edited by hand' },
      })),
    };
  }

  it('drops the host from its views and the store and keeps its drift', async () => {
    await reconciler.hostReported('h1', driftedReport());
    expect((await store.listDrift({ hostId: 'h1' })).items).toHaveLength(1);

    expect(await reconciler.forgetHost('h1')).toBe(true);
    expect(reconciler.hostStates().map((h) => h.hostId)).toEqual(['h2']);
    expect(reconciler.desiredFor('h1')).toBeUndefined();
    expect(await store.getHost('h1')).toBeUndefined();
    expect((await store.listResourceStatuses({ hostId: 'h1' })).items).toEqual([]);
    expect((await store.listDrift({ hostId: 'h1' })).items).toHaveLength(1);
    expect(await reconciler.forgetHost('h1')).toBe(false);
  });

  it('does not write a forgotten host back when its session ends or a report was in flight', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const putDrift = store.putDrift.bind(store);
    store.putDrift = async (record: DriftRecord) => {
      await gate;
      return putDrift(record);
    };
    const inFlight = reconciler.hostReported('h1', driftedReport());
    await reconciler.forgetHost('h1');
    release();
    await inFlight;
    await reconciler.hostDisconnected('h1');
    expect(await store.getHost('h1')).toBeUndefined();
    expect((await store.listHosts({})).items.map((h) => h.hostId)).toEqual(['h2']);
  });

  it('lists an agent that connects again after retention as a new host', async () => {
    await reconciler.hostDisconnected('h1');
    await reconciler.forgetHost('h1');
    await reconciler.hostConnected(facts, '');
    expect(
      reconciler
        .hostStates()
        .map((h) => h.hostId)
        .sort(),
    ).toEqual(['h1', 'h2']);
    expect((await store.getHost('h1'))?.connected).toBe(true);
  });
});
