/**
 * gsectl end to end: the built CLI run as a child process against a real controller with two real agents,
 * configured through GSE_SERVER / GSE_TOKEN; JSON output and exit codes checked.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, GSECTL_MAIN, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, TEST_ADMIN_TOKEN, waitFor } from '../helpers/controller.js';
import { configFileYaml, listHosts, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const HOSTS = ['web-1', 'web-2'];
const PINNED = '/etc/pinned.conf';
/** A gsectl run is bounded: a hung CLI fails the test instead of holding it. */
const GSECTL_TIMEOUT_MS = 40_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('gsectl against a live controller', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let sha: string;
  const agents: AgentProcess[] = [];

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

  const json = <T>(run: Run): T => {
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as T;
  };

  beforeAll(async () => {
    repo = await gitRepo({
      'fleet/motd.yaml': configFileYaml({ name: 'motd', path: '/etc/motd', content: 'managed\n' }),
      'fleet/pinned.yaml': configFileYaml({
        name: 'pinned',
        path: PINNED,
        content: 'pinned\n',
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
  });

  it('prints the applied revision and host counts when asked for status -o json', async () => {
    const status = json<{
      revision: { applied: { sha: string } | null; lastRejected: unknown };
      hosts: { total: number; connected: number; bySyncState: Record<string, number> };
    }>(await gsectl('status', '-o', 'json'));
    expect(status.revision.applied?.sha).toBe(sha);
    expect(status.revision.lastRejected).toBeNull();
    expect(status.hosts).toMatchObject({ total: 2, connected: 2, bySyncState: { Synced: 2 } });
  });

  it('lists every host with its sync state when asked for get hosts -o json', async () => {
    const page = json<{
      items: Array<{ hostId: string; syncState: string; connected: boolean; revision: string }>;
    }>(await gsectl('get', 'hosts', '-o', 'json'));
    expect(page.items.map((h) => [h.hostId, h.syncState, h.connected, h.revision])).toEqual([
      ['web-1', 'Synced', true, sha],
      ['web-2', 'Synced', true, sha],
    ]);
  });

  it('shows one host with its manifest and resources when asked to describe it', async () => {
    const d = json<{
      host: { hostId: string; syncState: string };
      manifest: { revision: string; items: Array<{ kind: string; name: string }> };
      resources: Array<{ key: string; state: string }>;
    }>(await gsectl('describe', 'host', 'web-1', '-o', 'json'));
    expect(d.host).toMatchObject({ hostId: 'web-1', syncState: 'Synced' });
    expect(d.manifest.revision).toBe(sha);
    expect(d.manifest.items.map((i) => `${i.kind}/${i.name}`).sort()).toEqual([
      'ConfigFile/motd',
      'ConfigFile/pinned',
    ]);
    expect(d.resources.map((r) => [r.key, r.state]).sort()).toEqual([
      ['ConfigFile/motd', 'Synced'],
      ['ConfigFile/pinned', 'Synced'],
    ]);

    const missing = await gsectl('describe', 'host', 'no-such-host', '-o', 'json');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no-such-host');
    const usage = await gsectl('get', 'nothing');
    expect(usage.code).toBe(2);
  });

  it('re-applies a drifted host and waits until every host is Synced when asked to sync --wait', async () => {
    const web1 = agents[0] as AgentProcess;
    await writeFile(web1.path(PINNED), 'hand edit\n');
    await waitFor('web-1 OutOfSync', async () =>
      (await listHosts(ctl)).some((h) => h.hostId === 'web-1' && h.syncState === 'OutOfSync'),
    );
    const result = json<{ revision: string; synced: number; total: number; failed: string[] }>(
      await gsectl('sync', '--wait', '--timeout', '30s', '-o', 'json'),
    );
    expect(result).toEqual({ revision: sha, synced: 2, total: 2, failed: [] });
    await waitFor('pinned.conf restored', async () => (await web1.read(PINNED)) === 'pinned\n');
  });

  it('runs a command on every host and streams each result when asked to exec', async () => {
    const table = await gsectl('exec', '--hosts', '*', '--', 'echo', 'hi');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/--- web-1 {2}succeeded {2}exit=0/);
    expect(table.stdout).toMatch(/--- web-2 {2}succeeded {2}exit=0/);
    expect(table.stdout.match(/^hi$/gm)).toHaveLength(2);

    const lines = json<Array<{ type: string; hostId?: string; status?: string; stdoutTail?: string }>>(
      await gsectl('exec', '--hosts', '*', '-o', 'json', '--', 'echo', 'hi'),
    );
    expect(lines[0]?.type).toBe('started');
    expect(
      lines
        .filter((l) => l.type === 'result')
        .map((l) => [l.hostId, l.status, l.stdoutTail])
        .sort(),
    ).toEqual([
      ['web-1', 'succeeded', 'hi\n'],
      ['web-2', 'succeeded', 'hi\n'],
    ]);
    expect(lines.at(-1)).toMatchObject({ type: 'summary', hosts: 2, succeeded: 2, pending: [] });

    const failing = await gsectl('exec', '--hosts', 'name=web-2', '--', 'exit', '3');
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/--- web-2 {2}failed {2}exit=3/);
  });

  it('exports convergence and execution latencies as histograms, and totals as counters', async () => {
    const { text } = await ctl.request('/metrics');
    expect(text).toMatch(/^# TYPE gse_converge_duration_seconds histogram$/m);
    // Both hosts were sent a manifest and reported holding it.
    expect(Number(/^gse_converge_duration_seconds_count (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(2);
    // The exec test before this one: 4 results succeeded, 1 failed.
    expect(text).toMatch(/^gse_exec_duration_seconds_count\{reason="adhoc",result="succeeded"\} [4-9]\d*$/m);
    expect(text).toMatch(/^gse_exec_duration_seconds_count\{reason="adhoc",result="failed"\} 1$/m);
    expect(text).toMatch(/^# TYPE gse_git_fetches_total counter$/m);
    expect(text).not.toMatch(/^# TYPE \S+_total gauge$/m);
  });
});
