/**
 * Simulated agents go through a rollout: each "downloads and restarts" (a short wait) and comes back saying it
 * runs the new version, so the controller's batches move as they do with real agents. Real controller, real ws.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../agent/engine/index.js';
import { AGENT_VERSION } from '../../agent/facts.js';
import { type SimulatedFleet, simulate } from '../../agent/simulate.js';
import { agentVersionYaml, waitRollout } from '../e2e/agent-upgrade-fixtures.js';
import { type RunningController, startController, TEST_BOOTSTRAP_TOKEN } from '../helpers/controller.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const SHA = 'e'.repeat(64);

describe('simulated agents in a rollout', () => {
  let dir: string;
  let repo: GitRepo;
  let ctl: RunningController;
  let fleet: SimulatedFleet;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-sim-upgrade-'));
    repo = await gitRepo({
      'fleet/agents.yaml': agentVersionYaml({
        version: AGENT_VERSION,
        url: 'http://127.0.0.1:9/a.tgz',
        sha256: SHA,
      }),
    });
    ctl = await startController(repo.dir, { path: 'fleet', plainHttp: true });
    fleet = await simulate(
      {
        count: 4,
        controllerUrl: ctl.agentUrl,
        bootstrapToken: TEST_BOOTSTRAP_TOKEN,
        root: dir,
        labels: {},
        upgradeDelayMs: 20,
      },
      silentLogger,
    );
  }, 60_000);
  afterAll(async () => {
    await fleet?.stop();
    await ctl?.cleanup();
    await repo?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('moves every simulated agent to the new version, batch by batch, with nothing downloaded', async () => {
    await waitRollout(ctl, 'agents', (v) => v.hosts.length === 4, 30_000);
    await repo.commit(
      {
        'fleet/agents.yaml': agentVersionYaml({
          version: '9.9.9',
          url: 'http://127.0.0.1:9/b.tgz',
          sha256: SHA,
          batchSize: 2,
        }),
      },
      'agents 9.9.9',
    );
    await ctl.api('/api/v1/hooks/git', { method: 'POST' });
    const done = await waitRollout(
      ctl,
      'agents',
      (v) => v.rollout.version === '9.9.9' && v.rollout.phase === 'Completed',
      60_000,
    );
    expect(done.batches).toBe(2);
    expect(done.hosts.map((h) => [h.batch, h.runningVersion])).toEqual([
      [1, '9.9.9'],
      [1, '9.9.9'],
      [2, '9.9.9'],
      [2, '9.9.9'],
    ]);
    // The fleet holds the restarted instances, each saying it runs the new version.
    expect(fleet.agents.map((a) => a.lifecycle)).toEqual(['running', 'running', 'running', 'running']);
  }, 90_000);
});
