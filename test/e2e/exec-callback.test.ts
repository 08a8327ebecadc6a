/**
 * Signed result callbacks with real parts: a real controller (its Git repo declaring a Notification), two
 * real agents, the built gsectl, and a real HTTP receiver on 127.0.0.1 that verifies every signature.
 * `gsectl exec --callback` posts ONE task result with both hosts; Notifications post each execution;
 * hand-edit drift and a rejected revision are notified; a callback queued while the receiver is down survives a controller restart and is delivered after it;
 * a controller without a callback secret refuses --callback with a clear error.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '../../src/notify/sign.js';
import { type AgentProcess, GSECTL_MAIN, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, TEST_ADMIN_TOKEN, waitFor } from '../helpers/controller.js';
import { configFileYaml, waitApplied, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { freePort } from '../helpers/redis-server.js';

const HOSTS = ['cb-1', 'cb-2'];
const NOTIFY_ENV = 'GSE_TEST_NOTIFY_SECRET';
const NOTIFY_SECRET = 'notify-secret-0123456789abcdef';
const CALLBACK_ENV = 'GSE_TEST_CALLBACK_SECRET';
const CALLBACK_SECRET = 'callback-secret-0123456789abcdef';
const GSECTL_TIMEOUT_MS = 40_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function notificationYaml(url: string): string {
  return [
    'apiVersion: gse/v1',
    'kind: Notification',
    'metadata: { name: executions }',
    'spec:',
    '  on: [execution.finished, drift.detected, drift.healed, revision.rejected]',
    '  hosts: { names: ["cb-*"] }',
    `  url: ${url}`,
    `  secretFrom: { env: ${NOTIFY_ENV} }`,
    '',
  ].join('\n');
}

describe('exec --callback and Notifications', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let stateDir: string;
  let receiver: Receiver;
  const agents: AgentProcess[] = [];
  const cleanups: Array<() => Promise<void>> = [];

  function gsectl(c: RunningController, ...args: string[]): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [GSECTL_MAIN, ...args], {
        env: { ...process.env, GSE_SERVER: c.url, GSE_TOKEN: TEST_ADMIN_TOKEN, GSE_CA: c.caFile },
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

  const options = () => ({
    path: 'fleet',
    secretEnv: [NOTIFY_ENV],
    callbackSecretEnv: CALLBACK_ENV,
    env: { [CALLBACK_ENV]: CALLBACK_SECRET },
  });

  /** Task results the receiver accepted (one per delivery id). */
  const taskResults = () => receiver.unique().filter((d) => d.body.type === 'task.finished');

  beforeAll(async () => {
    // Notification secrets resolve from the controller's process environment (allowed by --secret-env).
    process.env[NOTIFY_ENV] = NOTIFY_SECRET;
    receiver = await startReceiver([NOTIFY_SECRET, CALLBACK_SECRET], await freePort());
    repo = await gitRepo({
      'fleet/motd.yaml': configFileYaml({ name: 'motd', path: '/etc/motd', content: 'managed\n' }),
      'fleet/notify.yaml': notificationYaml(receiver.url),
    });
    stateDir = await mkdtemp(join(tmpdir(), 'gse-cb-'));
    ctl = await startController(repo.dir, options(), stateDir);
    for (const name of HOSTS) agents.push(await startAgentProcess({ controllerUrl: ctl.agentUrl, name }));
    await waitSynced(ctl, HOSTS, await repo.head());
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.cleanup()));
    await ctl?.cleanup();
    for (const c of cleanups) await c();
    await receiver?.close();
    await repo?.cleanup();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    delete process.env[NOTIFY_ENV];
  });

  it('posts one signed task result with every host, and a signed execution.finished per host', async () => {
    const run = await gsectl(
      ctl,
      'exec',
      '--hosts',
      'cb-*',
      '--callback',
      receiver.url,
      '--',
      'echo',
      'hello',
    );
    expect(run.code, run.stderr).toBe(0);
    const taskId = /task (\S+):/.exec(run.stdout)?.[1];
    expect(taskId).toBeDefined();
    const executions = () =>
      receiver
        .unique()
        .filter(
          (d) =>
            d.body.type === 'execution.finished' &&
            (d.body.execution as { taskId: string }).taskId === taskId,
        );
    await waitFor(
      'the task result and both executions',
      () => taskResults().length >= 1 && executions().length === 2,
    );

    const [result, ...more] = taskResults();
    expect(more).toEqual([]);
    expect(result?.headers['x-gse-signature']).toBe(signBody(result?.raw ?? '', CALLBACK_SECRET));
    expect(result?.body).toMatchObject({
      type: 'task.finished',
      taskId,
      task_id: taskId,
      summary: { succeeded: 2 },
    });
    const hosts = result?.body.hosts as Array<Record<string, unknown>>;
    expect(hosts.map((h) => h.host)).toEqual(HOSTS);
    for (const h of hosts) {
      expect(h).toMatchObject({
        status: 'succeeded',
        exitCode: 0,
        stdout: 'hello\n',
        stderr: '',
        script_exit_code: 0,
      });
      expect(h.bk_agent_id).toBe(h.host);
    }
    for (const e of executions()) {
      expect(e.headers['x-gse-signature']).toBe(signBody(e.raw, NOTIFY_SECRET));
      expect(e.body).toMatchObject({
        notification: 'executions',
        execution: { status: 'succeeded', exitCode: 0 },
      });
    }
    expect(
      executions()
        .map((e) => e.body.host)
        .sort(),
    ).toEqual(HOSTS);
    expect(receiver.rejected).toBe(0);
  });

  it('notifies drift detected and healed on the host where a file was edited by hand', async () => {
    const cb1 = agents[0] as AgentProcess;
    await writeFile(cb1.path('/etc/motd'), 'edited by hand\n');
    const drift = (type: string) =>
      receiver
        .unique()
        .find((d) => d.body.type === type && d.body.host === 'cb-1' && d.body.resource === 'ConfigFile/motd');
    await waitFor(
      'drift.detected and drift.healed for cb-1',
      () => drift('drift.detected') && drift('drift.healed'),
    );
    expect(drift('drift.detected')?.body).toMatchObject({
      notification: 'executions',
      revision: await repo.head(),
    });
    expect(
      receiver.unique().some((d) => String(d.body.type).startsWith('drift.') && d.body.host === 'cb-2'),
    ).toBe(false);
  });

  it('notifies a rejected revision with its errors, file and line included', async () => {
    const bad = await repo.commit({
      'fleet/bad.yaml': 'apiVersion: gse/v1\nkind: Nope\nmetadata: { name: x }\nspec: {}\n',
    });
    await ctl.api('/api/v1/hooks/git', { method: 'POST', body: {} });
    const rejected = await waitFor('revision.rejected', () =>
      receiver.unique().find((d) => d.body.type === 'revision.rejected' && d.body.revision === bad),
    );
    expect(rejected.body.host).toBeUndefined();
    expect(rejected.body.errorCount).toBeGreaterThan(0);
    expect(JSON.stringify(rejected.body.errors)).toContain('bad.yaml');
    const good = await repo.commit({ 'fleet/bad.yaml': null });
    await ctl.api('/api/v1/hooks/git', { method: 'POST', body: {} });
    await waitApplied(ctl, good);
  });

  it('refuses a callback URL that is not http(s)', async () => {
    const res = await ctl.api<{ error: { message: string } }>('/api/v1/exec', {
      body: { hosts: 'cb-*', script: 'true', callback: 'ftp://example.com/x' },
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('callback');
  });

  it('refuses --callback on a controller without a callback secret, naming the flag', async () => {
    const bare = await startController(repo.dir, { path: 'fleet', secretEnv: [NOTIFY_ENV] });
    cleanups.push(() => bare.cleanup());
    const run = await gsectl(bare, 'exec', '--hosts', 'cb-*', '--callback', receiver.url, '--', 'true');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('--callback-secret-env');
  });

  it('delivers a task result queued while the receiver was down after a controller restart', async () => {
    await receiver.close();
    const before = taskResults().length;
    const res = await ctl.api<string>('/api/v1/exec', {
      body: { hosts: 'cb-*', script: 'echo again', callback: receiver.url, wait: false },
    });
    expect(res.status).toBe(200);
    const { taskId } = res.body as unknown as { taskId: string };
    const queueDir = join(stateDir, 'notify', 'queue');
    // Two execution.finished notifications and the one task result wait on disk.
    await waitFor(
      'three queued deliveries',
      async () => (await readdir(queueDir)).filter((f) => f.endsWith('.json')).length === 3,
    );
    await ctl.stop();

    await receiver.reopen();
    const restarted = await startController(repo.dir, options(), stateDir);
    cleanups.push(() => restarted.stop());
    await waitFor(
      'the queued task result',
      () => taskResults().some((d) => d.body.taskId === taskId),
      30_000,
    );
    expect(taskResults().length).toBe(before + 1);
    const result = taskResults().find((d) => d.body.taskId === taskId);
    const hosts = (result?.body.hosts ?? []) as Array<{ host: string; stdout: string }>;
    expect(hosts.map((h) => [h.host, h.stdout])).toEqual(HOSTS.map((h) => [h, 'again\n']));
    await waitFor('the queue to empty', async () => (await readdir(queueDir)).length === 0, 30_000);
  });
});
