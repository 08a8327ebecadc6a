/**
 * gsectl diff, diff --tree and sync --dry-run end to end: the built CLI against a real controller with two
 * real agents. Content diffs of hand edits, a preview of an uncommitted tree (adds, changes, removes,
 * selectors, validation errors) and a dry run that leaves every file as it was.
 */
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { type AgentProcess, GSECTL_MAIN, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, TEST_ADMIN_TOKEN, waitFor } from '../helpers/controller.js';
import { configFileYaml, listHosts, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const HOSTS = ['web-1', 'web-2'];
const GSECTL_TIMEOUT_MS = 60_000;
const PINNED_TEXT = 'line 1\nline 2\nline 3\n';
const HAND_EDIT = 'line 1\nline two\nline 3\n';
const HOST_SECRET = 'a secret only the host knows\n';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('gsectl diff, diff --tree and sync --dry-run', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let sha: string;
  let ranLog: string;
  const agents: AgentProcess[] = [];
  const temps: string[] = [];

  function gsectl(...args: string[]): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [GSECTL_MAIN, ...args], {
        env: { ...process.env, GSE_SERVER: ctl.url, GSE_TOKEN: TEST_ADMIN_TOKEN, GSE_CA: ctl.caFile },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
      });
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
      });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`gsectl ${args.join(' ')} did not finish: ${stderr}`));
      }, GSECTL_TIMEOUT_MS);
      child.once('error', reject);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** A copy of the repo's fleet dir with `files` written (null: deleted), for --tree. */
  async function treeWith(files: Record<string, string | null>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'gse-preview-'));
    temps.push(dir);
    await cp(join(repo.dir, 'fleet'), dir, { recursive: true });
    for (const [path, content] of Object.entries(files)) {
      if (content === null) await rm(join(dir, path));
      else await writeFile(join(dir, path), content);
    }
    return dir;
  }

  const web1 = () => agents[0] as AgentProcess;

  beforeAll(async () => {
    const ranDir = await mkdtemp(join(tmpdir(), 'gse-onchange-'));
    temps.push(ranDir);
    ranLog = join(ranDir, 'ran.log');
    repo = await gitRepo({
      'fleet/motd.yaml': configFileYaml({ name: 'motd', path: '/etc/motd', content: 'managed\n' }),
      'fleet/pinned.yaml': configFileYaml({
        name: 'pinned',
        path: '/etc/pinned.conf',
        content: PINNED_TEXT,
        onChange: { run: `echo "$GSE_FILE" >> ${ranLog}` },
        syncPolicy: { selfHeal: false },
      }),
      'fleet/key.yaml': configFileYaml({
        name: 'key',
        path: '/etc/key.conf',
        content: 'from git\n',
        mode: '0600',
        syncPolicy: { selfHeal: false },
      }),
    });
    sha = await repo.head();
    ctl = await startController(repo.dir, { path: 'fleet' });
    for (const name of HOSTS) agents.push(await startAgentProcess({ controllerUrl: ctl.agentUrl, name }));
    await waitSynced(ctl, HOSTS, sha);
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.cleanup()));
    await ctl?.cleanup();
    await repo?.cleanup();
    await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('says there is no difference when every host is Synced', async () => {
    const run = await gsectl('diff');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe('No differences: every resource is Synced.');
  });

  it('shows a unified diff of a hand edit, and only sizes and hashes for a private file', async () => {
    await writeFile(web1().path('/etc/pinned.conf'), HAND_EDIT);
    await writeFile(web1().path('/etc/key.conf'), HOST_SECRET);
    await waitFor('web-1 reports both edits', async () => {
      const d = JSON.parse((await gsectl('diff', '-o', 'json')).stdout) as {
        items: Array<{ resources: Array<{ key: string; diff?: string; changes: string[] }> }>;
      };
      const rs = d.items.flatMap((h) => h.resources);
      return (
        rs.some((r) => r.key === 'ConfigFile/pinned' && r.diff) &&
        rs.some((r) => r.key === 'ConfigFile/key' && r.changes.some((c) => c.startsWith('content differs')))
      );
    });
    const table = await gsectl('diff');
    expect(table.code).toBe(1);
    expect(table.stdout).toMatchSnapshot('diff table');
    const json = await gsectl('diff', '-o', 'json');
    expect(json.code).toBe(1);
    const yaml = await gsectl('diff', '-o', 'yaml');
    expect(yaml.code).toBe(1);
    const fromJson = stable(JSON.parse(json.stdout));
    expect(fromJson).toMatchSnapshot('diff json');
    expect(stable(parseYaml(yaml.stdout))).toEqual(fromJson);
    // What the host holds in a private file never leaves it.
    for (const out of [table.stdout, json.stdout, yaml.stdout])
      expect(out).not.toContain('only the host knows');

    const one = await gsectl('diff', '--host', 'web-2');
    expect(one.code).toBe(0);
  });

  it('asks the agents what a sync would change, and changes nothing', async () => {
    const ranBefore = await readFile(ranLog, 'utf8');
    const run = await gsectl('sync', '--dry-run', '--timeout', '30s');
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout.replaceAll(ranLog, '<log>')).toMatchSnapshot('sync --dry-run table');
    const json = JSON.parse(
      (await gsectl('sync', '--dry-run', '--hosts', 'name=web-1', '-o', 'json')).stdout,
    ) as {
      hosts: Array<{
        hostId: string;
        ok: boolean;
        items: Array<{ key: string; message: string; diff?: string }>;
      }>;
    };
    expect(json.hosts.map((h) => h.hostId)).toEqual(['web-1']);
    expect(json.hosts[0]?.items.map((i) => [i.key, i.message])).toEqual([
      ['ConfigFile/key', 'would change content'],
      ['ConfigFile/pinned', `would change content; onChange would run: echo "$GSE_FILE" >> ${ranLog}`],
    ]);
    // Files as the hand left them, no onChange run, and the hosts still OutOfSync / Synced as before.
    expect(await web1().read('/etc/pinned.conf')).toBe(HAND_EDIT);
    expect(await web1().read('/etc/key.conf')).toBe(HOST_SECRET);
    expect(await readFile(ranLog, 'utf8')).toBe(ranBefore);
    const hosts = await listHosts(ctl);
    expect(hosts.map((h) => [h.hostId, h.syncState]).sort()).toEqual([
      ['web-1', 'OutOfSync'],
      ['web-2', 'Synced'],
    ]);
  });

  it('previews a tree that adds, changes and removes resources without committing it', async () => {
    const dir = await treeWith({
      'banner.yaml': configFileYaml({
        name: 'banner',
        path: '/etc/banner',
        content: 'hello\n',
        hosts: 'web-1',
      }),
      'motd.yaml': configFileYaml({ name: 'motd', path: '/etc/motd', content: 'managed\nby git\n' }),
      'pinned.yaml': null,
      'key.yaml': configFileYaml({
        name: 'key',
        path: '/etc/key.conf',
        content: 'from git\n',
        mode: '0600',
        hosts: 'web-2',
        syncPolicy: { selfHeal: false },
      }),
    });
    const run = await gsectl('diff', '--tree', dir);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout.replaceAll(dir, '<tree>')).toMatchSnapshot('diff --tree table');
    const json = JSON.parse((await gsectl('diff', '--tree', dir, '-o', 'json')).stdout) as {
      valid: boolean;
      from: string;
      hosts: Array<{
        name: string;
        added: Array<{ key: string }>;
        changed: Array<{ key: string }>;
        removed: Array<{ key: string }>;
      }>;
      selectors: Array<{ resource: string; added: string[]; dropped: string[] }>;
    };
    expect(json.valid).toBe(true);
    expect(json.from).toBe(sha);
    const keys = (rs: Array<{ key: string }>) => rs.map((r) => r.key);
    expect(json.hosts.map((h) => [h.name, keys(h.added), keys(h.changed), keys(h.removed)])).toEqual([
      ['web-1', ['ConfigFile/banner'], ['ConfigFile/motd'], ['ConfigFile/key', 'ConfigFile/pinned']],
      ['web-2', [], ['ConfigFile/motd'], ['ConfigFile/pinned']],
    ]);
    expect(json.selectors).toEqual([
      { resource: 'ConfigFile/banner', added: ['web-1'], dropped: [] },
      { resource: 'ConfigFile/key', added: [], dropped: ['web-1'] },
      { resource: 'ConfigFile/pinned', added: [], dropped: ['web-1', 'web-2'] },
    ]);
    // Nothing was committed or applied: same revision, same files.
    const status = JSON.parse((await gsectl('status', '-o', 'json')).stdout) as {
      revision: { applied: { sha: string } };
    };
    expect(status.revision.applied.sha).toBe(sha);
    expect(await web1().read('/etc/motd')).toBe('managed\n');
    expect(await web1().mode('/etc/banner')).toBeUndefined();
  });

  it('prints every validation error as file:line:col and exits 1 when the tree is invalid', async () => {
    const dir = await treeWith({
      'broken.yaml': [
        'apiVersion: gse/v1',
        'kind: ConfigFile',
        'metadata: { name: "broken }',
        'spec:',
        '  path: /etc/x',
        '',
      ].join('\n'),
      'motd.yaml': configFileYaml({ name: 'motd', path: 'etc/motd', content: 'x\n' }),
    });
    const run = await gsectl('diff', '--tree', dir);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /^broken\.yaml:3:19: YAML: a double-quoted string opened here is never closed/m,
    );
    expect(run.stdout).toMatch(/^motd\.yaml:\d+:\d+: spec\.path: /m);
    expect(run.stdout).toContain('nothing was sent to the controller');
    const json = JSON.parse((await gsectl('diff', '--tree', dir, '-o', 'json')).stdout) as {
      valid: boolean;
      errors: unknown[];
    };
    expect(json.valid).toBe(false);
    expect(json.errors.length).toBeGreaterThanOrEqual(2);
  });
});

/** The diff answer without what moves between runs: times, and item hashes (an onChange names a temp path). */
function stable(data: unknown): unknown {
  const moving: Record<string, string> = { updatedAt: '<time>', since: '<time>', hash: '<item hash>' };
  return JSON.parse(JSON.stringify(data, (key, value) => moving[key] ?? value));
}
