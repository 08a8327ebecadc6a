/**
 * GSE's task calls and process operations replayed against a real controller and a real agent (GSE.md §7):
 * bk-job's loop (async_execute_script, then get_execute_script_result polled with a growing byte offset
 * until the agent's status is final, then output and exit code), terminate of a long script, a file transfer
 * landing on disk with its owner and mode, and bk-nodeman's operate_proc_multi stop then start of a real
 * watched process, polled with get_proc_operate_result_v2, the stop surviving a reconcile.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { listExecutions, pidsRunning, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const HOST = 'job-1';
const HOST_IP = '10.77.0.11';
/** A sleep duration no other process uses, so the watch's cmdline matches only this test's sleeps. */
const DURATION = `${4000 + Math.floor(Math.random() * 1000)}.${process.pid}${Math.floor(Math.random() * 1e6)}`;
const CMDLINE = `^sleep ${DURATION.replace('.', '\\.')}$`;
const POLL_DEADLINE_MS = 30_000;

interface Envelope<T> {
  result: boolean;
  code: number;
  message: string;
  data: T;
}

interface ScriptResult {
  bk_agent_id: string;
  atomic_task_id: number;
  status: number;
  error_code: number;
  script_exit_code: number;
  start_time: number;
  end_time: number;
  screen: string;
}

/** The pids of this test's sleeps. */
const sleepPids = () => pidsRunning(['sleep', DURATION]);

function watchYaml(): string {
  const spec = {
    process: { cmdline: CMDLINE },
    hosts: { names: ['*'] },
    ensure: 'running',
    start: `exec sleep ${DURATION}`,
    probeInterval: '250ms',
  };
  return `apiVersion: gse/v1\nkind: ProcessWatch\nmetadata: {"name": "svc"}\nspec: ${JSON.stringify(spec)}\n`;
}

