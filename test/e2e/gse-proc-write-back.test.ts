/**
 * bk-nodeman's process delegation with GSE write-back on: a real controller following a real bare Git repo,
 * a real agent, a real watched process. `operate_proc_multi` delegate (op_type 3) and undelegate (4), sent
 * through the gateway path as bk-nodeman sends them, each land as one commit of `gse/process/<watch>.yaml`
 * authored by the caller, are applied before the call answers, and hold through a re-sync (the agent starts
 * the process once delegated); an operation on a watch Git does not declare fails per entry and pushes
 * nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { httpCall, type RunningController, startController, waitFor } from '../helpers/controller.js';
import { pidsRunning, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const run = promisify(execFile);
const HOST = 'proc-wb-1';
/** A sleep duration no other process uses, so the watch's cmdline matches only this test's sleeps. */
const DURATION = `${5000 + Math.floor(Math.random() * 1000)}.${process.pid}${Math.floor(Math.random() * 1e6)}`;
const CMDLINE = `^sleep ${DURATION.replace('.', '\\.')}$`;
const DEADLINE_MS = 30_000;

interface Envelope<T> {
  result: boolean;
  code: number;
  message: string;
  data: T;
}

function watchYaml(): string {
  const spec = {
    process: { cmdline: CMDLINE },
    hosts: { names: ['*'] },
    ensure: 'observed',
    start: `exec sleep ${DURATION}`,
    probeInterval: '250ms',
  };
  return `apiVersion: gse/v1\nkind: ProcessWatch\nmetadata: {"name": "svc"}\nspec: ${JSON.stringify(spec)}\n`;
}

/** The pids of this test's sleeps. */
const sleepPids = () => pidsRunning(['sleep', DURATION]);

async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd: dir });
  return stdout.trim();
}

describe('GSE process delegation as Git commits', () => {
  let repo: GitRepo;
  let bare: string;
  let ctl: RunningController;
  let agent: AgentProcess;
  let secret: string;

  /** A call as bk-nodeman sends it through the gateway, as user `bob`. */
  async function gse<T>(action: string, body: unknown): Promise<Envelope<T>> {
    const res = await httpCall(`${ctl.url}/api/v2/proc/${action}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-bkapi-authorization': JSON.stringify({
          bk_app_code: 'bk_nodeman',
          bk_app_secret: secret,
          bk_username: 'bob',
        }),
      },
      body: JSON.stringify(body),
      ...(ctl.ca ? { ca: ctl.ca } : {}),
    });
    expect(res.status).toBe(200);
    return JSON.parse(res.text) as Envelope<T>;
  }

  const operate = (opType: number, name = 'svc') =>
    gse<{ task_id: string }>('operate_proc_multi', {
      proc_operate_req: [
        {
          meta: { namespace: 'nodeman', name, labels: { proc_name: name } },
          op_type: opType,
          agent_id_list: [HOST],
          spec: { identity: { proc_name: name }, control: {}, alive_monitor_policy: { auto_type: 1 } },
        },
      ],
    });

  const result = (taskId: string, name = 'svc') =>
    waitFor(
      `operation ${taskId}`,
      async () => {
        const res = await gse<Record<string, { error_code: number; error_msg: string }>>(
          'get_proc_operate_result_v2',
          { task_id: taskId },
        );
        if (res.code === 1000115) return undefined;
        const entry = res.data[`${HOST}:nodeman:${name}`];
        return entry && entry.error_code !== 115 ? entry : undefined;
      },
      DEADLINE_MS,
    );

  const ensureOfSvc = () => {
    const item = ctl.controller.reconciler.desiredFor(HOST)?.items.find((i) => i.name === 'svc');
    return item?.kind === 'ProcessWatch' ? item.ensure : undefined;
  };
  const head = () => git(bare, 'rev-parse', 'refs/heads/main');

  beforeAll(async () => {
    repo = await gitRepo({ 'watch.yaml': watchYaml() });
    const parent = await mkdtemp(join(tmpdir(), 'gse-proc-bare-'));
    bare = join(parent, 'fleet.git');
    await run('git', ['clone', '-q', '--bare', repo.dir, bare]);
    ctl = await startController(bare, { gseWriteBack: true });
    const made = await ctl.api<{ token: string }>('/api/v1/tokens', {
      body: { name: 'bk-nodeman', role: 'operator', appCode: 'bk_nodeman' },
    });
    secret = made.body.token;
    agent = await startAgentProcess({ controllerUrl: ctl.agentUrl, name: HOST });
    await waitSynced(ctl, [HOST]);
  });
  afterAll(async () => {
    for (const pid of await sleepPids().catch(() => [])) process.kill(pid, 'SIGKILL');
    await agent?.cleanup();
    await ctl?.cleanup();
    await repo?.cleanup();
    if (bare) await rm(join(bare, '..'), { recursive: true, force: true });
  });

  it('commits a delegate as the caller, keeps the process running through a re-sync, and an undelegate too', async () => {
    expect(ensureOfSvc()).toBe('observed');
    expect(await sleepPids()).toEqual([]);

    const delegated = await operate(3);
    expect(delegated).toMatchObject({ result: true, code: 0 });
    expect(await result(delegated.data.task_id)).toMatchObject({ error_code: 0 });
    // Answered only once applied: the commit is in Git and the plan holds it.
    expect(await git(bare, 'log', '-1', '--format=%an <%ae>|%s')).toBe(
      `bob <bob@bk>|gse: operate_proc delegate svc on ${HOST}`,
    );
    const file = await git(bare, 'show', 'main:gse/process/svc.yaml');
    expect(file).toContain('kind: ProcessOverride');
    expect(file).toContain(`${HOST}:\n      ensure: running\n      op: delegate`);
    expect(ensureOfSvc()).toBe('running');
    await waitFor(
      'the agent to start the delegated process',
      async () => (await sleepPids()).length === 1,
      DEADLINE_MS,
    );

    // A full re-sync plans from Git, which holds the delegation: the process stays up.
    const sync = await ctl.api<{ hosts: string[] }>('/api/v1/sync', { body: { host: HOST } });
    expect(sync.body.hosts).toEqual([HOST]);
    await waitSynced(ctl, [HOST]);
    expect(ensureOfSvc()).toBe('running');
    expect((await sleepPids()).length).toBe(1);

    const undelegated = await operate(4);
    expect(await result(undelegated.data.task_id)).toMatchObject({ error_code: 0 });
    expect(await git(bare, 'log', '-1', '--format=%an|%s')).toBe(
      `bob|gse: operate_proc undelegate svc on ${HOST}`,
    );
    expect(await git(bare, 'show', 'main:gse/process/svc.yaml')).toContain('ensure: observed');
    expect(ensureOfSvc()).toBe('observed');
  });

  it('fails an operation on a watch Git does not declare, per entry, and pushes nothing', async () => {
    const before = await head();
    const res = await operate(3, 'nope');
    expect(res.result).toBe(true);
    expect(await result(res.data.task_id, 'nope')).toMatchObject({ error_code: 65535 });
    expect(await head()).toBe(before);
  });
});
