/**
 * The controller driving a fleet of real agent processes from commits: changes converge on every selected
 * host, pruned resources leave the hosts, invalid commits change nothing, offline hosts catch up.
 */
import { access } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { configFileYaml, listHosts, type StatusBody, waitApplied, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const APP = '/etc/fleet/app.conf';
const EXTRA = '/etc/fleet/extra.conf';
const ONLY = '/etc/fleet/only-app-1.conf';
const HOSTS = ['app-1', 'app-2'];

const app = (version: string) =>
  configFileYaml({ name: 'app', path: APP, content: `app ${version}\n`, hosts: 'app-*' });

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe('controller reconciling a fleet from git', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  const agents = new Map<string, AgentProcess>();
  const agent = (name: string) => agents.get(name) as AgentProcess;

  /** Commits `files`, tells the controller (webhook), and waits until it applied the commit. */
  async function commitAndApply(files: Record<string, string | null>, message: string): Promise<string> {
    const sha = await repo.commit(files, message);
    await ctl.api('/api/v1/hooks/git', { method: 'POST' });
    await waitApplied(ctl, sha);
    return sha;
  }

  beforeAll(async () => {
    repo = await gitRepo({
      'fleet/app.yaml': app('v1'),
      'fleet/extra.yaml': configFileYaml({
        name: 'extra',
        path: EXTRA,
        content: 'extra\n',
        syncPolicy: { prune: true },
      }),
      'fleet/only.yaml': configFileYaml({ name: 'only', path: ONLY, content: 'one\n', hosts: 'app-1' }),
    });
    ctl = await startController(repo.dir, { path: 'fleet' });
    for (const name of HOSTS)
      agents.set(name, await startAgentProcess({ controllerUrl: ctl.agentUrl, name }));
    await waitSynced(ctl, HOSTS, await repo.head());
  });
  afterAll(async () => {
    await Promise.all([...agents.values()].map((a) => a.cleanup()));
    await ctl?.cleanup();
    await repo?.cleanup();
  });

  it('converges every selected host when a commit changes a ConfigFile', async () => {
    expect(await agent('app-1').read(ONLY)).toBe('one\n');
    expect(await exists(agent('app-2').path(ONLY))).toBe(false);

    const sha = await commitAndApply({ 'fleet/app.yaml': app('v2') }, 'app v2');
    await waitSynced(ctl, HOSTS, sha);
    for (const name of HOSTS) expect(await agent(name).read(APP)).toBe('app v2\n');
  });

  it('removes the file from the hosts when a resource with prune: true is deleted', async () => {
    for (const name of HOSTS) expect(await agent(name).read(EXTRA)).toBe('extra\n');
    const sha = await commitAndApply({ 'fleet/extra.yaml': null }, 'drop extra');
    await waitSynced(ctl, HOSTS, sha);
    for (const name of HOSTS) {
      await waitFor(`extra.conf gone on ${name}`, async () => !(await exists(agent(name).path(EXTRA))));
      expect(await agent(name).read(APP)).toBe('app v2\n');
    }
  });

  it('rejects an invalid commit with its errors and keeps the hosts on the last good revision', async () => {
    const good = await repo.head();
    const before = await listHosts(ctl);
    const bad = await repo.commit(
      {
        'fleet/app.yaml': app('v3'),
        'fleet/bad.yaml':
          'apiVersion: gse/v1\nkind: ConfigFile\nmetadata: { name: bad }\nspec:\n  hosts: { names: ["*"] }\n  content: x\n  mode: "999"\n',
      },
      'broken',
    );
    await ctl.api('/api/v1/hooks/git', { method: 'POST' });
    const status = await waitFor('the rejection in status', async () => {
      const { body } = await ctl.api<StatusBody>('/api/v1/status');
      return body.revision.lastRejected?.sha === bad ? body : undefined;
    });
    expect(status.revision.applied?.sha).toBe(good);
    const errors = status.revision.lastRejected?.errors ?? [];
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors.every((e) => e.file === 'bad.yaml')).toBe(true);
    expect(errors.map((e) => `${e.path}: ${e.message}`).join('\n')).toMatch(/path/);
    expect(errors.map((e) => e.path)).toContain('spec.mode');

    const after = await listHosts(ctl);
    for (const name of HOSTS) {
      const was = before.find((h) => h.hostId === name);
      const now = after.find((h) => h.hostId === name);
      expect(now?.revision).toBe(good);
      expect(now?.revision).toBe(was?.revision);
      expect(now?.desiredHash).toBe(was?.desiredHash);
      expect(now?.syncState).toBe('Synced');
      expect(await agent(name).read(APP)).toBe('app v2\n');
    }
  });

  it('converges a host that was offline during a commit when it comes back', async () => {
    const offline = agent('app-2');
    await offline.stop();
    await waitFor('app-2 disconnected', async () =>
      (await listHosts(ctl)).find((h) => h.hostId === 'app-2' && !h.connected && h.syncState === 'Unknown'),
    );
    const sha = await commitAndApply({ 'fleet/bad.yaml': null, 'fleet/app.yaml': app('v4') }, 'fix, app v4');
    await waitSynced(ctl, ['app-1'], sha);
    expect(await agent('app-1').read(APP)).toBe('app v4\n');
    expect(await offline.read(APP)).toBe('app v2\n');

    await offline.restart();
    await waitSynced(ctl, HOSTS, sha);
    expect(await offline.read(APP)).toBe('app v4\n');
    const { body } = await ctl.api<StatusBody>('/api/v1/status');
    expect(body.revision.lastRejected).toBeNull();
  });
});
