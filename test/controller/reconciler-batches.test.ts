import { beforeEach, describe, expect, it, vi } from 'vitest';
import { HostWriter } from '../../src/controller/host-writes.js';
import { PASS_CHUNK_HOSTS, Reconciler } from '../../src/controller/reconciler.js';
import type { HostFacts } from '../../src/protocol/manifest.js';
import type { ManifestMessage, ReportMessage } from '../../src/protocol/messages.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { DriftRecord, HostStateWrite } from '../../src/store/types.js';
import { idleMetrics, quietLogger } from '../helpers/controller-fixtures.js';
import { configFile, makeRevision } from '../helpers/revision.js';

const metrics = idleMetrics();
const quiet = quietLogger;
const rev = (id: string, content: string) => makeRevision([configFile('motd', { content })], {}, id);
const facts = (i: number): HostFacts => ({ id: `h${i}`, name: `web-${i}`, ips: [], cloudId: 0, labels: {} });

describe('HostWriter', () => {
  interface Host {
    id: string;
    state: string;
  }
  const drift = (id: string): DriftRecord => ({
    id,
    hostId: 'a',
    key: 'ConfigFile/x',
    kind: 'corrective',
    revision: 'r',
    detectedAt: '2026-01-01T00:00:00.000Z',
    healed: false,
    detail: 'changed',
  });
  function recording(fail = false) {
    const calls: string[] = [];
    const writer = new HostWriter<Host>({
      writeOf: (h) =>
        h.id === 'gone'
          ? undefined
          : ({ host: { hostId: h.id, syncState: h.state } } as unknown as HostStateWrite),
      putDrifts: async (records) => {
        calls.push(`drift ${records.map((r) => r.id).join(',')}`);
      },
      putHostStates: async (writes) => {
        if (fail) throw new Error('disk full');
        calls.push(`hosts ${writes.map((w) => `${w.host.hostId}=${w.host.syncState}`).join(',')}`);
      },
    });
    return { calls, writer };
  }

  it('writes every host marked in one tick in one batch, each once, with its state at write time', async () => {
    const { calls, writer } = recording();
    const a = { id: 'a', state: 'Progressing' };
    const b = { id: 'b', state: 'Progressing' };
    const done = [writer.write(a, [drift('d1')]), writer.write(b), writer.write(a, [drift('d2')])];
    a.state = 'Synced';
    await Promise.all(done);
    expect(calls).toEqual(['drift d1,d2', 'hosts a=Synced,b=Progressing']);
  });

  it('writes a later tick in a later batch, after the earlier one, and skips hosts that must not be written', async () => {
    const { calls, writer } = recording();
    const first = writer.write({ id: 'a', state: 'x' });
    await first;
    await writer.write({ id: 'gone', state: 'x' });
    await writer.write({ id: 'b', state: 'y' });
    expect(calls).toEqual(['hosts a=x', 'hosts b=y']);
  });

  it('rejects every writer of a batch that failed, and writes the next batch', async () => {
    const failing = recording(true);
    const results = await Promise.allSettled([
      failing.writer.write({ id: 'a', state: 'x' }),
      failing.writer.write({ id: 'b', state: 'x' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await failing.writer.idle();
  });
});

/**
 * A writer on a fake clock whose commits hold the loop for `writeMs` of it each; with `roundTrip`, each commit
 * then waits for it (time that passes while the loop is free, as for a store across the network).
 */
function paced(writeMs: number, extra: { maxBatchHosts?: number; roundTrip?: () => Promise<void> } = {}) {
  const clock = { now: 1_000 };
  const delayed: Array<{ ms: number; fn: () => void }> = [];
  const deferred: Array<() => void> = [];
  const batches: string[][] = [];
  const { roundTrip, ...options } = extra;
  const writer = new HostWriter<string>({
    writeOf: (id) => ({ host: { hostId: id } }) as unknown as HostStateWrite,
    putDrifts: async () => undefined,
    putHostStates: async (writes) => {
      batches.push(writes.map((w) => w.host.hostId));
      clock.now += writeMs;
      await roundTrip?.();
    },
    minIntervalMs: 4,
    paceFactor: 4,
    now: () => clock.now,
    defer: (fn) => deferred.push(fn),
    delay: (ms, fn) => delayed.push({ ms, fn }),
    ...options,
  });
  return { clock, delayed, deferred, batches, writer };
}

describe('HostWriter pacing', () => {
  it('writes after a quiet spell at once, and gathers a burst into one batch per interval', async () => {
    const { clock, deferred, delayed, batches, writer } = paced(0);
    const first = writer.write('a');
    expect(deferred).toHaveLength(1); // nothing written for a while: after this turn
    deferred.shift()?.();
    await first;
    clock.now += 1; // 1 ms after the first batch started: the next one waits out the other 3
    const burst = [writer.write('b'), writer.write('c')];
    clock.now += 2;
    burst.push(writer.write('d'));
    expect(delayed.map((d) => d.ms)).toEqual([3]);
    expect(deferred).toHaveLength(0);
    delayed.shift()?.fn();
    await Promise.all(burst);
    clock.now += 10; // quiet again: straight after this turn
    const later = writer.write('e');
    expect(deferred).toHaveLength(1);
    expect(delayed).toHaveLength(0);
    deferred.shift()?.();
    await later;
    expect(batches).toEqual([['a'], ['b', 'c', 'd'], ['e']]);
  });
});

describe('HostWriter pacing by write time', () => {
  it('waits four times the last commit before the next batch, so a slow store gets bigger batches', async () => {
    const { delayed, deferred, writer } = paced(10);
    const first = writer.write('a');
    deferred.shift()?.();
    await first; // took 10 ms: the next batch starts 40 ms after this one did, 30 ms from now
    void writer.write('b');
    expect(delayed.map((d) => d.ms)).toEqual([30]);
  });

  it('never waits more than HOST_WRITE_MAX_INTERVAL_MS, however slow the last commit', async () => {
    const { delayed, deferred, writer } = paced(1_000);
    const first = writer.write('a');
    deferred.shift()?.();
    await first;
    void writer.write('b');
    expect(delayed).toHaveLength(0); // 1 s since the last start: past the cap, written after this turn
    expect(deferred).toHaveLength(1);
  });

  it('paces by the time a write held the loop, not by the round trip it waited for', async () => {
    const { clock, delayed, deferred, writer } = paced(1, {
      roundTrip: async () => {
        await Promise.resolve(); // the request is out: the loop is free
        clock.now += 30; // until the answer, 30 ms later
      },
    });
    const first = writer.write('a');
    deferred.shift()?.();
    await first; // held 1 ms: the interval is the 4 ms floor, long past
    void writer.write('b');
    expect(delayed).toHaveLength(0);
    expect(deferred).toHaveLength(1);
  });

  it('keeps a batch open while the write before it is in flight, so hosts gather into one batch', async () => {
    let answer!: () => void;
    const { delayed, deferred, batches, writer } = paced(0, {
      roundTrip: () =>
        batches.length === 1 ? new Promise<void>((resolve) => (answer = resolve)) : Promise.resolve(),
    });
    const first = writer.write('a');
    deferred.shift()?.();
    await new Promise((r) => setTimeout(r, 0)); // the first write is out, waiting for its answer
    const next = [writer.write('b')];
    delayed.shift()?.fn(); // the interval passed: its turn comes once the first write ends
    next.push(writer.write('c'), writer.write('d'));
    answer();
    await Promise.all([first, ...next]);
    expect(batches).toEqual([['a'], ['b', 'c', 'd']]);
  });

  it('closes a batch at maxBatchHosts; the next hosts go to a batch of their own, and idle waits for both', async () => {
    const { deferred, batches, writer } = paced(0, { maxBatchHosts: 2 });
    const full = ['a', 'b'].map((id) => writer.write(id));
    let idle = false;
    const waited = writer.idle().then(() => {
      idle = true;
    });
    await new Promise((r) => setTimeout(r, 0));
    expect(idle).toBe(false); // the full batch has not been written yet
    const more = writer.write('c');
    for (const fn of deferred.splice(0)) fn();
    await Promise.all([...full, more]);
    await waited;
    expect(batches).toEqual([['a', 'b'], ['c']]);
  });
});

describe('Reconciler store batches', () => {
  let store: MemoryStore;
  let sent: Array<{ to: string; msg: ManifestMessage }>;
  let reconciler: Reconciler;

  beforeEach(() => {
    store = MemoryStore.open();
    sent = [];
    let ids = 0;
    reconciler = new Reconciler({
      store,
      hub: {
        send(to, msg) {
          sent.push({ to, msg });
          return true;
        },
      },
      metrics,
      logger: quiet,
      now: () => Date.parse('2026-01-01T00:00:00.000Z'),
      newId: () => `m${++ids}`,
    });
  });

  /** The agent's report of its manifest applied; with `drifted`, each item says the host had diverged. */
  const report = (id: string, i: number, drifted = false): ReportMessage => {
    const m = reconciler.desiredFor(id);
    if (!m) throw new Error(`no manifest for ${id}`);
    return {
      v: 1,
      type: 'report',
      id: `r${i}`,
      manifestHash: m.hash,
      revision: m.revision,
      items: m.items.map((it) => ({
        kind: it.kind,
        name: it.name,
        hash: it.hash,
        state: 'changed' as const,
        ...(drifted && { drift: { detectedAt: '2026-01-01T00:00:00.000Z', healed: true, detail: 'edited' } }),
      })),
    };
  };

  it('stores a revision over many hosts in batches of at most PASS_CHUNK_HOSTS, with no single-host write', async () => {
    const n = PASS_CHUNK_HOSTS * 2 + 7;
    await reconciler.setRevision(rev('rev-1', 'one'));
    await Promise.all(Array.from({ length: n }, (_, i) => reconciler.hostConnected(facts(i), '')));
    const batches = vi.spyOn(store, 'putHostStates');
    const single = vi.spyOn(store, 'upsertHost');
    sent.length = 0;

    await reconciler.setRevision(rev('rev-2', 'two'));
    expect(single).not.toHaveBeenCalled();
    const sizes = batches.mock.calls.map(([writes]) => writes.length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(n);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(PASS_CHUNK_HOSTS);
    expect(sent).toHaveLength(n);
    expect(new Set(sent.map((s) => s.to)).size).toBe(n);
    expect((await store.countHostsBySyncState()).Progressing).toBe(n);
    // Every host shares one plan: one item list for the whole fleet.
    expect(new Set(sent.map((s) => reconciler.desiredFor(s.to)?.items)).size).toBe(1);
  });

  it('stores the reports handled in one tick, drift included, in one write before any is acked', async () => {
    await reconciler.setRevision(rev('rev-1', 'one'));
    await Promise.all([1, 2, 3].map((i) => reconciler.hostConnected(facts(i), '')));
    const hosts = vi.spyOn(store, 'putHostStates');
    const drifts = vi.spyOn(store, 'putDrifts');
    await Promise.all([1, 2, 3].map((i) => reconciler.hostReported(`h${i}`, report(`h${i}`, i, true))));
    expect(hosts).toHaveBeenCalledTimes(1);
    expect(drifts).toHaveBeenCalledTimes(1);
    expect(drifts.mock.calls[0]?.[0].map((d) => d.hostId)).toEqual(['h1', 'h2', 'h3']);
    expect((await store.countHostsBySyncState()).Synced).toBe(3);
    expect((await store.listDrift({})).items).toHaveLength(3);
  });

  it("is ready for a connecting host's report before its connect is stored, so both share one write", async () => {
    await reconciler.setRevision(rev('rev-1', 'one'));
    const hosts = vi.spyOn(store, 'putHostStates');
    let connected: Promise<void> = Promise.resolve();
    await new Promise<void>((ready) => {
      connected = reconciler.hostConnected(facts(1), '', ready);
    });
    expect(hosts).not.toHaveBeenCalled();
    await Promise.all([connected, reconciler.hostReported('h1', report('h1', 1))]);
    expect(hosts).toHaveBeenCalledTimes(1);
    expect(hosts.mock.calls[0]?.[0].map((w) => [w.host.hostId, w.host.connected, w.host.syncState])).toEqual([
      ['h1', true, 'Synced'],
    ]);
    // hostConnected itself still resolves once the host is stored.
    await reconciler.hostConnected(facts(2), '');
    expect((await store.getHost('h2'))?.connected).toBe(true);
  });

  it('stores hosts whose record another writer overwrote again, in one batch, sending nothing', async () => {
    await reconciler.setRevision(rev('rev-1', 'one'));
    await Promise.all([1, 2, 3].map((i) => reconciler.hostConnected(facts(i), '')));
    await reconciler.hostDisconnected('h3');
    // The leader marked this replica's hosts offline while it was silent; their sessions are still here.
    for (const id of ['h1', 'h2']) {
      const host = await store.getHost(id);
      if (host)
        await store.putHostStates([
          { host: { ...host, connected: false, syncState: 'Unknown' }, statuses: [] },
        ]);
    }
    const hosts = vi.spyOn(store, 'putHostStates');
    sent.length = 0;

    await reconciler.rewriteHosts(['h1', 'h2', 'h3', 'unknown-host']);
    expect(hosts).toHaveBeenCalledTimes(1);
    expect(hosts.mock.calls[0]?.[0].map((w) => [w.host.hostId, w.host.connected])).toEqual([
      ['h1', true],
      ['h2', true],
    ]);
    expect(sent).toEqual([]);
    expect((await store.getHost('h1'))?.syncState).toBe('Progressing');
    expect((await store.listResourceStatuses({ hostId: 'h1' })).items).toHaveLength(1);
    expect((await store.getHost('h3'))?.connected).toBe(false);
  });

  it('fails the report handler when its batch could not be stored, so the report is not acked', async () => {
    await reconciler.setRevision(rev('rev-1', 'one'));
    await reconciler.hostConnected(facts(1), '');
    vi.spyOn(store, 'putHostStates').mockRejectedValueOnce(new Error('disk full'));
    await expect(reconciler.hostReported('h1', report('h1', 1))).rejects.toThrow('disk full');
    await reconciler.hostReported('h1', report('h1', 2));
    expect((await store.getHost('h1'))?.syncState).toBe('Synced');
  });

  it('does not write back a host forgotten while its batch waited', async () => {
    await reconciler.setRevision(rev('rev-1', 'one'));
    await reconciler.hostConnected(facts(1), '');
    const pending = reconciler.hostDisconnected('h1');
    await reconciler.forgetHost('h1');
    await pending;
    expect(await store.getHost('h1')).toBeUndefined();
  });
});
