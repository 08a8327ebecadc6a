import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type HubPort, Reconciler, SEND_ERROR_KEY } from '../../src/controller/reconciler.js';
import type { HostFacts } from '../../src/protocol/manifest.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { idleMetrics, quietLogger } from '../helpers/controller-fixtures.js';
import { configFile, makeRevision } from '../helpers/revision.js';

const host: HostFacts = { id: 'h1', name: 'web-1', ips: ['10.0.0.1'], cloudId: 0, labels: {} };
const quiet = quietLogger;
const metrics = idleMetrics();

describe('Reconciler when the hub cannot send a manifest', () => {
  let dir: string;
  let store: Store;
  let hub: HubPort & { mode: 'throw' | 'refuse' | 'ok'; sent: number };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-rec-'));
    store = await openStore({ stateDir: dir });
    hub = {
      mode: 'ok',
      sent: 0,
      send() {
        if (hub.mode === 'throw') throw new Error('a frame of 5000000 bytes for agent h1 exceeds the limit');
        if (hub.mode === 'refuse') return false;
        hub.sent++;
        return true;
      },
    };
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const reconciler = () =>
    new Reconciler({ store, hub, metrics, logger: quiet, now: () => 0, newId: () => 'm1' });

  it('marks the host Failed with the send error when send throws, and recovers when a send succeeds', async () => {
    const r = reconciler();
    await r.setRevision(makeRevision([configFile('a', { content: 'a' })]));
    hub.mode = 'throw';
    await r.hostConnected(host, '');
    expect(r.hostStates()[0]?.syncState).toBe('Failed');
    expect(r.sendErrorFor('h1')).toContain('the manifest could not be sent: a frame of 5000000 bytes');
    const statuses = await store.listResourceStatuses({ hostId: 'h1', limit: 100 });
    expect(statuses.items).toContainEqual(
      expect.objectContaining({
        key: SEND_ERROR_KEY,
        state: 'Failed',
        message: expect.stringContaining('a frame of'),
      }),
    );
    hub.mode = 'ok';
    await r.resync();
    expect(hub.sent).toBe(1);
    expect(r.hostStates()[0]?.syncState).toBe('Progressing');
    expect(r.sendErrorFor('h1')).toBeUndefined();
  });

  it('never marks the host Progressing when send returns false', async () => {
    const r = reconciler();
    await r.setRevision(makeRevision([configFile('a', { content: 'a' })]));
    hub.mode = 'refuse';
    await r.hostConnected(host, '');
    expect(r.hostStates()[0]?.syncState).toBe('Failed');
    expect(r.sendErrorFor('h1')).toContain('the agent session is closing');
  });

  it('keeps sending to other hosts when one host cannot be sent to', async () => {
    const r = reconciler();
    hub.mode = 'ok';
    await r.hostConnected(host, '');
    await r.hostConnected({ ...host, id: 'h2', name: 'web-2' }, '');
    const original = hub.send;
    hub.send = (id, msg) => {
      if (id === 'h1') throw new Error('too large');
      return original.call(hub, id, msg);
    };
    await r.setRevision(makeRevision([configFile('a', { content: 'a' })]));
    const states = Object.fromEntries(r.hostStates().map((h) => [h.hostId, h.syncState]));
    expect(states).toEqual({ h1: 'Failed', h2: 'Progressing' });
  });
});
