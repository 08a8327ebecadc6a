/**
 * The Reconciler driven end to end in memory: the in-memory store, a hub that records what it is asked to
 * send, and a clock the test moves. No network, no child process, no real time (checked below).
 */
import { ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { PROGRESS_DEADLINE_MS } from '../../src/controller/reconcile-decisions.js';
import { type HubPort, Reconciler } from '../../src/controller/reconciler.js';
import type { HostFacts, HostManifest } from '../../src/protocol/manifest.js';
import type { ItemReport, ManifestMessage, ReportMessage } from '../../src/protocol/messages.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { Store } from '../../src/store/types.js';
import { idleMetrics, quietLogger } from '../helpers/controller-fixtures.js';
import { configFile, makeRevision } from '../helpers/revision.js';

const connects = vi.spyOn(Socket.prototype, 'connect');
// Every child_process function ends in ChildProcess#spawn, which Node's typings leave out.
const spawns = vi.spyOn(ChildProcess.prototype as unknown as { spawn(options: unknown): void }, 'spawn');
afterAll(() => {
  // The point of this file: the reconciler is testable without a fleet (no socket, no async child process).
  expect(connects).not.toHaveBeenCalled();
  expect(spawns).not.toHaveBeenCalled();
});

const T0_MS = Date.parse('2026-01-01T00:00:00.000Z');
const host: HostFacts = { id: 'h1', name: 'web-1', ips: ['10.0.0.1'], cloudId: 0, labels: {} };
const quiet = quietLogger;
const metrics = idleMetrics();

const rev1 = makeRevision(
  [configFile('a', { content: 'one' }), configFile('b', { content: 'b' })],
  {},
  'rev-1',
);
const rev2 = makeRevision(
  [configFile('a', { content: 'two' }), configFile('b', { content: 'b' })],
  {},
  'rev-2',
);

/** A hub that accepts every send and keeps what it was sent, by host. */
function recordingHub(): HubPort & { sent: Array<{ to: string; msg: ManifestMessage }> } {
  const sent: Array<{ to: string; msg: ManifestMessage }> = [];
  return {
    sent,
    send(to, msg) {
      sent.push({ to, msg });
      return true;
    },
  };
}

/** The agent's report after applying `manifest`, each item in `state` (`changed` by default). */
function applied(
  manifest: HostManifest,
  state: ItemReport['state'] = 'changed',
  id = 'rep-1',
): ReportMessage {
  return {
    v: 1,
    type: 'report',
    id,
    manifestHash: manifest.hash,
    revision: manifest.revision,
    items: manifest.items.map((i) => ({ kind: i.kind, name: i.name, hash: i.hash, state })),
  };
}

describe('Reconciler (in memory)', () => {
  let store: Store;
  let hub: ReturnType<typeof recordingHub>;
  let now: number;
  let reconciler: Reconciler;
  let ids: number;

  beforeEach(() => {
    store = MemoryStore.open();
    hub = recordingHub();
    now = T0_MS;
    ids = 0;
    reconciler = new Reconciler({
      store,
      hub,
      metrics,
      logger: quiet,
      now: () => now,
      newId: () => `m${++ids}`,
    });
  });

  const stored = async () => (await store.getHost('h1'))?.syncState;
  const desired = () => {
    const m = reconciler.desiredFor('h1');
    if (!m) throw new Error('no desired manifest for h1');
    return m;
  };

  it('sends the full manifest on connect and stores Progressing, then Synced on the report', async () => {
    await reconciler.setRevision(rev1);
    await reconciler.hostConnected(host, '');
    expect(hub.sent.map((s) => [s.to, s.msg.mode])).toEqual([['h1', 'full']]);
    expect(await stored()).toBe('Progressing');

    await reconciler.hostReported('h1', applied(desired()));
    expect(await stored()).toBe('Synced');
    const statuses = await store.listResourceStatuses({ hostId: 'h1' });
    expect(statuses.items.map((s) => [s.key, s.state])).toEqual([
      ['ConfigFile/a', 'Synced'],
      ['ConfigFile/b', 'Synced'],
    ]);
    expect(hub.sent).toHaveLength(1);
  });

  it('sends a delta against the manifest the host holds when a new revision arrives', async () => {
    await reconciler.setRevision(rev1);
    await reconciler.hostConnected(host, '');
    const first = desired();
    await reconciler.hostReported('h1', applied(first));
    await reconciler.setRevision(rev2);
    const msg = hub.sent.at(-1)?.msg;
    expect(msg).toMatchObject({ mode: 'delta', baseHash: first.hash, hash: desired().hash, remove: [] });
    expect(msg?.mode === 'delta' ? msg.upsert.map((i) => i.name) : []).toEqual(['a']);
    expect(await stored()).toBe('Progressing');

    // The agent rewrote only `a`: only `a` is recorded, as intentional (a new revision moved it).
    const second = applied(desired(), 'changed', 'rep-2');
    second.items = second.items.map((i) => (i.name === 'a' ? i : { ...i, state: 'ok' }));
    await reconciler.hostReported('h1', second);
    const drift = await store.listDrift({ hostId: 'h1' });
    expect(drift.items.map((d) => [d.key, d.kind, d.healed, d.detail])).toEqual([
      ['ConfigFile/a', 'intentional', true, 'applied revision rev-2 (was rev-1)'],
    ]);
    expect(await stored()).toBe('Synced');
  });

  it('retries a failed apply in full when the retry is due, and backs off', async () => {
    await reconciler.setRevision(rev1);
    await reconciler.hostConnected(host, '');
    await reconciler.hostReported('h1', applied(desired(), 'failed'));
    expect(await stored()).toBe('Failed');
    expect((await store.getHost('h1'))?.retry).toEqual({
      attempts: 1,
      nextAt: new Date(T0_MS + 1_000).toISOString(),
    });

    now = T0_MS + 999;
    await reconciler.resync();
    expect(hub.sent).toHaveLength(1);

    now = T0_MS + 1_000;
    await reconciler.resync();
    expect(hub.sent.map((s) => s.msg.mode)).toEqual(['full', 'full']);
    expect((await store.getHost('h1'))?.retry?.nextAt).toBe(new Date(now + 2_000).toISOString());

    await reconciler.hostReported('h1', applied(desired(), 'ok', 'rep-2'));
    expect(await stored()).toBe('Synced');
    expect((await store.getHost('h1'))?.retry).toBeUndefined();
  });

  it('re-sends a manifest in flight past the deadline, and not before', async () => {
    await reconciler.setRevision(rev1);
    await reconciler.hostConnected(host, '');
    now = T0_MS + PROGRESS_DEADLINE_MS;
    await reconciler.resync();
    expect(hub.sent).toHaveLength(1);
    now += 1;
    await reconciler.resync();
    expect(hub.sent).toHaveLength(2);
  });

  it('sends everything when the agent asks for the full manifest', async () => {
    await reconciler.setRevision(rev1);
    await reconciler.hostConnected(host, '');
    await reconciler.hostReported('h1', applied(desired()));
    await reconciler.setRevision(rev2);
    await reconciler.hostReported('h1', { ...applied(desired()), needFull: true, items: [] });
    expect(hub.sent.map((s) => s.msg.mode)).toEqual(['full', 'delta', 'full']);
  });

  it('records corrective drift from the report and stores the host OutOfSync while unhealed', async () => {
    await reconciler.setRevision(rev1);
    await reconciler.hostConnected(host, '');
    const report = applied(desired(), 'ok');
    const [a, b] = report.items;
    if (!a || !b) throw new Error('two items expected');
    const drifted: ItemReport = {
      ...a,
      state: 'drifted',
      observedHash: 'hand-edit',
      drift: { detectedAt: new Date(T0_MS).toISOString(), healed: false, detail: 'content changed on disk' },
    };
    await reconciler.hostReported('h1', { ...report, items: [drifted, b] });
    expect(await stored()).toBe('OutOfSync');
    expect((await store.listDrift({ healed: false })).items).toMatchObject([
      { hostId: 'h1', key: 'ConfigFile/a', kind: 'corrective', observedHash: 'hand-edit' },
    ]);
  });

  it('restores stored hosts as Unknown and has their agents re-verify when they return', async () => {
    await store.upsertHost({
      hostId: 'h1',
      name: 'web-1',
      ips: ['10.0.0.1'],
      cloudId: 0,
      labels: {},
      firstSeen: new Date(T0_MS - 60_000).toISOString(),
      lastSeen: new Date(T0_MS - 1_000).toISOString(),
      connected: true,
      syncState: 'Synced',
      reportedHash: 'held',
    });
    await reconciler.restore();
    expect(reconciler.hostStates()).toEqual([{ hostId: 'h1', connected: false, syncState: 'Unknown' }]);
    // The store said connected (the controller died): restore corrects it.
    expect(await store.getHost('h1')).toMatchObject({ connected: false, syncState: 'Unknown' });
    await reconciler.setRevision(rev1);
    expect(hub.sent).toHaveLength(0);
    await reconciler.hostConnected(host, desired().hash);
    // It says it holds the desired manifest: an empty delta on it (re-verify and report), no contents again.
    expect(hub.sent.map((s) => s.msg)).toEqual([
      expect.objectContaining({
        mode: 'delta',
        baseHash: desired().hash,
        hash: desired().hash,
        upsert: [],
        remove: [],
      }),
    ]);
    expect(reconciler.hostStates()).toEqual([{ hostId: 'h1', connected: true, syncState: 'Progressing' }]);
    expect((await store.getHost('h1'))?.firstSeen).toBe(new Date(T0_MS - 60_000).toISOString());
    // It did not hold it after all (its hello lied, or its manifest.json changed): it asks for the whole one,
    // and gets it, once.
    await reconciler.hostReported('h1', { ...applied(desired()), needFull: true, items: [] });
    expect(hub.sent.map((s) => s.msg.mode)).toEqual(['delta', 'full']);
    // Another session that holds something else gets the whole manifest.
    hub.sent.length = 0;
    await reconciler.hostDisconnected('h1');
    await reconciler.hostConnected(host, 'other');
    expect(hub.sent.map((s) => s.msg.mode)).toEqual(['full']);
  });

  /**
   * h1 reports rev-1, gets rev-2, applies it and records it as held, then dies before its report was spooled:
   * it comes back saying it holds rev-2's manifest. What was sent until then is forgotten.
   */
  const returnHoldingUnreported = async () => {
    await reconciler.setRevision(rev1);
    await reconciler.hostConnected(host, '');
    await reconciler.hostReported('h1', applied(desired()));
    await reconciler.setRevision(rev2);
    await reconciler.hostDisconnected('h1');
    hub.sent.length = 0;
    await reconciler.hostConnected(host, desired().hash);
  };

  it('has a host re-verify when it returns holding a manifest it never reported', async () => {
    await returnHoldingUnreported();
    // What the controller knows of its resources is rev-1's: it asks for a re-verify of rev-2 (empty delta).
    expect(hub.sent.map((s) => s.msg)).toEqual([
      expect.objectContaining({ mode: 'delta', baseHash: desired().hash, upsert: [], remove: [] }),
    ]);
    expect(await stored()).toBe('Progressing');
    await reconciler.hostReported('h1', applied(desired(), 'ok', 'rep-2'));
    expect(await stored()).toBe('Synced');

    // Once that is reported, a reconnect holding the same manifest needs nothing sent.
    await reconciler.hostDisconnected('h1');
    hub.sent.length = 0;
    await reconciler.hostConnected(host, desired().hash);
    expect(hub.sent).toEqual([]);
    expect(await stored()).toBe('Synced');
  });

  it('sends the full manifest for a manual sync or a retry, never the re-verify delta the hello allows', async () => {
    // Its hello names rev-2's manifest, which it never reported: a re-verify (an empty delta on it) goes.
    await returnHoldingUnreported();
    await reconciler.hostReported('h1', applied(desired(), 'ok', 'rep-2'));
    expect(hub.sent.map((s) => s.msg.mode)).toEqual(['delta']);

    // A manual sync must apply everything, including what selfHeal left alone: the whole manifest.
    await reconciler.forceSync(['h1']);
    expect(hub.sent.map((s) => s.msg.mode)).toEqual(['delta', 'full']);

    // So must a retry of a failed apply.
    await reconciler.hostReported('h1', applied(desired(), 'failed', 'rep-3'));
    hub.sent.length = 0;
    now = T0_MS + 60_000;
    await reconciler.resync();
    expect(hub.sent.map((s) => s.msg.mode)).toEqual(['full']);
  });

  it('stores a silent host Unknown and its state again when it is heard from', async () => {
    await reconciler.setRevision(rev1);
    await reconciler.hostConnected(host, '');
    await reconciler.hostReported('h1', applied(desired()));
    await reconciler.setSilent(new Set(['h1']));
    expect(await stored()).toBe('Unknown');
    await reconciler.setSilent(new Set());
    expect(await stored()).toBe('Synced');
  });

  it('re-sends in full to connected hosts only when a manual sync is asked', async () => {
    await reconciler.setRevision(rev1);
    await reconciler.hostConnected(host, '');
    await reconciler.hostConnected({ ...host, id: 'h2', name: 'web-2' }, '');
    await reconciler.hostDisconnected('h2');
    await reconciler.hostReported('h1', applied(desired()));
    expect(await reconciler.forceSync()).toEqual(['h1']);
    expect(hub.sent.map((s) => [s.to, s.msg.mode])).toEqual([
      ['h1', 'full'],
      ['h2', 'full'],
      ['h1', 'full'],
    ]);
    expect(await stored()).toBe('Progressing');
    expect((await store.getHost('h2'))?.syncState).toBe('Unknown');
  });
});
