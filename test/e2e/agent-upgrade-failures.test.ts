/**
 * Agent upgrades that go wrong, with real launched agents: a package whose sha256 is not the pinned one is
 * refused (the rollout pauses with the reason), a version that never connects is rolled back by the launcher
 * after its health deadline (the old version reports why, the rollout pauses), and an agent SIGKILLed in the
 * middle of its download resumes it and ends on the new version. Each case supersedes the one before.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { processGone } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import {
  type Artifact,
  type ArtifactServer,
  buildArtifact,
  hangingArtifact,
  installAndLaunch,
  type LaunchedAgent,
  serveArtifacts,
} from '../helpers/launched-agent.js';
import { agentVersionYaml, waitRollout } from './agent-upgrade-fixtures.js';

const HOSTS = ['bad-1', 'bad-2'];

describe('agent upgrades that fail, through the launcher', () => {
  let dir: string;
  let v1: Artifact;
  let v2: Artifact;
  let hanging: Artifact;
  let server: ArtifactServer;
  let repo: GitRepo;
  let ctl: RunningController;
  const agents: LaunchedAgent[] = [];

  async function commit(yaml: string, message: string): Promise<void> {
    await repo.commit({ 'fleet/agents.yaml': yaml }, message);
    await ctl.api('/api/v1/hooks/git', { method: 'POST' });
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-upgrade-bad-'));
    [v1, v2] = await Promise.all([buildArtifact('1.0.0', dir), buildArtifact('1.1.0', dir)]);
    hanging = await hangingArtifact(v2, '1.2.0', dir);
    server = await serveArtifacts(dir);
    repo = await gitRepo({
      'fleet/agents.yaml': agentVersionYaml({ version: '1.0.0', url: server.url(v1), sha256: v1.sha256 }),
    });
    ctl = await startController(repo.dir, { path: 'fleet' });
    for (const name of HOSTS)
      agents.push(await installAndLaunch({ artifact: v1, controllerUrl: ctl.agentUrl, name }));
    await waitRollout(
      ctl,
      'agents',
      (v) => v.hosts.length === HOSTS.length && v.hosts.every((h) => h.runningVersion === '1.0.0'),
      60_000,
    );
  }, 120_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.cleanup()));
    await ctl?.cleanup();
    await server?.close();
    await repo?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a package whose sha256 differs, switches nothing and pauses the rollout with the reason', async () => {
    const wrong = v1.sha256; // the 1.0.0 package's hash pinned for 1.1.0
    await commit(
      agentVersionYaml({ version: '1.1.0', url: server.url(v2), sha256: wrong, batchSize: 1 }),
      '1.1.0 with a wrong sha256',
    );
    const paused = await waitRollout(
      ctl,
      'agents',
      (v) => v.rollout.version === '1.1.0' && v.rollout.phase === 'Paused',
    );
    expect(paused.rollout.pauseReason).toContain('bad-1');
    expect(paused.rollout.pauseReason).toContain(`has sha256 ${v2.sha256}`);
    expect(paused.rollout.pauseReason).toContain(`pins ${wrong}`);
    const host = paused.hosts.find((h) => h.hostId === 'bad-1');
    expect(host).toMatchObject({ state: 'failed', runningVersion: '1.0.0' });
    // Nothing was switched and the second batch never started.
    expect(await agents[0]?.currentVersion()).toBe('1.0.0');
    expect((await agents[0]?.record())?.current).toMatchObject({ to: '1.1.0', state: 'failed' });
    expect(paused.hosts.find((h) => h.hostId === 'bad-2')).toMatchObject({ state: 'waiting' });
  }, 90_000);

  it('rolls back a version that never connects once its health deadline passes, and the host says why', async () => {
    await commit(
      agentVersionYaml({
        version: '1.2.0',
        url: server.url(hanging),
        sha256: hanging.sha256,
        batchSize: 1,
        healthDeadline: '3s',
      }),
      '1.2.0 that hangs at start',
    );
    const paused = await waitRollout(
      ctl,
      'agents',
      (v) => v.rollout.version === '1.2.0' && v.rollout.phase === 'Paused',
      60_000,
    );
    expect(paused.rollout.pauseReason).toContain('version 1.2.0 did not connect and report within 3000 ms');
    expect(paused.rollout.pauseReason).toContain('rolled back to 1.0.0');
    const a = agents[0] as LaunchedAgent;
    expect(await a.currentVersion()).toBe('1.0.0');
    expect((await a.record()).current).toMatchObject({ to: '1.2.0', state: 'failed', rolledBack: true });
    // The host runs the old version again, connected and reporting.
    const host = paused.hosts.find((h) => h.hostId === 'bad-1');
    expect(host).toMatchObject({ state: 'failed', runningVersion: '1.0.0' });
    // With the default maxUnavailable (1), bad-1 restarting into 1.2.0 still held the next batch until
    // its verdict: bad-2 never received the version.
    expect(paused.hosts.find((h) => h.hostId === 'bad-2')).toMatchObject({ state: 'waiting' });
    expect((await (agents[1] as LaunchedAgent).record()).current?.to).not.toBe('1.2.0');
  }, 90_000);

  it('ends on a running agent when the agent is SIGKILLed in the middle of its download', async () => {
    const a = agents[0] as LaunchedAgent;
    const file = basename(v2.path);
    server.stallOnce(file);
    const oldPid = await a.agentPid();
    await commit(
      agentVersionYaml({ version: '1.1.0', url: server.url(v2), sha256: v2.sha256, batchSize: 1 }),
      '1.1.0, right this time',
    );
    const downloads = join(a.installDir, 'downloads');
    await waitFor(
      'half of the package downloaded',
      async () => {
        const part = (await readdir(downloads).catch(() => [])).find((f) => f.endsWith('.part'));
        const size = part ? (await stat(join(downloads, part))).size : 0;
        return size > 0 && (await a.record()).current?.state === 'downloading';
      },
      30_000,
    );
    process.kill(oldPid as number, 'SIGKILL');
    await waitFor('the killed agent gone', () => processGone(oldPid as number));
    server.release();
    const done = await waitRollout(
      ctl,
      'agents',
      (v) => v.rollout.version === '1.1.0' && v.rollout.phase === 'Completed',
      90_000,
    );
    expect(done.hosts.map((h) => h.runningVersion)).toEqual(['1.1.0', '1.1.0']);
    // The restarted old version asked only for the bytes it lacked.
    expect(server.ranges(file).some((r) => r?.startsWith('bytes=') && r !== 'bytes=0-')).toBe(true);
    expect(await a.currentVersion()).toBe('1.1.0');
    expect(a.launcher.exitCode).toBeNull();
  }, 120_000);
});
