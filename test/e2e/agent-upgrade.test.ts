/**
 * Agent upgrades with real processes: packages built by `gsectl artifact build`, installed with
 * `gse-agent install` on five hosts, each supervised by `gse-agent launch`, a real controller on TLS serving
 * the packages from its --artifact-dir (the spec names no url, so agents fetch
 * /api/v1/artifacts/gse-agent-<v>.tgz with their own credential). 1.0.0 -> 1.1.0 in batches of two, then
 * `undo` returns everyone to 1.0.0.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { pendingSpoolRecords } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import {
  type Artifact,
  buildArtifact,
  installAndLaunch,
  type LaunchedAgent,
} from '../helpers/launched-agent.js';
import { agentVersionYaml, type RolloutView, waitRollout } from './agent-upgrade-fixtures.js';

const HOSTS = ['up-1', 'up-2', 'up-3', 'up-4', 'up-5'];

describe('agent upgrade through the launcher (five hosts)', () => {
  let dir: string;
  let v1: Artifact;
  let v2: Artifact;
  let repo: GitRepo;
  let ctl: RunningController;
  const agents: LaunchedAgent[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-upgrade-'));
    [v1, v2] = await Promise.all([buildArtifact('1.0.0', dir), buildArtifact('1.1.0', dir)]);
    repo = await gitRepo({
      'fleet/agents.yaml': agentVersionYaml({ version: '1.0.0', sha256: v1.sha256 }),
    });
    ctl = await startController(repo.dir, { path: 'fleet', artifactDir: dir });
    for (const name of HOSTS)
      agents.push(await installAndLaunch({ artifact: v1, controllerUrl: ctl.agentUrl, name }));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.cleanup()));
    await ctl?.cleanup();
    await repo?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('moves five hosts from 1.0.0 to 1.1.0 in batches of two, each reporting the new version', async () => {
    await waitFor(
      'five hosts on 1.0.0',
      async () => {
        const { status, body } = await ctl.api<{ items: Array<{ hostId: string; connected: boolean }> }>(
          '/api/v1/hosts',
        );
        return status === 200 && body.items.filter((h) => h.connected).length === HOSTS.length;
      },
      60_000,
    );
    const identity = (a: LaunchedAgent) => readFile(join(a.stateDir, 'identity.json'), 'utf8');
    const identities = await Promise.all(
      agents.map((a) =>
        waitFor(`${a.name} enrolled`, async () => {
          const text = await identity(a);
          return text.includes('credential') ? text : undefined;
        }),
      ),
    );
    await repo.commit(
      {
        'fleet/agents.yaml': agentVersionYaml({
          version: '1.1.0',
          sha256: v2.sha256,
          batchSize: 2,
        }),
      },
      'agents 1.1.0',
    );
    await ctl.api('/api/v1/hooks/git', { method: 'POST' });
    const done = await waitRollout(
      ctl,
      'agents',
      (v) => v.rollout.version === '1.1.0' && v.rollout.phase === 'Completed',
      90_000,
    );
    expect(done.batches).toBe(3);
    expect(done.hosts.map((h) => [h.hostId, h.batch, h.state, h.runningVersion])).toEqual(
      HOSTS.map((id, i) => [id, Math.floor(i / 2) + 1, 'upgraded', '1.1.0']),
    );
    for (const a of agents) {
      expect(await a.currentVersion()).toBe('1.1.0');
      // The new version marks the record healthy once its first report is acked (the rollout counts the hello).
      const record = await waitFor(`${a.name} healthy`, async () => {
        const r = await a.record();
        return r.current?.state === 'healthy' ? r : undefined;
      });
      expect(record.current).toMatchObject({ from: '1.0.0', to: '1.1.0', state: 'healthy' });
    }
    // One launcher per host the whole time; each now runs a 1.1.0 agent.
    for (const a of agents) expect(a.launcher.exitCode).toBeNull();
    // The state dir outlived the switch: same identity (no re-enrollment), and the spool drains to empty.
    expect(await Promise.all(agents.map(identity))).toEqual(identities);
    for (const a of agents)
      await waitFor(
        `${a.name}'s spool drained`,
        async () => (await pendingSpoolRecords(a.stateDir)).length === 0,
      );
  }, 120_000);

  it('undo returns every host to 1.0.0', async () => {
    const { status } = await ctl.api('/api/v1/rollouts/agents/undo', { method: 'POST' });
    expect(status).toBe(200);
    const back = await waitRollout(
      ctl,
      'agents',
      (v: RolloutView) => v.rollout.undo && v.rollout.version === '1.0.0' && v.rollout.phase === 'Completed',
      90_000,
    );
    expect(back.hosts.map((h) => h.runningVersion)).toEqual(HOSTS.map(() => '1.0.0'));
    for (const a of agents) expect(await a.currentVersion()).toBe('1.0.0');
  }, 120_000);
});
