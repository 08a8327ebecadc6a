/**
 * The live feed wired to a real Reconciler over the memory store, as the controller wires it: each batch of
 * host writes is told once stored (never before), and a revision converges when the last connected host's
 * report makes it Synced.
 */
import { describe, expect, it } from 'vitest';
import { type LiveEvent, LiveFeed } from '../../src/controller/live-feed.js';
import { Reconciler } from '../../src/controller/reconciler.js';
import type { HostFacts } from '../../src/protocol/manifest.js';
import type { ReportMessage } from '../../src/protocol/messages.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { RevisionRecord } from '../../src/store/types.js';
import { idleMetrics } from '../helpers/controller-fixtures.js';
import { configFile, makeRevision } from '../helpers/revision.js';

const metrics = idleMetrics();
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const facts = (i: number): HostFacts => ({ id: `h${i}`, name: `web-${i}`, ips: [], cloudId: 0, labels: {} });
const record = (sha: string): RevisionRecord => ({
  sha,
  author: 't',
  authoredAt: new Date(T0).toISOString(),
  message: 'm',
  seenAt: new Date(T0).toISOString(),
  status: 'accepted',
  errors: [],
});

describe('LiveFeed on a Reconciler', () => {
  it('tells each stored batch of hosts, and the convergence once every connected host is Synced', async () => {
    const store = MemoryStore.open();
    let now = T0;
    const events: LiveEvent[] = [];
    const storedWhenTold: Array<Promise<string>> = [];
    let reconciler!: Reconciler;
    const feed = new LiveFeed({
      hostStates: () => reconciler.hostStates(),
      recordTotals: () => undefined,
      targets: () => [],
      now: () => now,
      onListenerError: (err) => {
        throw err;
      },
    });
    reconciler = new Reconciler({
      store,
      hub: { send: () => true },
      metrics,
      logger: { info: () => {}, warn: () => {} },
      now: () => now,
      newId: () => `m${now}`,
      onHostsWritten: (writes) => {
        feed.hostsWritten(writes);
        // What the feed tells is in the store already: a listener that re-reads the API sees it.
        for (const w of writes)
          storedWhenTold.push(
            store
              .getHost(w.host.hostId)
              .then((h) => `${w.host.syncState} stored ${h?.syncState ?? 'nothing'}`),
          );
      },
    });
    feed.subscribe((e) => events.push(e));

    const revision = makeRevision([configFile('motd', { content: 'one' })], {}, 'rev-1');
    await Promise.all([1, 2].map((i) => reconciler.hostConnected(facts(i), '')));
    await reconciler.setRevision(revision);
    feed.revision(record('rev-1'), T0);
    const report = (id: string): ReportMessage => {
      const m = reconciler.desiredFor(id);
      if (!m) throw new Error(`no manifest for ${id}`);
      return {
        v: 1,
        type: 'report',
        id: `r-${id}`,
        manifestHash: m.hash,
        revision: m.revision,
        items: m.items.map((it) => ({
          kind: it.kind,
          name: it.name,
          hash: it.hash,
          state: 'changed' as const,
        })),
      };
    };
    now = T0 + 1200;
    await reconciler.hostReported('h1', report('h1'));
    expect(feed.history().convergence).toEqual([]);
    now = T0 + 3400;
    await reconciler.hostReported('h2', report('h2'));
    expect(feed.history().convergence).toEqual([
      { sha: 'rev-1', at: new Date(T0 + 3400).toISOString(), ms: 3400, hosts: 2 },
    ]);
    const hostEvents = events.filter((e) => e.type === 'hosts');
    const last = hostEvents[hostEvents.length - 1];
    expect(last?.type === 'hosts' && last.hosts.map((h) => [h.hostId, h.syncState])).toEqual([
      ['h2', 'Synced'],
    ]);
    expect(events.map((e) => e.type).slice(-3)).toEqual(['hosts', 'hosts', 'converged']);
    const told = await Promise.all(storedWhenTold);
    expect(told.length).toBeGreaterThan(0);
    for (const line of told) expect(line).toMatch(/^(\w+) stored \1$/);
  });
});
