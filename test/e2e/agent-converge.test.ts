/**
 * A real controller on a real git repo with two real agent processes (web-1, web-2), each managing files
 * under its own temp root: convergence, onChange, drift detection and healing, manual sync, exec timeouts.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, TEST_ADMIN_TOKEN, waitFor } from '../helpers/controller.js';
import {
  configFileYaml,
  type DriftRow,
  type ExecutionRow,
  listDrift,
  listExecutions,
  listHosts,
  processGone,
  waitSynced,
} from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const SECRET = '/etc/app/secret.conf';
const GREETING = '/etc/app/greeting.conf';
const WATCHED = '/etc/app/watched.conf';
const MANUAL = '/etc/app/manual.conf';
const HOSTS = ['web-1', 'web-2'];

const fleet = {
  'fleet/app.yaml': [
    configFileYaml({ name: 'app-secret', path: SECRET, content: 'password=s3cret\n', mode: '0600' }),
    configFileYaml({
      name: 'greeting',
      path: GREETING,
      source: 'files/greeting.tmpl',
      template: true,
      mode: '0644',
    }),
    configFileYaml({
      name: 'watched',
      path: WATCHED,
      content: 'watched v1\n',
      onChange: { run: 'echo changed >> $GSE_ROOT/onchange.log', timeout: '10s' },
    }),
    configFileYaml({
      name: 'manual',
      path: MANUAL,
      content: 'manual v1\n',
      syncPolicy: { selfHeal: false },
    }),
  ].join('---\n'),
  'fleet/files/greeting.tmpl': 'hello from {{ host.name }}\n',
};

describe('agent session against a real controller', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let sha: string;
  const agents = new Map<string, AgentProcess>();
  const agent = (name: string) => agents.get(name) as AgentProcess;
  const resourceState = async (host: string, key: string) => {
    const { body } = await ctl.api<{ resources: Array<{ key: string; state: string; message?: string }> }>(
      `/api/v1/hosts/${host}`,
    );
    return body.resources.find((r) => r.key === key);
  };

  beforeAll(async () => {
    repo = await gitRepo(fleet);
    sha = await repo.head();
    ctl = await startController(repo.dir, { path: 'fleet' });
    for (const name of HOSTS) {
      agents.set(name, await startAgentProcess({ controllerUrl: ctl.agentUrl, name }));
    }
  });
  afterAll(async () => {
    await Promise.all([...agents.values()].map((a) => a.cleanup()));
    await ctl?.cleanup();
    await repo?.cleanup();
  });

  it('converges every file with its content and mode, and runs onChange once, when a manifest arrives', async () => {
    await waitSynced(ctl, HOSTS, sha);
    for (const name of HOSTS) {
      const a = agent(name);
      expect(await a.read(SECRET)).toBe('password=s3cret\n');
      expect(await a.mode(SECRET)).toBe(0o600);
      expect(await a.read(GREETING)).toBe(`hello from ${name}\n`);
      expect(await a.mode(GREETING)).toBe(0o644);
      expect(await a.read(WATCHED)).toBe('watched v1\n');
      expect(await a.read(MANUAL)).toBe('manual v1\n');
      expect(await readFile(join(a.root, 'onchange.log'), 'utf8')).toBe('changed\n');
    }
    const hosts = await listHosts(ctl);
    expect(hosts.filter((h) => HOSTS.includes(h.hostId)).map((h) => [h.hostId, h.syncState])).toEqual([
      ['web-1', 'Synced'],
      ['web-2', 'Synced'],
    ]);
    // The onChange runs were recorded too, one per host.
    const onChange = (await listExecutions(ctl)).filter((e) => e.reason === 'onChange:ConfigFile/watched');
    expect(onChange.map((e) => [e.hostId, e.status]).sort()).toEqual([
      ['web-1', 'succeeded'],
      ['web-2', 'succeeded'],
    ]);
  });

  it('reports a hand edit as corrective drift and heals it when selfHeal is on', async () => {
    const a = agent('web-1');
    const editedAt = Date.now();
    await writeFile(a.path(SECRET), 'password=hacked\n');
    const drift = await waitFor(
      'corrective drift of app-secret on web-1',
      async () =>
        (await listDrift(ctl, 'web-1')).find(
          (d) => d.key === 'ConfigFile/app-secret' && d.kind === 'corrective' && d.healed,
        ),
      5_000,
    );
    // Information only (not asserted): how long detection and the report took.
    console.info(`drift (selfHeal) recorded ${Date.now() - editedAt} ms after the hand edit`);
    expect(drift).toMatchObject({ hostId: 'web-1', revision: sha, healed: true });
    await waitFor('app-secret restored on disk', async () => (await a.read(SECRET)) === 'password=s3cret\n');
    expect(await a.mode(SECRET)).toBe(0o600);
    await waitSynced(ctl, ['web-1'], sha);
  });

  it('records unhealed drift and leaves the hand edit when selfHeal is off, until a manual sync', async () => {
    const a = agent('web-1');
    const editedAt = Date.now();
    await writeFile(a.path(MANUAL), 'manual hand edit\n');
    const drift = await waitFor(
      'unhealed drift of manual on web-1',
      async () =>
        (await listDrift(ctl, 'web-1')).find((d: DriftRow) => d.key === 'ConfigFile/manual' && !d.healed),
      5_000,
    );
    console.info(`drift (no selfHeal) recorded ${Date.now() - editedAt} ms after the hand edit`);
    expect(drift).toMatchObject({ kind: 'corrective', revision: sha });
    const host = await waitFor('web-1 OutOfSync', async () =>
      (await listHosts(ctl)).find((h) => h.hostId === 'web-1' && h.syncState === 'OutOfSync'),
    );
    expect(host.revision).toBe(sha);
    expect(await a.read(MANUAL)).toBe('manual hand edit\n');
    // web-2 was not touched.
    expect((await listHosts(ctl)).find((h) => h.hostId === 'web-2')?.syncState).toBe('Synced');

    // Put back by hand: the host is Synced again, the drift record stays as history.
    await writeFile(a.path(MANUAL), 'manual v1\n');
    await waitSynced(ctl, ['web-1'], sha);
    expect(await resourceState('web-1', 'ConfigFile/manual')).toMatchObject({
      state: 'Synced',
      message: 'in sync again: the file on disk matches Git',
    });
    expect((await listDrift(ctl, 'web-1')).find((d) => d.id === drift.id)?.healed).toBe(false);

    // Edited again, then restored by a manual sync.
    await writeFile(a.path(MANUAL), 'manual hand edit 2\n');
    await waitFor('web-1 OutOfSync again', async () =>
      (await listHosts(ctl)).find((h) => h.hostId === 'web-1' && h.syncState === 'OutOfSync'),
    );
    const sync = await ctl.api<{ hosts: string[] }>('/api/v1/sync', { body: { host: 'web-1' } });
    expect(sync.status).toBe(200);
    expect(sync.body.hosts).toEqual(['web-1']);
    await waitFor('manual.conf restored by the sync', async () => (await a.read(MANUAL)) === 'manual v1\n');
    await waitSynced(ctl, ['web-1'], sha);
  });

  it('detects a hand edit when the agent restarted on an unchanged manifest', async () => {
    const a = agent('web-2');
    const before = ctl.controller.hub.session('web-2')?.connectedAt;
    await a.restart();
    await waitFor('web-2 in a new session', () => {
      const s = ctl.controller.hub.session('web-2');
      return s !== undefined && s.connectedAt !== before;
    });
    await waitSynced(ctl, ['web-2'], sha);
    await writeFile(a.path(SECRET), 'edited after a restart\n');
    await waitFor(
      'corrective drift of app-secret on web-2',
      async () => (await listDrift(ctl, 'web-2')).find((d) => d.key === 'ConfigFile/app-secret' && d.healed),
      5_000,
    );
    await waitFor('app-secret restored on web-2', async () => (await a.read(SECRET)) === 'password=s3cret\n');
    // The drift's report named every resource, not only the healed one: web-2 is Synced, each resource too.
    await waitSynced(ctl, ['web-2'], sha);
    const { body } = await ctl.api<{ resources: Array<{ key: string; state: string }> }>(
      '/api/v1/hosts/web-2',
    );
    expect(body.resources.map((r) => [r.key, r.state])).toEqual(
      ['app-secret', 'greeting', 'manual', 'watched'].map((n) => [`ConfigFile/${n}`, 'Synced']),
    );
    // The restart re-ran nothing: the held manifest was current.
    expect(await readFile(join(a.root, 'onchange.log'), 'utf8')).toBe('changed\n');
  });

  it('kills a script and its children and records it timedOut when it outlives its timeout', async () => {
    const pidDir = await mkdtemp(join(tmpdir(), 'gse-exec-pids-'));
    const pidFile = join(pidDir, 'child.pids');
    try {
      const res = await ctl.request('/api/v1/exec', {
        method: 'POST',
        token: TEST_ADMIN_TOKEN,
        body: JSON.stringify({
          hosts: '*',
          script: `sleep 300 & echo $! >> ${pidFile}; sleep 300`,
          timeoutMs: 1000,
        }),
      });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toContain('application/x-ndjson');
      const lines = res.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string } & Partial<ExecutionRow> & Record<string, unknown>);
      const started = lines[0] as { type: string; taskId: string; hosts: string[] };
      expect(started.type).toBe('started');
      expect([...started.hosts].sort()).toEqual(HOSTS);
      const results = lines.filter((l) => l.type === 'result');
      expect(results.map((r) => [r.hostId, r.status, r.timedOut, r.killed]).sort()).toEqual([
        ['web-1', 'timedOut', true, true],
        ['web-2', 'timedOut', true, true],
      ]);
      expect(lines.at(-1)).toMatchObject({ type: 'summary', timedOut: 2, pending: [] });

      const pids = (await readFile(pidFile, 'utf8')).trim().split('\n').map(Number);
      expect(pids).toHaveLength(2);
      for (const pid of pids) {
        await waitFor(`grandchild ${pid} gone`, () => processGone(pid), 10_000);
      }
      const recorded = (await listExecutions(ctl)).filter((e) => e.id === started.taskId);
      expect(recorded.map((e) => [e.hostId, e.status, e.reason]).sort()).toEqual([
        ['web-1', 'timedOut', 'adhoc'],
        ['web-2', 'timedOut', 'adhoc'],
      ]);
    } finally {
      // Should the kill have failed, do not leave 5-minute sleeps behind.
      const text = await readFile(pidFile, 'utf8').catch(() => '');
      for (const pid of text.trim().split('\n').filter(Boolean).map(Number)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await rm(pidDir, { recursive: true, force: true });
    }
  });
});
