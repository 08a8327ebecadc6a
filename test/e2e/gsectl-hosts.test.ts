/**
 * Host selectors and host deletion end to end: the built gsectl as a child process against a real
 * controller with real agents. A connected host is refused without --force; a disconnected one is deleted
 * (revoked, gone from the views, its executions kept) and refused when its agent comes back.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, GSECTL_MAIN, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, TEST_ADMIN_TOKEN, waitFor } from '../helpers/controller.js';
import { configFileYaml, listExecutions, listHosts, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

/** A gsectl run is bounded: a hung CLI fails the test instead of holding it. */
const GSECTL_TIMEOUT_MS = 40_000;
/** Generous: a 2-core machine under load. */
const AGENT_EXIT_TIMEOUT_MS = 30_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('gsectl hosts delete and --hosts selectors against a live controller', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  const agents = new Map<string, AgentProcess>();

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

  const hostIdsOf = (run: Run): string[] => {
    expect(run.code, run.stderr).toBe(0);
    return (JSON.parse(run.stdout) as { items: Array<{ hostId: string }> }).items.map((h) => h.hostId);
  };
  /** The agent's exit, or a failure naming it after AGENT_EXIT_TIMEOUT_MS. */
  const exitOf = (name: string) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`agent ${name} still running: ${agent(name).stderr()}`)),
        AGENT_EXIT_TIMEOUT_MS,
      );
    });
    return Promise.race([agent(name).exited(), timeout]).finally(() => clearTimeout(timer));
  };
  const agent = (name: string): AgentProcess => {
    const a = agents.get(name);
    if (!a) throw new Error(`no agent ${name}`);
    return a;
  };

  beforeAll(async () => {
    repo = await gitRepo({
      'fleet/motd.yaml': configFileYaml({ name: 'motd', path: '/etc/motd', content: 'managed\n' }),
    });
    const sha = await repo.head();
    ctl = await startController(repo.dir, { path: 'fleet' });
    const fleet = { 'web-1': 'role=web,zone=gz', 'web-2': 'role=web', 'db-1': 'role=db' };
    for (const [name, labels] of Object.entries(fleet))
      agents.set(name, await startAgentProcess({ controllerUrl: ctl.agentUrl, name, labels }));
    await waitSynced(ctl, Object.keys(fleet), sha, 40_000);
  });
  afterAll(async () => {
    await Promise.all([...agents.values()].map((a) => a.cleanup()));
    await ctl?.cleanup();
    await repo?.cleanup();
  });

  it('selects hosts with AND across terms and sets, in get hosts and exec alike', async () => {
    expect(hostIdsOf(await gsectl('get', 'hosts', '--hosts', 'role=web,role=db', '-o', 'json'))).toEqual([]);
    expect(hostIdsOf(await gsectl('get', 'hosts', '--hosts', 'role in (web,db)', '-o', 'json'))).toEqual([
      'db-1',
      'web-1',
      'web-2',
    ]);
    expect(hostIdsOf(await gsectl('get', 'hosts', '-l', 'role=web,!zone', '-o', 'json'))).toEqual(['web-2']);

    // The bug this fixes: role=web,role=db ran on the db hosts; now it runs nowhere.
    const none = await ctl.api<{ hosts: string[] }>('/api/v1/exec', {
      method: 'POST',
      body: { hosts: 'role=web,role=db', script: 'true', wait: false },
    });
    expect(none).toEqual({ status: 200, body: expect.objectContaining({ hosts: [] }) });
    const both = await ctl.api<{ hosts: string[] }>('/api/v1/exec', {
      method: 'POST',
      body: { hosts: 'role notin (db)', script: 'echo hi', wait: false },
    });
    expect(both.body.hosts.sort()).toEqual(['web-1', 'web-2']);
    await waitFor('web-2 ran the script', async () =>
      (await listExecutions(ctl, 'web-2')).some(
        (e) => e.status === 'succeeded' && e.stdoutTail.includes('hi'),
      ),
    );
  });

  it('explains bad selector syntax with the term, the column and the fix', async () => {
    const run = await gsectl('get', 'hosts', '--hosts', 'role in (web,db');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      "hosts: unclosed ( in 'role in (web,db' at column 9; close the set: role in (web,db)",
    );
  });

  it('refuses to delete a connected host without --force, saying what --force does', async () => {
    const run = await gsectl('hosts', 'delete', 'web-1');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('host "web-1" is connected; deleting it revokes its agent');
    expect(run.stderr).toContain('gsectl hosts delete web-1 --force');
    expect((await listHosts(ctl)).map((h) => h.hostId)).toContain('web-1');
  });

  it('deletes a disconnected host, keeps its executions, and refuses its agent when it returns', async () => {
    await agent('web-2').stop();
    await waitFor('web-2 disconnected', async () =>
      (await listHosts(ctl)).some((h) => h.hostId === 'web-2' && !h.connected),
    );

    const run = await gsectl('hosts', 'delete', 'web-2');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('host web-2 deleted; its agent is revoked');
    expect((await listHosts(ctl)).map((h) => h.hostId)).toEqual(['db-1', 'web-1']);
    expect(hostIdsOf(await gsectl('get', 'hosts', '-o', 'json'))).toEqual(['db-1', 'web-1']);
    const agentsRun = await gsectl('get', 'agents', '-o', 'json');
    const records = JSON.parse(agentsRun.stdout) as { items: Array<{ agentId: string; status: string }> };
    expect(records.items.find((a) => a.agentId === 'web-2')?.status).toBe('revoked');
    // History stays queryable.
    expect((await listExecutions(ctl, 'web-2')).some((e) => e.stdoutTail.includes('hi'))).toBe(true);
    const { body: status } = await ctl.api<{ hosts: { total: number } }>('/api/v1/status');
    expect(status.hosts.total).toBe(2);

    await agent('web-2').restart();
    const exit = await exitOf('web-2');
    expect(exit.code).not.toBe(0);
    expect(agent('web-2').stderr()).toContain('revoked');
    expect((await listHosts(ctl)).map((h) => h.hostId)).toEqual(['db-1', 'web-1']);
  });

  it('deletes a connected host with --force and cuts its agent off', async () => {
    const run = await gsectl('hosts', 'delete', 'web-1', '--force', '-o', 'json');
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ hostId: 'web-1', revoked: true });
    const exit = await exitOf('web-1');
    expect(exit.code).not.toBe(0);
    expect((await listHosts(ctl)).map((h) => h.hostId)).toEqual(['db-1']);
    const unknown = await gsectl('hosts', 'delete', 'web-1');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no host "web-1"');
  });
});

