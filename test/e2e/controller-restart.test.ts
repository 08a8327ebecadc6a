/**
 * A controller restarted on the same state dir picks its fleet up again: hosts that already hold the
 * desired manifest are Synced again (not left Progressing), and history is kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController } from '../helpers/controller.js';
import { configFileYaml, listHosts, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { freePort } from '../helpers/redis-server.js';

describe('controller restart', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let agent: AgentProcess;
  let port: number;
  let stateDir: string;

  beforeAll(async () => {
    repo = await gitRepo({
      'motd.yaml': configFileYaml({ name: 'motd', path: '/etc/motd', content: 'hi\n' }),
    });
    port = await freePort();
    ctl = await startController(repo.dir, { listen: `127.0.0.1:${port}` });
    stateDir = ctl.stateDir;
    agent = await startAgentProcess({ controllerUrl: ctl.agentUrl, name: 'web-1' });
    await waitSynced(ctl, ['web-1'], await repo.head());
  });
  afterAll(async () => {
    await agent?.cleanup();
    await ctl?.cleanup();
    await repo?.cleanup();
  });

  it('shows a host that already holds the desired manifest as Synced again after a restart', async () => {
    await ctl.stop();
    ctl = await startController(repo.dir, { listen: `127.0.0.1:${port}` }, stateDir);
    const [row] = await waitSynced(ctl, ['web-1'], await repo.head());
    expect(row?.syncState).toBe('Synced');
    const resources = await ctl.api<{ items: Array<{ key: string; state: string }> }>(
      '/api/v1/resources?host=web-1',
    );
    expect(resources.body.items).toEqual([
      expect.objectContaining({ key: 'ConfigFile/motd', state: 'Synced' }),
    ]);
    expect((await listHosts(ctl)).map((h) => h.hostId)).toEqual(['web-1']);
  });
});
