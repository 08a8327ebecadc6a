/**
 * A controller restarted on the same state dir picks its fleet up again: hosts that already hold the
 * desired manifest are Synced again (not left Progressing), and history is kept. A restart is no sync: a
 * hand edit that selfHeal leaves alone is still there afterwards, and the host still OutOfSync.
 */
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { configFileYaml, listDrift, listHosts, waitSynced } from '../helpers/e2e-fleet.js';
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
      'manual.yaml': configFileYaml({
        name: 'manual',
        path: '/etc/manual.conf',
        content: 'from git\n',
        syncPolicy: { selfHeal: false },
      }),
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
      expect.objectContaining({ key: 'ConfigFile/manual', state: 'Synced' }),
      expect.objectContaining({ key: 'ConfigFile/motd', state: 'Synced' }),
    ]);
    expect((await listHosts(ctl)).map((h) => h.hostId)).toEqual(['web-1']);
  });

  it('leaves a hand edit that selfHeal leaves alone as it is across a restart, until a sync', async () => {
    const sha = await repo.head();
    await writeFile(agent.path('/etc/manual.conf'), 'by hand\n');
    await waitFor('the unhealed drift recorded', async () =>
      (await listDrift(ctl, 'web-1')).some((d) => d.key === 'ConfigFile/manual' && !d.healed),
    );
    await ctl.stop();
    ctl = await startController(repo.dir, { listen: `127.0.0.1:${port}` }, stateDir);
    // The re-verify a restart asks for reports every resource, and heals nothing selfHeal leaves alone.
    const manual = await waitFor('web-1 back, OutOfSync on manual', async () => {
      const host = (await listHosts(ctl)).find((h) => h.hostId === 'web-1');
      if (!host?.connected || host.syncState !== 'OutOfSync') return undefined;
      const { body } = await ctl.api<{ items: Array<{ key: string; state: string; message?: string }> }>(
        '/api/v1/resources?host=web-1',
      );
      return body.items.find((r) => r.key === 'ConfigFile/manual');
    });
    expect(manual).toMatchObject({ state: 'OutOfSync' });
    expect(manual.message).toMatch(/^differs on disk, left as it is \(selfHeal off\)/);
    expect(await agent.read('/etc/manual.conf')).toBe('by hand\n');

    // A sync is asked to heal it.
    const sync = await ctl.api<{ hosts: string[] }>('/api/v1/sync', { body: { host: 'web-1' } });
    expect(sync.status).toBe(200);
    await waitFor(
      'manual.conf restored by the sync',
      async () => (await agent.read('/etc/manual.conf')) === 'from git\n',
    );
    await waitSynced(ctl, ['web-1'], sha);
  });
});
