/**
 * Issue #9 items 5-7, tried as an attacker would against a real controller on a real git repo with two
 * real agent processes: web-1 is attacked (a planted symlink, a manifest aimed at the agent's own state,
 * scripts that would inherit the agent's secrets or run as root), web-2 is the rest of the fleet. Each
 * case asserts the refusal and its message, and that the fleet kept working.
 */
import {
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { listDrift, listExecutions, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const CANARY = 'canary-bootstrap-token-must-not-leak';
const isRoot = process.getuid?.() === 0;

interface ResourceRow {
  hostId: string;
  key: string;
  state: string;
  message?: string;
}

/** One ConfigFile document as JSON (valid YAML); `spec` is passed through as written. */
function configFile(name: string, spec: Record<string, unknown>, hosts = '*'): string {
  return [
    'apiVersion: gse/v1',
    'kind: ConfigFile',
    `metadata: ${JSON.stringify({ name })}`,
    `spec: ${JSON.stringify({ hosts: { names: [hosts] }, ...spec })}`,
    '',
  ].join('\n');
}

const fleet = {
  'fleet/files.yaml': [
    configFile('normal', { path: '/etc/app/normal.conf', content: 'normal\n', onChange: { run: 'env' } }),
    configFile('through-link', { path: '/etc/linked/victim.conf', content: 'attacker\n' }, 'web-1'),
    configFile(
      'agent-identity',
      { path: '/var/lib/gse-agent/identity.json', content: '{"agentId":"web-1","credential":"attacker"}' },
      'web-1',
    ),
    configFile('planted', { path: '/etc/app/planted.conf', content: 'planted\n', mode: '0644' }, 'web-1'),
    configFile('owned', { path: '/etc/app/owned.conf', content: 'owned\n', owner: 'root:root' }),
    configFile('as-nobody', {
      path: '/etc/app/nobody.conf',
      content: 'nobody\n',
      onChange: { run: 'id -u; id -g; echo "$HOME"', runAs: 'nobody' },
    }),
    configFile(
      'as-ghost',
      {
        path: '/etc/app/ghost.conf',
        content: 'ghost\n',
        onChange: { run: 'id -u', runAs: 'ghost-user-gse' },
      },
      'web-1',
    ),
  ].join('---\n'),
  'fleet/data.yaml': [
    'apiVersion: gse/v1',
    'kind: StreamTarget',
    'metadata: { name: archive }',
    'spec: { file: { path: archive/events.jsonl } }',
    '---',
    'apiVersion: gse/v1',
    'kind: Route',
    'metadata: { name: archive-all }',
    'spec: { channel: events, hosts: { names: ["*"] }, targets: [{ name: archive }] }',
    '',
  ].join('\n'),
};

const modeOf = async (p: string) => (await stat(p)).mode & 0o777;

async function walk(dir: string): Promise<Array<{ path: string; dir: boolean }>> {
  const out: Array<{ path: string; dir: boolean }> = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push({ path: p, dir: e.isDirectory() });
    if (e.isDirectory()) out.push(...(await walk(p)));
  }
  return out;
}

describe.skipIf(!isRoot)('agent rights (issue #9 items 5, 6, 7)', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let web1Root: string;
  let outside: string;
  const agents = new Map<string, AgentProcess>();
  const agent = (name: string) => agents.get(name) as AgentProcess;

  const resources = async (host: string) =>
    (await ctl.api<{ items: ResourceRow[] }>(`/api/v1/resources?host=${host}&limit=500`)).body.items;
  const resource = async (host: string, key: string) => (await resources(host)).find((r) => r.key === key);
  /** web-1's ConfigFile/normal is Synced and web-2 is Synced as a whole: the fleet kept working. */
  const fleetWorks = async () => {
    await waitSynced(ctl, ['web-2']);
    await waitFor(
      'web-1 normal.conf Synced',
      async () => (await resource('web-1', 'ConfigFile/normal'))?.state === 'Synced',
    );
    expect(await agent('web-1').read('/etc/app/normal.conf')).toBe('normal\n');
  };

  beforeAll(async () => {
    repo = await gitRepo(fleet);
    ctl = await startController(repo.dir, { path: 'fleet' });
    // web-1's root has a link planted by a local user: /etc/linked -> a directory outside the root.
    web1Root = await mkdtemp(join(tmpdir(), 'gse-sec-web-1-'));
    outside = await mkdtemp(join(tmpdir(), 'gse-sec-outside-'));
    await writeFile(join(outside, 'victim.conf'), 'precious\n');
    await mkdir(join(web1Root, 'etc'), { recursive: true });
    await symlink(outside, join(web1Root, 'etc/linked'));
    // The agent's own environment holds a secret; no script may see it.
    process.env.GSE_BOOTSTRAP_TOKEN = CANARY;
    try {
      agents.set(
        'web-1',
        await startAgentProcess({ controllerUrl: ctl.agentUrl, name: 'web-1', root: web1Root }),
      );
      agents.set('web-2', await startAgentProcess({ controllerUrl: ctl.agentUrl, name: 'web-2' }));
    } finally {
      delete process.env.GSE_BOOTSTRAP_TOKEN;
    }
    await waitSynced(ctl, ['web-2']);
    await waitFor('web-1 reported every item', async () => (await resources('web-1')).length >= 7);
  });
  afterAll(async () => {
    await Promise.all([...agents.values()].map((a) => a.cleanup()));
    await ctl?.cleanup();
    await repo?.cleanup();
    if (web1Root) await rm(web1Root, { recursive: true, force: true });
    if (outside) await rm(outside, { recursive: true, force: true });
  });

  it('item 5: refuses to write a ConfigFile when a directory under --root is a symlink', async () => {
    const r = await waitFor('through-link Failed', async () => {
      const row = await resource('web-1', 'ConfigFile/through-link');
      return row?.state === 'Failed' ? row : undefined;
    });
    expect(r.message).toContain(
      `PATH_SYMLINK: managed path /etc/linked/victim.conf: ${join(web1Root, 'etc/linked')} is a symlink, and the agent follows no symlink under its root`,
    );
    expect(await readFile(join(outside, 'victim.conf'), 'utf8')).toBe('precious\n');
    await fleetWorks();
  });

  it('item 5: refuses to read, chmod or heal through a symlink when one is planted in place of a managed file', async () => {
    await waitFor(
      'planted Synced',
      async () => (await resource('web-1', 'ConfigFile/planted'))?.state === 'Synced',
    );
    const secret = join(outside, 'shadow');
    await writeFile(secret, 'root:secret-hash\n', { mode: 0o600 });
    const path = agent('web-1').path('/etc/app/planted.conf');
    await rm(path);
    await symlink(secret, path);
    const r = await waitFor(
      'planted Failed',
      async () => {
        const row = await resource('web-1', 'ConfigFile/planted');
        return row?.state === 'Failed' ? row : undefined;
      },
      45_000,
    );
    expect(r.message).toContain(`PATH_SYMLINK: managed path /etc/app/planted.conf: ${path} is a symlink`);
    expect(await readFile(secret, 'utf8')).toBe('root:secret-hash\n');
    expect(await modeOf(secret)).toBe(0o600);
    expect((await lstat(path)).isSymbolicLink()).toBe(true);
    await fleetWorks();
  });

  it('item 5: refuses a ConfigFile aimed at the agent state dir when it names identity.json', async () => {
    const r = await waitFor('agent-identity Failed', async () => {
      const row = await resource('web-1', 'ConfigFile/agent-identity');
      return row?.state === 'Failed' ? row : undefined;
    });
    expect(r.message).toContain(
      `PATH_IN_STATE_DIR: managed path /var/lib/gse-agent/identity.json is inside the agent's state dir ${agent('web-1').stateDir}`,
    );
    const identity = JSON.parse(await readFile(join(agent('web-1').stateDir, 'identity.json'), 'utf8')) as {
      credential?: string;
    };
    expect(identity.credential).toBeDefined();
    expect(identity.credential).not.toBe('attacker');
    await fleetWorks();
  });

  it('item 5: refuses a hand-made owner change when a local user chowns a managed file', async () => {
    const file = agent('web-2').path('/etc/app/owned.conf');
    await chown(file, 65534, 65534);
    const d = await waitFor('owner drift healed on web-2', async () =>
      (await listDrift(ctl, 'web-2')).find((x) => x.key === 'ConfigFile/owned' && x.healed),
    );
    expect(d.detail).toBe('owner 65534:65534, manifest root:root (0:0)');
    await waitFor('owned.conf back to root:root', async () => {
      const st = await stat(file);
      return st.uid === 0 && st.gid === 0;
    });
    await fleetWorks();
  });

  it("item 6: refuses to hand the agent's environment to scripts when onChange runs", async () => {
    const runs = await waitFor('onChange of normal recorded on both hosts', async () => {
      const rows = (await listExecutions(ctl)).filter((e) => e.reason === 'onChange:ConfigFile/normal');
      return rows.length >= 2 ? rows : undefined;
    });
    for (const run of runs) {
      expect(run.exitCode).toBe(0);
      expect(run.stdoutTail).not.toContain(CANARY);
      const names = run.stdoutTail
        .trim()
        .split('\n')
        .map((l) => l.split('=')[0])
        .filter((n) => !['PWD', 'SHLVL', '_'].includes(n ?? ''));
      expect(names.sort()).toEqual(['GSE_FILE', 'GSE_ROOT', 'HOME', 'LANG', 'PATH']);
    }
    await fleetWorks();
  });

  it('item 6: refuses to run a script as root when its runAs names another user', async () => {
    const runs = await waitFor('onChange of as-nobody recorded on both hosts', async () => {
      const rows = (await listExecutions(ctl)).filter((e) => e.reason === 'onChange:ConfigFile/as-nobody');
      return rows.length >= 2 ? rows : undefined;
    });
    for (const run of runs)
      expect([run.exitCode, run.stdoutTail]).toEqual([0, '65534\n65534\n/nonexistent\n']);
    expect((await resource('web-1', 'ConfigFile/as-nobody'))?.state).toBe('Synced');
    await fleetWorks();
  });

  it('item 6: refuses to run an ad-hoc exec as root when the caller asks for runAs nobody', async () => {
    const { body } = await ctl.api<{ taskId: string; hosts: string[] }>('/api/v1/exec', {
      body: { hosts: 'name=web-2', script: 'id -u; id -g', runAs: 'nobody', wait: false },
    });
    expect(body.hosts).toEqual(['web-2']);
    const row = await waitFor('the runAs exec result', async () => {
      const items = (
        await ctl.api<{ items: Array<{ id: string; status: string; stdoutTail?: string }> }>(
          '/api/v1/executions?host=web-2',
        )
      ).body.items;
      return items.find((e) => e.id === body.taskId && e.status !== 'running');
    });
    expect(row).toMatchObject({ status: 'succeeded', stdoutTail: '65534\n65534\n' });
    const bad = await ctl.api<{ error: { message: string } }>('/api/v1/exec', {
      body: { hosts: 'name=web-2', script: 'id', runAs: 'root; rm -rf /', wait: false },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('runAs: a user name or user:group');
    await fleetWorks();
  });

  it('item 6: refuses to run a script at all when its runAs user does not exist', async () => {
    const r = await waitFor('as-ghost Failed', async () => {
      const row = await resource('web-1', 'ConfigFile/as-ghost');
      return row?.state === 'Failed' ? row : undefined;
    });
    expect(r.message).toContain(
      'onChange:ConfigFile/as-ghost failed: exit code 127: gse-agent: refused to run: runAs "ghost-user-gse": user "ghost-user-gse" not found in /etc/passwd or /etc/group on this host',
    );
    await fleetWorks();
  });

  it('item 7: refuses other users access to agent and controller state when it is created', async () => {
    for (const name of ['web-1', 'web-2']) {
      const state = agent(name).stateDir;
      await waitFor(
        `${name} ingest.sock`,
        async () => (await stat(join(state, 'ingest.sock')).catch(() => undefined)) !== undefined,
      );
      expect(await modeOf(state)).toBe(0o700);
      const entries = await walk(state);
      const names = entries.map((e) => e.path.slice(state.length + 1));
      expect(names).toEqual(
        expect.arrayContaining([
          'identity.json',
          'manifest.json',
          'spool',
          'tasks.log',
          'owned.json',
          'ingest.sock',
        ]),
      );
      for (const e of entries) {
        expect({ path: e.path, mode: await modeOf(e.path) }).toEqual({
          path: e.path,
          mode: e.dir ? 0o700 : 0o600,
        });
      }
    }
    expect(await modeOf(ctl.stateDir)).toBe(0o700);
    for (const f of ['gse.db', 'gse.db-wal', 'gse.db-shm'])
      expect([f, await modeOf(join(ctl.stateDir, f))]).toEqual([f, 0o600]);
    const spool = (await walk(ctl.stateDir)).filter(
      (e) => /\/spool(\/|$)/.test(e.path) && !e.path.includes('/source/'),
    );
    expect(spool.some((e) => e.path.endsWith('/archive') && e.dir)).toBe(true);
    for (const e of spool) {
      expect({ path: e.path, mode: await modeOf(e.path) }).toEqual({
        path: e.path,
        mode: e.dir ? 0o700 : 0o600,
      });
    }
    await fleetWorks();
  });
});
