/**
 * Rollouts through the Reconciler in memory: the in-memory store, a hub that records sends, and the test
 * standing in for each agent's upgrade (it reconnects the host with the new version in its facts).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { type HubPort, Reconciler } from '../../src/controller/reconciler.js';
import { RolloutManager } from '../../src/controller/rollouts.js';
import type { ManifestAgentVersion } from '../../src/protocol/manifest.js';
import type { ManifestMessage } from '../../src/protocol/messages.js';
import { MemoryStore, MemoryStoreData } from '../../src/store/memory-store.js';
import { agentVersion, idleMetrics, quietLogger, versionFacts } from '../helpers/controller-fixtures.js';
import { makeRevision } from '../helpers/revision.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const quiet = quietLogger;
const metrics = idleMetrics();
const IDS = ['h1', 'h2', 'h3', 'h4', 'h5'];
const av = agentVersion;
const facts = versionFacts;

describe('rollouts through the Reconciler', () => {
  let data: MemoryStoreData;
  let now: number;
  let reconciler: Reconciler;
  let rollouts: RolloutManager;

  async function boot(): Promise<void> {
    const store = MemoryStore.open(data);
    rollouts = new RolloutManager({ store, now: () => now });
    await rollouts.load();
    const hub: HubPort = { send: (_to: string, _msg: ManifestMessage) => true };
    reconciler = new Reconciler({
      store,
      hub,
      metrics,
      logger: quiet,
      now: () => now,
      newId: () => `id-${now++}`,
      rollouts,
    });
    await reconciler.restore();
  }

  const itemOf = (id: string) =>
    reconciler.desiredFor(id)?.items.find((i): i is ManifestAgentVersion => i.kind === 'AgentVersion');
  const versions = () => IDS.map((id) => itemOf(id)?.version);

  /** The host reports its manifest applied, each AgentVersion item `failed` when asked. */
  async function report(id: string, failed?: string): Promise<void> {
    const m = reconciler.desiredFor(id);
    if (!m) throw new Error(`no manifest for ${id}`);
    await reconciler.hostReported(id, {
      v: 1,
      type: 'report',
      id: `r-${now++}`,
      manifestHash: m.hash,
      revision: m.revision,
      items: m.items.map((i) => ({
        kind: i.kind,
        name: i.name,
        hash: i.hash,
        state: failed ? 'failed' : 'ok',
        ...(failed && { message: failed }),
      })),
    });
  }

  /** Stands in for the upgrade: each host told to run another version reconnects running it. */
  async function upgradeTold(): Promise<string[]> {
    const told: Array<[string, string]> = [];
    for (const id of IDS) {
      const item = itemOf(id);
      const running = (await MemoryStore.open(data).getHost(id))?.agentVersion;
      if (item && item.version !== running) told.push([id, item.version]);
    }
    // Only the hosts told before any of them moved: a batch that settles lets the next one start.
    for (const [id, version] of told) {
      await reconciler.hostConnected(facts(id, version), '');
      await report(id);
    }
    return told.map(([id]) => id);
  }

  beforeEach(async () => {
    data = new MemoryStoreData();
    now = T0;
    await boot();
    await reconciler.setRevision(makeRevision([av('1.0.0')], {}, 'rev-1'));
    for (const id of IDS) {
      await reconciler.hostConnected(facts(id, '1.0.0'), '');
      await report(id);
    }
  });

  it('moves five hosts in batches of two, the hosts not reached staying OutOfSync on their version', async () => {
    expect(rollouts.get('agents')?.phase).toBe('Completed');
    await reconciler.setRevision(makeRevision([av('1.1.0')], {}, 'rev-2'));
    expect(versions()).toEqual(['1.1.0', '1.1.0', '1.0.0', '1.0.0', '1.0.0']);
    const h5 = await MemoryStore.open(data).getHost('h5');
    expect(h5?.syncState).toBe('OutOfSync');
    expect(await upgradeTold()).toEqual(['h1', 'h2']);
    expect(versions()).toEqual(['1.1.0', '1.1.0', '1.1.0', '1.1.0', '1.0.0']);
    expect(await upgradeTold()).toEqual(['h3', 'h4']);
    expect(await upgradeTold()).toEqual(['h5']);
    expect(rollouts.get('agents')).toMatchObject({
      phase: 'Completed',
      version: '1.1.0',
      fromVersion: '1.0.0',
    });
    const states = (await MemoryStore.open(data).listHosts()).items.map((h) => h.syncState);
    expect(states).toEqual(['Synced', 'Synced', 'Synced', 'Synced', 'Synced']);
  });

  it('pauses on a failed host with its reason, and resume retries it with the next attempt', async () => {
    await reconciler.setRevision(makeRevision([av('1.1.0')], {}, 'rev-2'));
    await report('h2', 'sha256 mismatch: got 1234');
    const paused = rollouts.get('agents');
    expect(paused?.phase).toBe('Paused');
    expect(paused?.pauseReason).toContain('h2: sha256 mismatch: got 1234');
    expect(itemOf('h2')?.attempt).toBe(1);
    await rollouts.resume('agents');
    await reconciler.replanAll();
    expect(rollouts.get('agents')).toMatchObject({ phase: 'Progressing', attempt: 2 });
    expect(itemOf('h2')).toMatchObject({ version: '1.1.0', attempt: 2 });
  });

  it('undo returns every host to the version before', async () => {
    await reconciler.setRevision(makeRevision([av('1.1.0')], {}, 'rev-2'));
    await upgradeTold();
    await rollouts.undo('agents', reconciler.rolloutHostsOf(av('1.1.0')));
    await reconciler.replanAll();
    expect(versions()).toEqual(['1.0.0', '1.0.0', '1.0.0', '1.0.0', '1.0.0']);
    expect(itemOf('h1')?.artifact?.sha256).toBe(av('1.0.0').spec.artifact?.sha256);
    await upgradeTold();
    expect(rollouts.get('agents')).toMatchObject({ undo: true, phase: 'Completed', version: '1.0.0' });
    // Git still says 1.1.0: the hosts are OutOfSync until Git changes.
    expect((await MemoryStore.open(data).getHost('h1'))?.syncState).toBe('OutOfSync');
  });

  it('a commit changing the version mid-rollout supersedes it and starts from the hosts current versions', async () => {
    await reconciler.setRevision(makeRevision([av('1.1.0')], {}, 'rev-2'));
    await upgradeTold(); // h1, h2 on 1.1.0; batch 2 reached
    await reconciler.setRevision(makeRevision([av('1.2.0')], {}, 'rev-3'));
    const all = await MemoryStore.open(data).listRollouts();
    expect(all.map((r) => [r.id, r.phase])).toEqual([
      ['agents#1', 'Completed'],
      ['agents#2', 'Superseded'],
      ['agents#3', 'Progressing'],
    ]);
    // h3 and h4 were told 1.1.0 but still run 1.0.0: not reached by the new rollout, they keep what they run.
    expect(versions()).toEqual(['1.2.0', '1.2.0', '1.0.0', '1.0.0', '1.0.0']);
    expect(rollouts.get('agents')?.fromVersion).toBe('1.1.0');
  });

  it('a restarted controller resumes the rollout from the store', async () => {
    await reconciler.setRevision(makeRevision([av('1.1.0')], {}, 'rev-2'));
    await upgradeTold();
    await boot();
    await reconciler.setRevision(makeRevision([av('1.1.0')], {}, 'rev-2'));
    expect(rollouts.get('agents')).toMatchObject({ id: 'agents#2', reached: 2 });
    expect(versions()).toEqual(['1.1.0', '1.1.0', '1.1.0', '1.1.0', '1.0.0']);
  });
});
