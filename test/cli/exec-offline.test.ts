/**
 * `gsectl exec` with one host online and one known to the registry but offline: the built CLI, run as a
 * child process against a real controller with two real agents, one of them stopped.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, GSECTL_MAIN, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, TEST_ADMIN_TOKEN, waitFor } from '../helpers/controller.js';
import { configFileYaml, listHosts, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const ONLINE = 'exec-on';
const OFFLINE = 'exec-off';
/** A gsectl run is bounded: a hung CLI fails the test instead of holding it. */
const GSECTL_TIMEOUT_MS = 40_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('gsectl exec with an offline host', () => {
  let repo: GitRepo;
  let ctl: RunningController;
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

  beforeAll(async () => {
    repo = await gitRepo({
      'fleet/motd.yaml': configFileYaml({ name: 'motd', path: '/etc/motd', content: 'managed\n' }),
    });
    ctl = await startController(repo.dir, { path: 'fleet' });
    for (const name of [ONLINE, OFFLINE])
      agents.push(await startAgentProcess({ controllerUrl: ctl.agentUrl, name }));
    await waitSynced(ctl, [ONLINE, OFFLINE], await repo.head());
    await agents[1]?.stop();
    await waitFor('the stopped host to show as not connected', async () =>
      (await listHosts(ctl)).some((h) => h.hostId === OFFLINE && !h.connected),
    );
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.cleanup()));
    await ctl?.cleanup();
    await repo?.cleanup();
  });

  it('runs on the online host, names the offline one "offline (not run)" and exits 1', async () => {
    const run = await gsectl('exec', '--hosts', 'exec-*', '--', 'echo', 'hi');
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`^--- ${OFFLINE} {2}offline \\(not run\\)$`, 'm'));
    expect(run.stdout).toMatch(new RegExp(`^--- ${ONLINE} {2}succeeded {2}exit=0`, 'm'));
    expect(run.stdout.match(/^hi$/gm)).toHaveLength(1);
    expect(run.stdout).toContain(`offline (not run): ${OFFLINE}`);
  });

  it('lists the offline host in the JSON lines too, and exits 0 when only online hosts are picked', async () => {
    const run = await gsectl('exec', '--hosts', 'exec-*', '-o', 'json', '--', 'true');
    expect(run.code, run.stderr).toBe(1);
    const lines = JSON.parse(run.stdout) as Array<Record<string, unknown>>;
    expect(lines.filter((l) => l.type === 'offline')).toEqual([
      { type: 'offline', taskId: lines[0]?.taskId, hostId: OFFLINE, status: 'offline' },
    ]);
    expect(lines.at(-1)).toMatchObject({ type: 'summary', hosts: 1, succeeded: 1, offline: [OFFLINE] });

    const online = await gsectl('exec', '--hosts', ONLINE, '--', 'true');
    expect(online.code, online.stdout + online.stderr).toBe(0);
    expect(online.stdout).not.toContain('offline');
  });
});