describe('--host-retention against a live controller', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let agentProcess: AgentProcess | undefined;

  beforeAll(async () => {
    repo = await gitRepo({
      'fleet/motd.yaml': configFileYaml({ name: 'motd', path: '/etc/motd', content: 'managed\n' }),
    });
    // Short on purpose: the sweep runs every resync pass (500 ms in tests).
    ctl = await startController(repo.dir, { path: 'fleet', hostRetentionMs: 1_000 });
    agentProcess = await startAgentProcess({ controllerUrl: ctl.agentUrl, name: 'old-1' });
    await waitSynced(ctl, ['old-1'], await repo.head(), 40_000);
  });
  afterAll(async () => {
    await agentProcess?.cleanup();
    await ctl?.cleanup();
    await repo?.cleanup();
  });

  it('drops a host silent past retention from the views, keeps a connected one, and lists it again when it returns', async () => {
    const a = agentProcess as AgentProcess;
    // Connected for longer than the retention plus a few sweeps: never dropped while connected.
    await waitFor(
      'retention and a few sweeps to pass while connected',
      async () => {
        const row = (await listHosts(ctl)).find((h) => h.hostId === 'old-1') as
          | { firstSeen?: string }
          | undefined;
        return row?.firstSeen !== undefined && Date.now() - Date.parse(row.firstSeen) > 3_000;
      },
      30_000,
    );
    expect((await listHosts(ctl)).map((h) => h.hostId)).toEqual(['old-1']);

    await a.stop();
    await waitFor('old-1 dropped after retention', async () => (await listHosts(ctl)).length === 0);
    const { body: status } = await ctl.api<{ hosts: { total: number } }>('/api/v1/status');
    expect(status.hosts.total).toBe(0);

    // Not revoked: retention only tidies the views.
    await a.restart();
    await waitSynced(ctl, ['old-1'], undefined, 40_000);
  });
});