describe('GSE task calls and process operations', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let agent: AgentProcess;
  let artifacts: string;

  const call = async <T>(action: string, body: unknown): Promise<Envelope<T>> => {
    const res = await ctl.api<Envelope<T>>(`/api/v1/gse/${action}`, { body });
    expect(res.status).toBe(200);
    return res.body;
  };

  /** bk-job's loop (§7.4): poll with the bytes read so far as offset until the status is final. */
  async function pollScript(
    taskId: string,
    agentId: string,
  ): Promise<{ last: ScriptResult; screen: string }> {
    let offset = 0;
    let screen = '';
    const last = await waitFor(
      `script task ${taskId} finished on ${agentId}`,
      async () => {
        const res = await call<{ result: ScriptResult[] }>('get_execute_script_result', {
          task_id: taskId,
          agent_tasks: [
            { bk_agent_id: agentId, bk_container_id: '', atomic_tasks: [{ atomic_task_id: 0, offset }] },
          ],
        });
        expect(res.result).toBe(true);
        const entry = res.data.result[0] as ScriptResult;
        screen += entry.screen;
        offset += Buffer.byteLength(entry.screen, 'utf8');
        return entry.status > 1 ? entry : undefined;
      },
      POLL_DEADLINE_MS,
    );
    return { last, screen };
  }

  beforeAll(async () => {
    artifacts = await mkdtemp(join(tmpdir(), 'gse-job-artifacts-'));
    repo = await gitRepo({ 'fleet/watch.yaml': watchYaml() });
    ctl = await startController(repo.dir, { path: 'fleet', artifactDir: artifacts });
    agent = await startAgentProcess({ controllerUrl: ctl.agentUrl, name: HOST, ip: HOST_IP });
    await waitSynced(ctl, [HOST], await repo.head());
  });
  afterAll(async () => {
    for (const pid of await sleepPids().catch(() => [])) process.kill(pid, 'SIGKILL');
    await agent?.cleanup();
    await ctl?.cleanup();
    await repo?.cleanup();
    if (artifacts) await rm(artifacts, { recursive: true, force: true });
  });

  it("runs bk-job's script loop to the end: output by offset, exit code, status", async () => {
    const submitted = await call<{ result: { task_id: string } }>('async_execute_script', {
      agents: [{ bk_agent_id: HOST, bk_container_id: '', user: 'root', pwd: '' }],
      scripts: [
        {
          script_name: 'bk_gse_script_1.sh',
          script_store_dir: '/tmp/bkjob',
          script_content: 'echo "hello $1"\necho "中文 $(whoami)"\nexit 3\n',
        },
      ],
      atomic_tasks: [
        { atomic_task_id: 0, command: '/tmp/bkjob/bk_gse_script_1.sh world', timeout_seconds: 60 },
      ],
      atomic_tasks_relations: [],
      atomicTaskNum: 0,
    });
    expect(submitted.result).toBe(true);
    const taskId = submitted.data.result.task_id;
    expect(taskId).toMatch(/^GSETASK:S:/);

    const { last, screen } = await pollScript(taskId, HOST);
    expect(screen).toBe('hello world\n中文 root\n');
    expect(last).toMatchObject({
      bk_agent_id: HOST,
      atomic_task_id: 0,
      status: 5,
      error_code: 0,
      script_exit_code: 3,
    });
    expect(last.end_time).toBeGreaterThanOrEqual(last.start_time);

    // The same task named by "cloud:ip" succeeds with status 2 when the script exits 0.
    const ok = await call<{ result: { task_id: string } }>('async_execute_script', {
      agents: [{ bk_agent_id: `0:${HOST_IP}`, bk_container_id: '', user: 'root' }],
      scripts: [
        { script_name: 'bk_gse_script_2.sh', script_store_dir: '/tmp/bkjob/', script_content: 'echo done' },
      ],
      atomic_tasks: [{ atomic_task_id: 0, command: '/tmp/bkjob/bk_gse_script_2.sh' }],
    });
    const done = await pollScript(ok.data.result.task_id, `0:${HOST_IP}`);
    expect(done.last).toMatchObject({ status: 2, error_code: 0, script_exit_code: 0 });
    expect(done.screen).toBe('done\n');

    // Each atomic task is recorded like any execution.
    const rows = await listExecutions(ctl, HOST);
    expect(rows.find((r) => r.id === `${taskId}/0`)).toMatchObject({ status: 'failed', exitCode: 3 });
  });

  it('answers an unknown task id and a malformed request with GSE errors', async () => {
    const unknown = await call('get_execute_script_result', { task_id: 'GSETASK:S:nope' });
    expect(unknown).toMatchObject({ result: false, data: null });
    expect(unknown.code).not.toBe(0);
    expect(unknown.message).toContain('GSETASK:S:nope');
    const bad = await call('async_execute_script', {
      agents: [{ bk_agent_id: HOST }],
      atomic_tasks: [{ atomic_task_id: 0 }],
    });
    expect(bad).toMatchObject({ result: false, data: null });
    expect(bad.message).toContain('atomic_tasks[0].command');
  });

  it('terminates a long script: the agent kills it and the result says 126', async () => {
    const submitted = await call<{ result: { task_id: string } }>('async_execute_script', {
      agents: [{ bk_agent_id: HOST, user: 'root' }],
      scripts: [
        {
          script_name: 'bk_gse_script_long.sh',
          script_store_dir: '/tmp/bkjob',
          script_content: 'echo started\nsleep 300\n',
        },
      ],
      atomic_tasks: [
        { atomic_task_id: 0, command: '/tmp/bkjob/bk_gse_script_long.sh', timeout_seconds: 600 },
      ],
    });
    const taskId = submitted.data.result.task_id;
    const running = await call<{ result: ScriptResult[] }>('get_execute_script_result', { task_id: taskId });
    expect(running.data.result[0]).toMatchObject({ status: 1, error_code: 115 });

    const term = await call<{ result: { task_id: string } }>('async_terminate_execute_script', {
      task_id: taskId,
      agents: [{ bk_agent_id: HOST, bk_container_id: '' }],
    });
    expect(term).toMatchObject({ result: true, data: { result: { task_id: taskId } } });
    const { last } = await pollScript(taskId, HOST);
    expect(last).toMatchObject({ status: 4, error_code: 126 });
  });

  it('transfers a file from the controller onto the host, with owner and mode, recorded as an execution', async () => {
    await mkdir(join(artifacts, 'pkg'), { recursive: true });
    await writeFile(join(artifacts, 'pkg', 'app.conf'), 'listen 8080\n');
    const submitted = await call<{ result: { task_id: string } }>('async_transfer_file', {
      tasks: [
        {
          source: {
            file_name: 'app.conf',
            store_dir: '/pkg',
            agent: { bk_agent_id: 'job-file-worker', bk_container_id: '' },
          },
          target: {
            file_name: '',
            store_dir: '/opt/app/conf',
            owner: 'root',
            permission: '640',
            agents: [{ bk_agent_id: HOST, bk_container_id: '', user: 'root' }],
          },
        },
      ],
      timeout_seconds: 60,
      auto_mkdir: true,
      upload_speed: 0,
      download_speed: 0,
    });
    expect(submitted.result).toBe(true);
    const taskId = submitted.data.result.task_id;
    interface FileEntry {
      error_code: number;
      content: {
        mode: number;
        dest_agent_id: string;
        dest_file_dir: string;
        dest_file_name: string;
        size: number;
        progress: number;
      };
    }
    const download = await waitFor(
      'the transfer finished',
      async () => {
        const res = await call<{ result: FileEntry[] }>('get_transfer_file_result', {
          task_id: taskId,
          agents: [{ bk_agent_id: HOST, bk_container_id: '' }],
        });
        const entry = res.data.result.find((e) => e.content.mode === 1);
        return entry && entry.error_code !== 115 ? entry : undefined;
      },
      POLL_DEADLINE_MS,
    );
    expect(download).toMatchObject({
      error_code: 0,
      content: {
        dest_agent_id: HOST,
        dest_file_dir: '/opt/app/conf',
        dest_file_name: 'app.conf',
        size: 12,
        progress: 100,
      },
    });
    expect(await agent.read('/opt/app/conf/app.conf')).toBe('listen 8080\n');
    const st = await stat(agent.path('/opt/app/conf/app.conf'));
    expect(st.mode & 0o7777).toBe(0o640);
    expect(st.uid).toBe(0);
    const rows = await listExecutions(ctl, HOST);
    expect(rows.find((r) => r.id === `${taskId}/0`)).toMatchObject({
      reason: 'transfer',
      status: 'succeeded',
    });

    // A source outside the artifact dir is refused with the path named.
    const outside = await call('async_transfer_file', {
      tasks: [
        {
          source: { file_name: 'passwd', store_dir: '/../../../../etc', agent: { bk_agent_id: 'x' } },
          target: { store_dir: '/tmp', agents: [{ bk_agent_id: HOST }] },
        },
      ],
    });
    expect(outside).toMatchObject({ result: false, data: null });
    expect(outside.message).toContain('passwd');
  });

  it('stops a watched process with operate_proc_multi, keeps it stopped through a reconcile, then starts it', async () => {
    await waitFor(
      'the watched sleep running',
      async () => (await sleepPids()).length === 1,
      POLL_DEADLINE_MS,
    );
    const key = `${HOST}:nodeman:svc`;
    const operate = (opType: number) =>
      call<{ task_id: string }>('operate_proc_multi', {
        proc_operate_req: [
          {
            meta: { namespace: 'nodeman', name: 'svc', labels: { proc_name: 'svc' } },
            op_type: opType,
            agent_id_list: [HOST],
            spec: { identity: { proc_name: 'svc' }, control: {}, alive_monitor_policy: { auto_type: 1 } },
            nodeman_spec: { process_status_id: 1, subscription_instance_id: 1 },
          },
        ],
      });
    /** nodeman's poll: 1000115 while queued, then the per-instance map. */
    const pollOp = (taskId: string) =>
      waitFor(
        `operation ${taskId} finished`,
        async () => {
          const res = await call<Record<string, { error_code: number; error_msg: string; content: string }>>(
            'get_proc_operate_result_v2',
            { task_id: taskId },
          );
          if (res.code === 1000115) return undefined;
          expect(res.result).toBe(true);
          const entry = res.data[key];
          return entry && entry.error_code !== 115 ? entry : undefined;
        },
        POLL_DEADLINE_MS,
      );

    const stop = await operate(1);
    expect(stop.result).toBe(true);
    expect(stop.data.task_id).toMatch(/^GSETASK:P:/);
    expect(await pollOp(stop.data.task_id)).toMatchObject({ error_code: 0 });
    expect(await sleepPids()).toEqual([]);

    // The stop is desired state now: a full re-sync leaves the watch observed and the process down.
    const watch = () =>
      ctl.controller.reconciler
        .desiredFor(HOST)
        ?.items.find((i) => i.kind === 'ProcessWatch' && i.name === 'svc');
    expect(watch()).toMatchObject({ ensure: 'observed' });
    const sync = await ctl.api<{ hosts: string[] }>('/api/v1/sync', { body: { host: HOST } });
    expect(sync.body.hosts).toEqual([HOST]);
    await waitSynced(ctl, [HOST]);
    const hash = ctl.controller.reconciler.desiredFor(HOST)?.hash;
    await waitFor('the agent to report the held manifest', async () => {
      const host = await ctl.api<{ manifestHash?: string; reportedHash?: string }>(`/api/v1/hosts/${HOST}`);
      return JSON.stringify(host.body).includes(hash as string);
    });
    expect(await sleepPids()).toEqual([]);

    const start = await operate(0);
    expect(await pollOp(start.data.task_id)).toMatchObject({ error_code: 0 });
    expect((await sleepPids()).length).toBe(1);
    // The start released the stop's hold: Git's ensure holds again.
    expect(watch()).toMatchObject({ ensure: 'running' });
    const rows = await listExecutions(ctl, HOST);
    expect(rows.filter((r) => r.reason === 'procOp:ProcessWatch/svc').map((r) => r.status)).toEqual([
      'succeeded',
      'succeeded',
    ]);
  });
});
