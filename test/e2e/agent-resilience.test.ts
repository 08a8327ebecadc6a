/**
 * What survives failures: an agent SIGKILLed mid-apply, a controller that goes away and comes back on the
 * same state dir, and an agent with a wrong bootstrap token. Real git, real controller, real agent processes.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import {
  configFileYaml,
  duplicates,
  listDrift,
  listExecutions,
  pendingSpoolRecords,
  waitApplied,
  waitSynced,
} from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { freePort } from '../helpers/redis-server.js';

const SLOW = '/etc/slow.conf';
const slowFile = (version: string) =>
  configFileYaml({
    name: 'slow',
    path: SLOW,
    content: `slow ${version}\n`,
    onChange: {
      // Slow only for v2, the apply the agent is killed in.
      run: 'echo $$ > $GSE_ROOT/slow.pid; echo start >> $GSE_ROOT/slow.log; grep -q v2 "$GSE_FILE" && sleep 3; echo done >> $GSE_ROOT/slow.log',
      timeout: '10s',
    },
  });

/** Lines of a log under the agent's root ('' when absent). */
async function logLines(a: AgentProcess, name: string): Promise<string[]> {
  const text = await readFile(join(a.root, name), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

describe('agent process resilience', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    // Agents first (they hold connections), then controllers, then repos and dirs.
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });
  afterAll(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  async function setUp(files: Record<string, string>, port?: number, stateDir?: string) {
    const repo: GitRepo = await gitRepo(files);
    cleanups.push(() => repo.cleanup());
    const overrides = { path: 'fleet', ...(port ? { listen: `127.0.0.1:${port}` } : {}) };
    const ctl: RunningController = await startController(repo.dir, overrides, stateDir);
    cleanups.push(() => ctl.cleanup());
    return { repo, ctl, overrides };
  }

  async function agentFor(ctl: RunningController, name: string, token?: string): Promise<AgentProcess> {
    const a = await startAgentProcess({ controllerUrl: ctl.agentUrl, name, ...(token ? { token } : {}) });
    cleanups.push(() => a.cleanup());
    return a;
  }

  it('re-converges and delivers every result once when the agent is SIGKILLed mid-apply', async () => {
    const { repo, ctl } = await setUp({ 'fleet/slow.yaml': slowFile('v1') });
    const first = await repo.head();
    const a = await agentFor(ctl, 'crash-1');
    await waitSynced(ctl, ['crash-1'], first);
    expect(await logLines(a, 'slow.log')).toEqual(['start', 'done']);

    const second = await repo.commit({ 'fleet/slow.yaml': slowFile('v2') }, 'slow v2');
    await ctl.api('/api/v1/hooks/git', { method: 'POST' });
    await waitFor('the v2 onChange running', async () => (await logLines(a, 'slow.log')).length === 3);
    const killed = await a.kill('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    // The onChange leads its own process group, so it outlives the agent: end it rather than leak it.
    const onChangePid = Number(await readFile(join(a.root, 'slow.pid'), 'utf8'));
    try {
      process.kill(-onChangePid, 'SIGKILL');
    } catch {
      // already over
    }
    await waitFor('crash-1 seen disconnected', async () => !ctl.controller.hub.session('crash-1'));

    await a.restart();
    await waitSynced(ctl, ['crash-1'], second);
    expect(await a.read(SLOW)).toBe('slow v2\n');
    await waitFor('the spool drained', async () => (await pendingSpoolRecords(a.stateDir)).length === 0);

    const executions = await listExecutions(ctl, 'crash-1');
    expect(duplicates(executions)).toEqual([]);
    const onChange = executions.filter((e) => e.reason === 'onChange:ConfigFile/slow');
    // v1's run succeeded; v2's run was cut short by the SIGKILL and reported once as killed; the restarted
    // agent still owed v2's onChange (the file was already in place) and ran it again, to success.
    expect(onChange.map((e) => [e.status, e.killed]).sort()).toEqual([
      ['failed', true],
      ['succeeded', false],
      ['succeeded', false],
    ]);
    expect(onChange.find((e) => e.status === 'failed')?.stderrTail).toContain('not run again');
    expect(duplicates(await listDrift(ctl, 'crash-1'))).toEqual([]);
    expect((await logLines(a, 'slow.log')).filter((l) => l === 'start')).toHaveLength(3);
    expect(await logLines(a, 'slow.log')).toContain('done');
  });

  it('loses nothing the agent produced while the controller was down', async () => {
    const port = await freePort();
    const stateDir = await mkdtemp(join(tmpdir(), 'gse-ctl-restart-'));
    cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
    const motd = configFileYaml({ name: 'motd', path: '/etc/motd', content: 'managed\n' });
    const { repo, ctl, overrides } = await setUp({ 'fleet/motd.yaml': motd }, port, stateDir);
    const sha = await repo.head();
    const a = await agentFor(ctl, 'lone-1');
    await waitSynced(ctl, ['lone-1'], sha);

    // Records made before the outage: one execution, one drift.
    const exec = await ctl.api<{ taskId: string }>('/api/v1/exec', {
      body: { hosts: 'name=lone-1', script: 'echo before', wait: false },
    });
    await waitFor('exec recorded', async () =>
      (await listExecutions(ctl, 'lone-1')).some(
        (e) => e.id === exec.body.taskId && e.status === 'succeeded',
      ),
    );
    await writeFile(a.path('/etc/motd'), 'edit 1\n');
    await waitFor('first drift recorded', async () => (await listDrift(ctl, 'lone-1')).length === 1);
    const before = {
      executions: (await listExecutions(ctl)).map((e) => `${e.id}@${e.hostId}:${e.status}`).sort(),
      drift: (await listDrift(ctl)).map((d) => d.id).sort(),
    };

    await ctl.stop();
    await writeFile(a.path('/etc/motd'), 'edit while the controller is down\n');
    // The agent heals locally and keeps the report in its spool until a controller acks it.
    await waitFor('healed on disk', async () => (await a.read('/etc/motd')) === 'managed\n');
    await waitFor('the drift report spooled', async () =>
      (await pendingSpoolRecords(a.stateDir)).some((r) => r.type === 'report'),
    );

    const ctl2 = await startController(repo.dir, overrides, stateDir);
    cleanups.push(() => ctl2.cleanup());
    expect(ctl2.agentUrl).toBe(ctl.agentUrl);
    await waitApplied(ctl2, sha);
    const drift = await waitFor('the drift made during the outage', async () => {
      const rows = await listDrift(ctl2, 'lone-1');
      return rows.length === 2 ? rows : undefined;
    });
    expect(drift.every((d) => d.kind === 'corrective' && d.healed && d.key === 'ConfigFile/motd')).toBe(true);
    await waitSynced(ctl2, ['lone-1'], sha);
    await waitFor('the spool drained', async () => (await pendingSpoolRecords(a.stateDir)).length === 0);

    const after = {
      executions: (await listExecutions(ctl2)).map((e) => `${e.id}@${e.hostId}:${e.status}`).sort(),
      drift: (await listDrift(ctl2)).map((d) => d.id),
    };
    expect(after.executions).toEqual(expect.arrayContaining(before.executions));
    expect(after.drift).toEqual(expect.arrayContaining(before.drift));
    expect(duplicates(await listExecutions(ctl2))).toEqual([]);
  });

  it('exits 1 with the reason and gets no session when its bootstrap token is wrong', async () => {
    const motd = configFileYaml({ name: 'motd', path: '/etc/motd', content: 'managed\n' });
    const { ctl } = await setUp({ 'fleet/motd.yaml': motd });
    const a = await agentFor(ctl, 'intruder', 'not-the-bootstrap-token-0000');
    const exit = await a.exited();
    expect(exit).toEqual({ code: 1, signal: null });
    expect(a.stderr()).toContain('bad_token');
    expect(a.stderr()).toContain('bootstrap token rejected');
    const agents = await ctl.api<{ items: Array<{ agentId: string }> }>('/api/v1/agents');
    expect(agents.status).toBe(200);
    expect(agents.body.items.map((x) => x.agentId)).not.toContain('intruder');
    expect(ctl.controller.hub.session('intruder')).toBeUndefined();
    expect(ctl.controller.hub.sessions()).toEqual([]);
  });
});
